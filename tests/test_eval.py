"""dfd.eval: the calibrated threshold chosen, the report and metrics in the evaluation's own folder."""

from __future__ import annotations

import json

import pytest

from dfd.callbacks.calibration import load_calibration
from tests.conftest import eval_cfg

pytestmark = pytest.mark.slow


def test_eval_uses_the_chosen_calibrated_threshold(trained_runs, data_dir, tmp_path):
    from dfd.utils.evaluation import evaluate

    root, _ = trained_runs
    stored = load_calibration(root / "a" / "checkpoints" / "best.ckpt")
    m = evaluate(eval_cfg(root, data_dir, tmp_path, "threshold=youden", "video_aggregation=max"))
    assert m["frame/calibrated/threshold"] == pytest.approx(stored.thresholds["youden"])
    assert m["video/calibrated/threshold"] == pytest.approx(stored.video_thresholds["youden"])
    assert m["frame/auc"] == pytest.approx(m["test/auc"], abs=1e-5)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["video_aggregation"] == "max"
    # the metrics go to the evaluation's own folder, named by data, split and threshold
    written = json.loads((tmp_path / "metrics.synthetic.test.youden.json").read_text())
    assert not list((root / "a" / "checkpoints").glob("*.json"))  # nothing written into the run
    assert written["metrics"]["frame/calibrated/f1"] == pytest.approx(m["frame/calibrated/f1"])
    assert (m["frame/calibrated/tp"], m["frame/calibrated/fp"]) != (m["frame/tp"], m["frame/fp"]) or (
        stored.thresholds["youden"] == pytest.approx(0.5, abs=0.01)
    )
