"""ThresholdCalibration: thresholds and temperature fitted on the last validation outputs, kept in checkpoints."""

from __future__ import annotations

import pytest
import torch

from dfd.metrics.calibration import calibrate, load_calibration


def test_calibration_matches_the_last_validation_outputs(fitted):
    _, _, model, cal_cb, _, _ = fitted
    val = model.eval_outputs["val"]
    want = calibrate(val["logits"], val["labels"], val["video_idx"], precision_target=0.8)
    assert cal_cb.calibration.thresholds == pytest.approx(want.thresholds)
    assert cal_cb.calibration.temperature == pytest.approx(want.temperature)
    assert cal_cb.calibration.epoch == 2


def test_checkpoint_carries_calibration_and_hparams(fitted):
    root, _, _, cal_cb, ckpt_cb, _ = fitted
    # every checkpoint holds the calibration of the epoch it was saved at
    for path in (root / "checkpoints").glob("*.ckpt"):
        ckpt = torch.load(path, map_location="cpu", weights_only=False)
        stored = load_calibration(path)
        assert stored.epoch == ckpt["epoch"]
        assert ckpt["callbacks"]["ThresholdCalibration"]["calibration"] == stored.to_dict()
    logger = fitted[1].logger
    assert logger.hparams["calibration"]["thresholds"] == cal_cb.calibration.thresholds
