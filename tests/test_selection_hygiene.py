"""Model selection sees validation metrics only: checkpoint monitor, early stopping, the metric
returned to sweepers and the calibration stage, in the defaults and in every experiment and
hyperparameter search."""

from __future__ import annotations

import pytest

from .conftest import CONF, compose_config

EXPERIMENTS = sorted(p.stem for p in (CONF / "experiment").glob("*.yaml"))
SEARCHES = sorted(p.stem for p in (CONF / "hparams_search").glob("*.yaml"))
CHOICES = [[]] + [[f"experiment={e}"] for e in EXPERIMENTS] + [[f"hparams_search={s}"] for s in SEARCHES]


@pytest.mark.parametrize("overrides", CHOICES, ids=lambda o: o[0] if o else "defaults")
def test_selection_uses_validation_metrics_only(overrides):
    cfg = compose_config("train", ["paths.output_dir=/tmp/unused", *overrides])
    assert str(cfg.optimized_metric).startswith("val/"), cfg.optimized_metric
    callbacks = cfg.callbacks
    assert callbacks.model_checkpoint.monitor.startswith("val/")
    if callbacks.get("early_stopping"):
        assert callbacks.early_stopping.monitor.startswith("val/")
    assert callbacks.threshold_calibration.get("stage", "val") == "val"
    # the report's calibrated column uses thresholds fitted on validation, never re-fitted on test
    assert callbacks.evaluation_report._target_.endswith("EvaluationReport")


def test_eval_guard_is_off_by_default_and_documented():
    cfg = compose_config("eval", ["ckpt_path=x.ckpt", "paths.output_dir=/tmp/unused"])
    assert cfg.guard.enabled is False and list(cfg.guard.data) == []
    readme = (CONF.parent / "README.md").read_text()
    assert "### Model-selection protocol" in readme and "guard.enabled=true" in readme
