"""``dfd.summarize``: bare arguments and ``runs=[...]``, the four files and the printed tables, on fake runs;
and (slow) the two-command multi-seed recipe with real training."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from dfd.reports.tasks import summarize
from tests.conftest import ROOT, SMALL_NET, cli_overrides, compose_config, run_main, run_module
from tests.fake_runs import curves, make_run, make_sweep

FILES = ("runs.csv", "seeds.csv", "summary.md", "curves.png")


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open() as f:
        return list(csv.DictReader(f))


def test_bare_arguments_a_multirun_and_a_quoted_glob(tmp_path: Path) -> None:
    sweep = make_sweep(tmp_path / "multiruns" / "2026-11-30_12-00-00", [0.80, 0.84, 0.88], failed=True)
    make_run(tmp_path / "it's a run, [odd]", ["model=xception"], {"test/auc": 0.93}, curves(0.95))
    out = tmp_path / "out"
    proc = run_module(
        "dfd.summarize", [str(sweep), str(tmp_path / "it's*"), f"hydra.run.dir={out}", "metrics=[test/auc]"]
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    for name in FILES:
        assert (out / name).stat().st_size > 0, name
    assert (out / "curves.png").stat().st_size > 20_000
    runs = _rows(out / "runs.csv")
    assert [r["run"] for r in runs] == [
        *(f"multiruns/2026-11-30_12-00-00/{i}" for i in range(4)),
        "it's a run, [odd]",
    ]
    assert [r["status"] for r in runs] == ["done", "done", "done", "failed", "done"]
    (seeds,) = _rows(out / "seeds.csv")
    assert (seeds["metric"], seeds["n"], seeds["excluded"]) == ("test/auc", "3", "1")
    assert float(seeds["ci_low"]) == pytest.approx(0.84 - 0.0993655, abs=1e-6)
    # the group is named by what tells it from the other runs
    assert (
        "| trainer.max_epochs=3 | test/auc | 3 | 0.8400 ± 0.0400 | [0.7406, 0.9394] | 1,2,3 | 1 |"
        in proc.stdout
    )
    assert f"written to {out}: runs.csv, seeds.csv, summary.md, curves.png" in proc.stdout


def test_runs_given_as_a_list_and_a_wrong_one_named(tmp_path: Path) -> None:
    make_sweep(tmp_path / "multiruns" / "a", [0.7, 0.9])
    base = [f"paths.work_dir={tmp_path}", f"paths.output_dir={tmp_path / 'out'}"]
    result = summarize(compose_config("summarize", [*base, "runs=[multiruns/a]", "metrics=all"]))
    assert [r["status"] for r in result["runs"]] == ["done", "done"]
    auc = next(r for r in result["seeds"] if r["metric"] == "test/auc")
    assert (auc["n"], auc["mean"]) == (2, pytest.approx(0.8))
    assert {r["metric"] for r in result["seeds"]} >= {"val/auc_best", "test/video_auc", "test/acc"}
    with pytest.raises(FileNotFoundError, match="runs: 'multiruns/b' matches no file or folder"):
        summarize(compose_config("summarize", [*base, "runs=[multiruns/a,multiruns/b]"]))


@pytest.mark.slow
def test_two_commands_give_a_multi_seed_result(tmp_path: Path, data_dir: Path) -> None:
    train = ["-m", "seed=1,2", *cli_overrides(tmp_path, data_dir), "trainer.max_epochs=2",
             "trainer.num_sanity_val_steps=0", "logger=csv", SMALL_NET]  # fmt: skip
    proc = run_main("dfd.train", train)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    (sweep,) = list((tmp_path / "train" / "multiruns").iterdir())
    out = tmp_path / "summary"
    proc = run_main("dfd.summarize", [str(sweep), f"hydra.run.dir={out}"], cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    runs = _rows(out / "runs.csv")
    assert [(r["run"], r["status"], r["seed"]) for r in runs] == [("0", "done", "1"), ("1", "done", "2")]
    seeds = {r["metric"]: r for r in _rows(out / "seeds.csv")}
    assert seeds["test/auc"]["n"] == "2" and seeds["test/auc"]["seeds"] == "1,2"
    aucs = [float(r["test/auc"]) for r in runs]
    assert float(seeds["test/auc"]["mean"]) == pytest.approx(sum(aucs) / 2)
    assert float(seeds["val/auc_best"]["ci_low"]) <= float(seeds["val/auc_best"]["mean"])
    assert (out / "curves.png").stat().st_size > 20_000
