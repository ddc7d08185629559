"""A training run's closing summary (``summary.txt``): where its files are, what it selected on, its
test AUCs; the comparison of several runs is :mod:`dfd.reports.run_comparison`'s."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from dfd.reports.run_summary import selection_of, write_run_summary


def test_the_summary_names_the_selection_and_the_test_aucs_and_is_written_to_the_run(tmp_path: Path) -> None:
    checkpoint = SimpleNamespace(monitor="val/auc", mode="max", best_model_score=0.91234)
    selection = selection_of(checkpoint)
    assert selection == {"monitor": "val/auc", "mode": "max", "best": 0.91234}
    text = write_run_summary(tmp_path, "", selection, {"test/auc": 0.875, "val/loss": 0.3})
    assert (tmp_path / "summary.txt").read_text() == text + "\n"
    lines = text.splitlines()
    assert lines[0] == f"run directory : {tmp_path}"
    assert "best ckpt     : (none)" in lines
    assert "selected on   : val/auc (max), best 0.9123" in lines
    assert "test AUC      : 0.8750" in lines and not any("video AUC" in line for line in lines)


def test_a_run_without_a_monitor_selected_on_nothing() -> None:
    assert selection_of(None) == {}
    assert selection_of(SimpleNamespace(monitor=None, mode="min", best_model_score=None)) == {}
    unscored = selection_of(SimpleNamespace(monitor="val/loss", mode="min", best_model_score=None))
    assert unscored["best"] is None
