"""dfd.compare: bootstrap intervals and DeLong's test of two trained runs."""

from __future__ import annotations

import json

import pytest

from tests.conftest import run_module

pytestmark = pytest.mark.slow


def test_compare_entry_point(trained_runs, data_dir, tmp_path):
    root, _ = trained_runs
    a, b = (root / r / "checkpoints" / "best.ckpt" for r in ("a", "b"))
    proc = run_module(
        "dfd.compare",
        [f"ckpt_a={a}", f"ckpt_b={b}", f"paths.data_dir={data_dir}", f"paths.log_dir={tmp_path}",
         f"out_dir={tmp_path}", "n_boot=300", "trainer.accelerator=cpu", "+trainer.enable_progress_bar=false"],
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads((tmp_path / "compare.json").read_text())
    frame = result["frame"]
    summary_a = json.loads((root / "a" / "report" / "summary.json").read_text())
    assert frame["bootstrap_a"]["auc"] == pytest.approx(summary_a["frame"]["at_0.5"]["auc"], abs=1e-5)
    assert frame["delong"]["auc_a"] == pytest.approx(frame["bootstrap_a"]["auc"])
    assert 0 <= frame["delong"]["p_value"] <= 1 and frame["n"] == summary_a["n_samples"]
    assert "DeLong's test" in (tmp_path / "compare.md").read_text()
