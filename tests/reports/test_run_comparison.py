"""The runs table, the seed summary and the curves of several fake runs, written to files."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dfd.reports.run_comparison import missing_metrics, resolve_metrics, runs_frame, write_comparison
from dfd.reports.run_dirs import load_runs
from tests.fake_runs import curves, make_run, make_sweep

METRICS = ["val/auc_best", "test/auc", "test/eer"]


@pytest.fixture
def runs(tmp_path: Path):
    """Seeds 1-3 at test AUC 0.80/0.84/0.88 and a failed seed 4; seeds 1-2 with model=xception; a lone
    run logged to CSV."""
    make_sweep(tmp_path / "multiruns" / "a", [0.80, 0.84, 0.88], failed=True)
    make_sweep(tmp_path / "multiruns" / "b", [0.90, 0.91], extra=["model=xception"])
    make_run(tmp_path / "runs" / "c", ["model=xception", "loss=focal", "trainer.max_epochs=3"],
             {"test/auc": 0.93}, curves(0.95), logger="csv")  # fmt: skip
    return load_runs(["multiruns/*", "runs/c"], base=tmp_path)


def test_the_runs_table_shows_the_overrides_that_differ_and_every_run(runs) -> None:
    frame = runs_frame(runs, METRICS)
    assert list(frame.columns) == ["run", "status", "seed", "model", "loss", *METRICS, "note", "path"]
    assert list(frame["run"]) == ["multiruns/a/0", "multiruns/a/1", "multiruns/a/2", "multiruns/a/3",
                                  "multiruns/b/0", "multiruns/b/1", "runs/c"]  # fmt: skip
    failed = frame.iloc[3]
    assert (failed["status"], failed["seed"], failed["note"]) == (
        "failed",
        "4",
        "RuntimeError: CUDA out of memory",
    )
    assert np.isnan(failed["test/auc"])
    assert failed["val/auc_best"] == pytest.approx(0.6)  # from its curve: what it reached before failing
    assert list(frame["model"]) == ["", "", "", "", "xception", "xception", "xception"]
    assert frame.iloc[6]["test/auc"] == 0.93 and np.isnan(frame.iloc[6]["test/eer"])


def test_metrics_all_and_the_metrics_no_run_has(runs) -> None:
    every = resolve_metrics("all", runs)
    assert every[0] == "val/auc_best" and every[1:] == sorted(every[1:]) and "test/video_auc" in every
    assert resolve_metrics(["test/auc"], runs) == ["test/auc"]
    assert missing_metrics(["test/auc", "test/aucc"], runs) == ["test/aucc"]


def test_the_four_files(runs, tmp_path: Path) -> None:
    out = tmp_path / "summary"
    text, _, _ = write_comparison(runs, METRICS, out)
    with (out / "runs.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 7 and [r["status"] for r in rows].count("failed") == 1
    with (out / "seeds.csv").open() as f:
        seeds = {(r["group"], r["metric"]): r for r in csv.DictReader(f)}
    assert len(seeds) == 2 * len(METRICS)
    auc = seeds[("(common overrides)", "test/auc")]
    assert (auc["n"], auc["excluded"], auc["seeds"]) == ("3", "1", "1,2,3")
    assert float(auc["mean"]) == pytest.approx(0.84) and float(auc["std"]) == pytest.approx(0.04)
    assert float(auc["ci_low"]) == pytest.approx(0.7406345, abs=1e-6)
    assert float(auc["ci_high"]) == pytest.approx(0.9393655, abs=1e-6)
    xception = seeds[("model=xception", "test/auc")]
    assert xception["n"] == "2" and float(xception["mean"]) == pytest.approx(0.905)
    md = (out / "summary.md").read_text()
    assert md.startswith(text) and "![learning curves](curves.png)" in md
    assert (
        "7 runs: 6 done, 1 failed." in text
        and "Overrides shared by every run: `trainer.max_epochs=3`." in text
    )
    assert "| (common overrides) | test/auc | 3 | 0.8400 ± 0.0400 | [0.7406, 0.9394] | 1,2,3 | 1 |" in text
    assert (
        "| multiruns/a/3 | failed | 4 |  |  | 0.6000 | n/a | n/a | RuntimeError: CUDA out of memory |" in text
    )
    png = out / "curves.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000
    img = np.asarray(Image.open(png).convert("L"), dtype=float)
    assert img.shape[1] > 1000 and img.std() > 10


def test_no_seed_group_says_so(tmp_path: Path) -> None:
    make_run(tmp_path / "a", ["lr=0.1"], {"test/auc": 0.8}, curves(0.8))
    make_run(tmp_path / "b", ["lr=0.01"], {"test/auc": 0.7})  # no curves: drawn without it
    text, runs_table, seeds_table = write_comparison(
        load_runs([str(tmp_path)]), ["test/auc"], tmp_path / "out"
    )
    assert seeds_table.empty and list(runs_table["lr"]) == ["0.1", "0.01"]
    assert "No runs differ only in `seed`" in text and (tmp_path / "out" / "seeds.csv").is_file()


def test_a_clip_model_and_a_frame_model_are_side_by_side_with_their_unit(tmp_path: Path) -> None:
    clip_net = {"_target_": "dfd.models.nets.temporal.TemporalHead", "clip_len": "${data.clip_len}"}
    make_run(tmp_path / "frame", ["model=xception"], {"test/auc": 0.81, "test/video_auc": 0.86})
    make_run(
        tmp_path / "clip", ["model=temporal_head"], {"test/auc": 0.84, "test/video_auc": 0.9}, net=clip_net
    )
    runs = load_runs(["frame", "clip"], base=tmp_path)
    assert [r.unit for r in runs] == ["frame", "clip"]
    frame = runs_frame(runs, ["test/auc", "test/video_auc"])
    assert list(frame.columns[:4]) == ["run", "status", "unit", "model"]
    assert frame[["unit", "test/video_auc"]].values.tolist() == [["frame", 0.86], ["clip", 0.9]]
    assert "unit" not in runs_frame(runs[:1], ["test/auc"])  # one unit: no column
