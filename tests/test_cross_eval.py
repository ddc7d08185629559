"""dfd.cross_eval: the matrix of every checkpoint on every dataset, as markdown, CSV and heatmap."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from omegaconf import OmegaConf

import dfd.evaluation.tasks
from tests.conftest import run_main


@pytest.mark.slow
def test_cross_eval_entry_point(trained_runs, data_dir, tmp_path):
    root, _ = trained_runs
    proc = run_main(  # the command in this process: its own process is not under test
        "dfd.cross_eval",
        [f"+checkpoints.long={root / 'a' / 'checkpoints' / 'best.ckpt'}",
         f"+checkpoints.short={root / 'b' / 'checkpoints' / 'best.ckpt'}", "datasets=[synthetic]",
         f"paths.data_dir={data_dir}", f"paths.log_dir={tmp_path}", f"out_dir={tmp_path}",
         'eval_overrides=["trainer.accelerator=cpu","+trainer.enable_progress_bar=false","data.num_workers=0"]'],
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    md = (tmp_path / "cross_dataset_frame_auc.md").read_text().splitlines()
    rows = [line for line in md if line.startswith("| ")]
    assert len(rows) == 1 + 2 and rows[0].startswith("| trained on | synthetic |")
    assert (tmp_path / "cross_dataset_video_auc.png").is_file()
    assert (tmp_path / "long_on_synthetic" / "summary.json").is_file()
    # the by-method matrix: one column per dataset and method, each method's fakes against its reals
    by_method = (tmp_path / "cross_dataset_by_method_frame_auc.md").read_text()
    assert "| trained on | synthetic/synthetic_swap |" in by_method
    cell = json.loads((tmp_path / "long_on_synthetic" / "summary.json").read_text())["by_method"]["frame"]
    assert list(cell) == ["synthetic_swap"] and cell["synthetic_swap"]["auc"] > 0.8
    for key in ("ap", "acc"):  # AP and accuracy per method too, each its own matrix
        table = pd.read_csv(tmp_path / f"cross_dataset_by_method_frame_{key}.csv", index_col=0)
        assert table.loc["long", "synthetic/synthetic_swap"] == pytest.approx(cell["synthetic_swap"][key])


def test_by_method_matrices_hold_auc_ap_and_accuracy_per_method(tmp_path, monkeypatch):
    """Without evaluating: each cell's dfd.eval metrics are made up, and every by-method key lands
    in its own matrix (fake_acc, which also ends in acc, does not)."""

    def evaluate(overrides):
        data, ckpt = overrides[0].split("=")[1], overrides[1].split("=")[1]
        base = {"a.ckpt": 0.1, "b.ckpt": 0.2}[ckpt] + {"x": 0.0, "y": 0.01}[data]
        metrics = {"frame/auc": base, "video/auc": base}
        for i, method in enumerate(("m1", "m2")):
            for j, key in enumerate(("auc", "ap", "acc", "fake_acc")):
                metrics[f"frame/by_method/{data}_{method}/{key}"] = base + 0.1 * i + 0.001 * j
        return metrics

    monkeypatch.setattr(dfd.evaluation.tasks, "compose", lambda config_name, overrides: overrides)
    monkeypatch.setattr(dfd.evaluation.tasks, "evaluate", evaluate)
    cfg = OmegaConf.create(
        {"checkpoints": {"A": "a.ckpt", "B": "b.ckpt"}, "datasets": ["x", "y"], "split": "test",
         "out_dir": str(tmp_path), "paths": {"root_dir": ".", "data_dir": ".", "log_dir": "."},
         "batch_size": None, "eval_overrides": [], "metrics": ["frame/auc"]}
    )  # fmt: skip
    frames = dfd.evaluation.tasks.cross_eval(cfg)
    for j, key in enumerate(("auc", "ap", "acc")):
        table = pd.read_csv(tmp_path / f"cross_dataset_by_method_frame_{key}.csv", index_col=0)
        assert table.equals(frames[f"frame/by_method/{key}"].rename_axis(table.index.name))
        assert list(table.index) == ["A", "B"] and set(table.columns) == {
            "x/x_m1", "x/x_m2", "y/y_m1", "y/y_m2"
        }  # fmt: skip
        assert table.loc["B", "y/y_m2"] == pytest.approx(0.2 + 0.01 + 0.1 + 0.001 * j)
        assert (tmp_path / f"cross_dataset_by_method_frame_{key}.md").is_file()
