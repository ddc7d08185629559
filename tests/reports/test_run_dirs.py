"""Finding run directories from folders and globs, reading their status, metrics and overrides."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from dfd.reports.run_dirs import (
    find_run_dirs,
    key_overrides,
    load_run,
    load_runs,
    natural_key,
    override_items,
    short_names,
)
from tests.fake_runs import curves, make_run, make_sweep


def test_a_multirun_folder_gives_its_jobs_in_numeric_order(tmp_path: Path) -> None:
    sweep = make_sweep(tmp_path / "multiruns" / "x", [0.8] * 11)
    found = find_run_dirs([str(sweep)])
    assert [p.name for p in found] == [str(i) for i in range(11)]  # 10 after 9, not after 1
    assert sorted(["10", "9", "1"], key=natural_key) == ["1", "9", "10"]


def test_a_run_folder_is_one_run_and_its_own_subfolders_are_not_searched(tmp_path: Path) -> None:
    run = make_run(tmp_path / "run", ["seed=1"], {"test/auc": 0.9})
    make_run(run / "nested", ["seed=2"], {"test/auc": 0.5})  # e.g. a run kept inside another
    assert find_run_dirs([str(run)]) == [run.resolve()]


def test_other_commands_runs_are_not_training_runs(tmp_path: Path) -> None:
    make_run(tmp_path / "train" / "runs" / "a", ["seed=1"], {"test/auc": 0.9})
    evaluation = tmp_path / "eval" / "runs" / "b" / ".hydra"
    evaluation.mkdir(parents=True)
    (evaluation / "overrides.yaml").write_text(yaml.safe_dump(["ckpt_path=x.ckpt"]))
    (evaluation / "config.yaml").write_text(yaml.safe_dump({"task_name": "eval", "split": "test"}))
    assert [p.name for p in find_run_dirs([str(tmp_path)])] == ["a"]


def test_globs_relative_paths_and_overlaps(tmp_path: Path) -> None:
    for name in ("r1", "r2", "other"):
        make_run(tmp_path / "runs" / name, [f"model={name}"], {"test/auc": 0.9})
    found = find_run_dirs(["runs/r*", "runs/r2", "runs/other"], base=tmp_path)
    assert [p.name for p in found] == ["r1", "r2", "other"]  # r2 once, in the order given


def test_an_argument_that_matches_nothing_is_named_with_the_fix(tmp_path: Path) -> None:
    make_run(tmp_path / "a", ["seed=1"], {"test/auc": 0.9})
    with pytest.raises(FileNotFoundError, match=r"runs: 'missing/\*' matches no file or folder.*multiruns"):
        find_run_dirs([str(tmp_path / "a"), "missing/*"], base=tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="'empty' holds no dfd.train run"):
        find_run_dirs(["empty"], base=tmp_path)
    with pytest.raises(FileNotFoundError, match="no runs given: python -m dfd.summarize"):
        find_run_dirs([])


def test_status_metrics_and_the_best_validation_auc_of_each_kind_of_run(tmp_path: Path) -> None:
    done = load_run(
        make_run(tmp_path / "done", ["seed=1"], {"test/auc": 0.9, "val/auc_best": 0.97}, curves(0.95))
    )
    assert (
        done.status == "done" and done.seed == 1 and done.metrics["val/auc_best"] == 0.97
    )  # metrics.json wins
    assert [round(v, 4) for _, v in done.scalars["val/auc"]] == [0.75, 0.85, 0.95]  # TensorBoard
    # no val/auc_best in metrics.json: the best of the val/auc curve, here from a CSV log
    older = load_run(make_run(tmp_path / "older", ["seed=2"], {"test/auc": 0.8}, curves(0.9), logger="csv"))
    assert older.metrics["val/auc_best"] == pytest.approx(0.9)
    failed = load_run(
        make_run(tmp_path / "failed", ["seed=3"], error="Traceback ...\n\nValueError: bad lr\n\n")
    )
    assert (failed.status, failed.note, failed.metrics) == ("failed", "ValueError: bad lr", {})
    running = load_run(make_run(tmp_path / "running", ["seed=4"], curves=curves(0.7, epochs=2)))
    assert running.status == "incomplete" and running.metrics == {"val/auc_best": pytest.approx(0.7)}
    preempted = make_run(tmp_path / "preempted", ["seed=5"])
    (preempted / "checkpoints" / "preempted.json").write_text("{}")
    assert load_run(preempted).status == "preempted"


def test_overrides_without_noise_and_the_keys_that_differ(tmp_path: Path) -> None:
    lines = ["seed=1", "+trainer.x=2", "~logger", "hydra.run.dir=/o", "hydra/launcher=slurm", "paths.log_dir=/l",
             "ckpt_path=/c/last.ckpt", "pathsx=1"]  # fmt: skip
    assert override_items(lines) == {"seed": "1", "trainer.x": "2", "~logger": "", "pathsx": "1"}
    runs = load_runs(
        [str(make_sweep(tmp_path / "s", [0.8, 0.9], extra=["model=x"]))], ignore=["hydra", "paths"]
    )
    assert runs[0].overrides == {"seed": "1", "trainer.max_epochs": "3", "model": "x"}
    assert key_overrides(runs) == ["seed"]
    runs[1].overrides.pop("model")
    assert key_overrides(runs) == ["seed", "model"]  # a key one run lacks differs too


def test_short_names_drop_the_shared_folder() -> None:
    assert short_names([Path("/o/m/a/0"), Path("/o/m/a/1")]) == ["0", "1"]
    assert short_names([Path("/o/m/a/0"), Path("/o/runs/b")]) == ["m/a/0", "runs/b"]
    assert short_names([Path("/o/m/a/0")]) == ["0"]
