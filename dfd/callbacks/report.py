"""``EvaluationReport``: write the report of the test split when ``trainer.test`` ends.

It reads ``module.eval_outputs["test"]`` (gathered by ``DetectorModule``) and the calibration of
the checkpoint being tested (from the ``ThresholdCalibration`` callback, which Lightning restores
with ``trainer.test(ckpt_path=...)``, or from ``calibration_ckpt``), and calls
:func:`dfd.reports.report.write_report`. Figures also go to TensorBoard when a
``TensorBoardLogger`` is attached. Video-level and calibrated scalars (``test/video_auc``,
``test/calibrated_f1``, …) are logged and added to ``trainer.callback_metrics``. A clip model's
report (its net has a ``clip_len``) names its samples clips.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.loggers import TensorBoardLogger
from lightning.pytorch.utilities import rank_zero_only, rank_zero_warn

from dfd.callbacks.calibration import ThresholdCalibration
from dfd.metrics.calibration import Calibration, load_calibration
from dfd.reports.report import scalar_metrics, write_report


class EvaluationReport(L.Callback):
    """Write ``summary.json``, ``report.md`` and figures for the test split.

    Args:
        out_dir: report folder (``${paths.output_dir}/report`` in the configs).
        threshold: ``f1``, ``youden``, ``precision``, ``temperature`` or a number: the
            calibrated column of the report.
        video_aggregation: ``mean``, ``max`` or ``confident``; ``None`` uses the calibration's.
        run_dir: folder searched for the run's TensorBoard events or ``metrics.csv`` (learning
            curves); ``None`` skips those figures.
        stage: key of ``module.eval_outputs`` to report.
        title: first line of ``report.md``.
    """

    def __init__(
        self,
        out_dir: str | Path,
        threshold: str | float = "f1",
        video_aggregation: str | None = None,
        run_dir: str | Path | None = None,
        stage: str = "test",
        title: str = "dfd evaluation report",
    ) -> None:
        self.out_dir = Path(out_dir)
        self.threshold = threshold
        self.video_aggregation = video_aggregation
        self.run_dir = run_dir
        self.stage = stage
        self.title = title
        self.calibration: Calibration | None = None
        self.summary: dict[str, Any] | None = None
        self.meta: dict[str, Any] = {}

    def use_checkpoint(self, ckpt_path: str | Path) -> None:
        """Take the calibration from ``ckpt_path`` (for a module loaded outside ``trainer.test``)."""
        self.calibration = load_calibration(ckpt_path)
        self.meta["checkpoint"] = str(ckpt_path)

    def _calibration(self, trainer: L.Trainer) -> Calibration | None:
        for cb in trainer.callbacks:
            if isinstance(cb, ThresholdCalibration) and cb.calibration is not None:
                return cb.calibration
        return self.calibration

    @rank_zero_only
    def on_test_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        outputs = getattr(pl_module, "eval_outputs", {}).get(self.stage)
        if not outputs:
            rank_zero_warn(
                f"EvaluationReport found no module.eval_outputs[{self.stage!r}]; no report written"
            )
            return
        calibration = self._calibration(trainer)
        if calibration is None and str(self.threshold) in ("f1", "youden", "precision", "temperature"):
            rank_zero_warn(
                f"threshold={self.threshold} needs a calibration but none was found; the report's "
                "calibrated column uses 0.5 (add the ThresholdCalibration callback when training)"
            )
        for lg in trainer.loggers:  # flush event files: the learning curves are read back from them
            lg.save()
        writer = next((lg.experiment for lg in trainer.loggers if isinstance(lg, TensorBoardLogger)), None)
        ckpt = getattr(trainer, "ckpt_path", None)
        meta = {**({"checkpoint": ckpt} if ckpt else {}), **self.meta}
        datamodule = getattr(trainer, "datamodule", None)
        samples = datamodule.sample_table(self.stage) if hasattr(datamodule, "sample_table") else None
        self.summary = write_report(
            outputs,
            self.out_dir,
            calibration,
            threshold=self.threshold,
            video_aggregation=self.video_aggregation,
            run_dir=self.run_dir,
            tb_writer=writer,
            title=self.title,
            meta=meta,
            samples=samples,
            unit="clip" if getattr(getattr(pl_module, "net", None), "clip_len", None) else "frame",
        )
        # video-level and calibrated scalars next to the module's test/* metrics: in the loggers,
        # and in trainer.callback_metrics, which dfd.train copies into metrics.json
        scalars = scalar_metrics(self.summary, self.stage)
        for logger in trainer.loggers:
            logger.log_metrics(scalars, step=trainer.global_step)
        trainer.callback_metrics.update({k: torch.tensor(v) for k, v in scalars.items()})
