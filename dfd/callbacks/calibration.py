"""``ThresholdCalibration``: fit decision thresholds and a temperature on every validation pass.

After each validation epoch the callback reads the gathered validation outputs that
``DetectorModule`` keeps in ``module.eval_outputs["val"]`` (logits, labels, video_idx) and fits
the F1-optimal, Youden's J and target-precision thresholds, at frame and video level, and a
temperature (Guo et al., "On Calibration of Modern Neural Networks", ICML 2017); see
:mod:`dfd.metrics.calibration`. The result goes

- into every checkpoint, as ``checkpoint["calibration"]`` (plain dict) and as the callback state,
  so a checkpoint carries the calibration of the epoch it was saved at;
- into the loggers: ``val/threshold_f1``, ``val/threshold_youden``, ``val/threshold_precision``,
  ``val/temperature`` as metrics each epoch, and at the end of fitting the last calibration as
  hyperparameters (``logger.log_hyperparams``: TensorBoard's HPARAMS tab).

It runs in ``on_validation_end``, after the module's ``on_validation_epoch_end`` has gathered
the outputs and before ``ModelCheckpoint`` saves (Lightning runs checkpoint callbacks last).
"""

from __future__ import annotations

import inspect
from typing import Any

import lightning as L
import torch
from lightning.pytorch.utilities import rank_zero_warn

from dfd.core.moved import moved_name
from dfd.metrics.calibration import CHECKPOINT_KEY, Calibration, calibrate
from dfd.metrics.detection import ConfidentStrategy

STAGE = "val"  # the only key of ``module.eval_outputs`` the callback reads


class ThresholdCalibration(L.Callback):
    """Fit thresholds and temperature on validation outputs; store them in checkpoints.

    Args:
        precision_target: precision the ``precision`` threshold must reach on validation.
        temperature: fit a temperature (else it stays 1).
        video_aggregation: the default video aggregation of reports (``mean``, ``max`` or
            ``confident``); video thresholds are fitted for each of them.
        confident: parameters of the ``confident`` aggregation
            (:class:`~dfd.metrics.detection.ConfidentStrategy`), stored with the thresholds.
    """

    def __init__(
        self,
        precision_target: float = 0.9,
        temperature: bool = True,
        video_aggregation: str = "mean",
        confident: dict[str, float] | None = None,
    ) -> None:
        if not 0 < precision_target <= 1:
            raise ValueError(
                f"precision_target must be in (0, 1], got {precision_target} "
                "(callbacks.threshold_calibration.precision_target)"
            )
        self.precision_target = precision_target
        self.temperature = temperature
        self.video_aggregation = video_aggregation
        self.confident = ConfidentStrategy(**dict(confident or {}))
        self.calibration: Calibration | None = None
        self._warned_temperature = False

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking:  # two batches of an untrained model: nothing worth storing
            return
        if not getattr(pl_module, "scores_samples", True):  # AVFF stage 1: no scores to calibrate
            return
        # validation only: thresholds and temperature fitted on test would grade their own homework
        outputs = getattr(pl_module, "eval_outputs", {}).get(STAGE)
        if not outputs or "logits" not in outputs:
            rank_zero_warn(
                f"ThresholdCalibration found no module.eval_outputs[{STAGE!r}] with logits; "
                "the LightningModule must keep its gathered validation outputs (see DetectorModule)"
            )
            return
        labels = outputs["labels"]
        if torch.unique(labels).numel() < 2:
            rank_zero_warn(
                f"ThresholdCalibration skipped epoch {trainer.current_epoch}: one class in validation"
            )
            return
        self.calibration = calibrate(
            outputs["logits"],
            labels,
            outputs.get("video_idx"),
            precision_target=self.precision_target,
            temperature=self.temperature,
            video_aggregation=self.video_aggregation,
            confident=self.confident,
        )
        if self.temperature and not self.calibration.temperature_fitted and not self._warned_temperature:
            rank_zero_warn(f"Temperature scaling skipped: {self.calibration.temperature_note}")
            self._warned_temperature = True
        self.calibration.epoch = int(trainer.current_epoch)
        cal = self.calibration
        metrics = {f"{STAGE}/threshold_{k}": v for k, v in cal.thresholds.items()}
        metrics[f"{STAGE}/temperature"] = cal.temperature
        metrics[f"{STAGE}/nll_temperature"] = cal.val["nll_temperature"]
        # the step Lightning logs this validation's val/* metrics at, so they share a point (and a
        # resumed run, which purges from its checkpoint's step, keeps them)
        step = max(trainer.global_step - 1, 0)
        for logger in trainer.loggers:  # loggers write on rank zero only
            logger.log_metrics(metrics, step=step)

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # once, at the end: TensorBoard's hparams view shows one entry per call
        if self.calibration is None:
            return
        cal = self.calibration
        # own keys: the logger writes these at step 0, which must not join the val/* curves
        summary = {f"{CHECKPOINT_KEY}/threshold_{k}": v for k, v in cal.thresholds.items()}
        summary[f"{CHECKPOINT_KEY}/temperature"] = cal.temperature
        for logger in trainer.loggers:
            # TensorBoard pairs hparams with metrics in its HPARAMS view; other loggers take them apart
            if "metrics" in inspect.signature(logger.log_hyperparams).parameters:
                logger.log_hyperparams({CHECKPOINT_KEY: cal.to_dict()}, metrics=summary)
            else:
                logger.log_hyperparams({CHECKPOINT_KEY: cal.to_dict()})
                logger.log_metrics(summary, step=trainer.global_step)

    def on_save_checkpoint(
        self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        if self.calibration is not None:
            checkpoint[CHECKPOINT_KEY] = self.calibration.to_dict()

    def on_load_checkpoint(
        self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        if CHECKPOINT_KEY in checkpoint:
            self.calibration = Calibration.from_dict(checkpoint[CHECKPOINT_KEY])

    def state_dict(self) -> dict[str, Any]:
        return {CHECKPOINT_KEY: self.calibration.to_dict() if self.calibration else None}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        if state_dict.get(CHECKPOINT_KEY):
            self.calibration = Calibration.from_dict(state_dict[CHECKPOINT_KEY])


def __getattr__(name: str) -> Any:
    """Names that moved to another module answer here, with a warning (:mod:`dfd.core.moved`)."""
    return moved_name(__name__, name)
