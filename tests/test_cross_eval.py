"""dfd.cross_eval: the matrix of every checkpoint on every dataset, as markdown, CSV and heatmap."""

from __future__ import annotations

import json

import pytest

from tests.conftest import run_module

pytestmark = pytest.mark.slow


def test_cross_eval_entry_point(trained_runs, data_dir, tmp_path):
    root, _ = trained_runs
    proc = run_module(
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
