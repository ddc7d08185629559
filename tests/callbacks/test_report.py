"""EvaluationReport: the report written after a test run, with the tested checkpoint's calibration,
the calibrated column, the scalars in the trainer's metrics and every figure."""

from __future__ import annotations

import json

import pytest

from dfd.metrics.calibration import load_calibration
from tests.callbacks.conftest import toy_loader


@pytest.mark.slow
def test_training_run_writes_report_with_calibrated_column(trained_runs):
    root, metrics = trained_runs
    report = root / "a" / "report"
    summary = json.loads((report / "summary.json").read_text())
    stored = load_calibration(root / "a" / "checkpoints" / "best.ckpt")
    assert summary["calibration"] == stored.to_dict()
    assert summary["frame"]["threshold"] == pytest.approx(stored.thresholds["f1"])
    # the report's AUC is the AUC the module logged on the same test split
    assert summary["frame"]["at_0.5"]["auc"] == pytest.approx(metrics["test/auc"], abs=1e-5)
    # a tiny CPU-trained model: well above chance, run-to-run float noise aside
    assert summary["frame"]["at_0.5"]["auc"] > 0.8
    assert metrics["test/video_auc"] == pytest.approx(summary["video"]["at_0.5"]["auc"])  # in metrics.json
    md = (report / "report.md").read_text()
    assert "calibrated (f1, t = " in md and "| f1 |" in md
    for png in (
        "roc",
        "pr",
        "confusion_frame",
        "confusion_video",
        "threshold_analysis",
        "reliability",
        "learning_curves",
        "training_metrics",
    ):
        assert (report / f"{png}.png").stat().st_size > 5_000


def test_test_run_writes_report_with_checkpoint_calibration(fitted):
    root, trainer, model, cal_cb, ckpt_cb, report_cb = fitted
    trainer.test(model, toy_loader(2), ckpt_path=ckpt_cb.best_model_path, verbose=False)
    best = load_calibration(ckpt_cb.best_model_path)
    assert cal_cb.calibration == best  # Lightning restored the tested checkpoint's calibration
    summary = json.loads((root / "report" / "summary.json").read_text())
    assert summary["frame"]["threshold"] == pytest.approx(best.thresholds["f1"])
    assert summary["calibration"]["epoch"] == best.epoch
    assert (root / "report" / "learning_curves.png").stat().st_size > 10_000
    # video-level and calibrated scalars reach the trainer's metrics (dfd.train's metrics.json)
    assert float(trainer.callback_metrics["test/video_auc"]) == pytest.approx(
        summary["video"]["at_0.5"]["auc"]
    )
    assert float(trainer.callback_metrics["test/calibrated_f1"]) == pytest.approx(
        summary["frame"]["calibrated"]["f1"]
    )


def test_a_clip_models_test_report_names_its_samples_clips(tmp_path):
    """The callback reads the unit from the module's net: a net with a ``clip_len`` scores clips."""
    from types import SimpleNamespace

    import torch

    from dfd.callbacks.report import EvaluationReport

    video_idx = torch.arange(10).repeat_interleave(2)  # two clips of each of 10 videos
    labels = (torch.arange(10) % 2)[video_idx]
    outputs = {
        "logits": (labels - 0.5 + torch.linspace(-1, 1, 20))[:, None],
        "labels": labels,
        "video_idx": video_idx,
    }
    trainer = SimpleNamespace(callbacks=[], loggers=[], ckpt_path=None, datamodule=None, callback_metrics={},
                              global_step=0)  # fmt: skip
    module = SimpleNamespace(eval_outputs={"test": outputs}, net=SimpleNamespace(clip_len=4))
    callback = EvaluationReport(tmp_path / "report", threshold=0.5)
    callback.on_test_end(trainer, module)
    assert (
        callback.summary["unit"] == "clip"
        and "## Clip level" in (tmp_path / "report" / "report.md").read_text()
    )
    assert trainer.callback_metrics["test/video_auc"] == pytest.approx(
        callback.summary["video"]["at_0.5"]["auc"]
    )
