"""End-of-training figures: ``learning_curves.png`` and ``training_metrics.png``.

Read back from the run's logs (:func:`dfd.reports.scalars.read_scalars`: TensorBoard events,
or the CSV log) when fitting ends, so a run resumed with ``ckpt_path=...`` (which keeps
writing into the same folder) gets curves over all its epochs, and a run with ``test=false``
still gets them. ``learning_curves.png``: train and val loss per epoch.
``training_metrics.png``: each train/val metric per epoch. These are the two figures of the
DFDC training report that AVFF users expect (seed 000); the test report
(:mod:`dfd.reports.report`) draws the same two with the same functions.
"""

from __future__ import annotations

import logging
from pathlib import Path

import lightning as L

from dfd.reports import plots
from dfd.reports.scalars import read_scalars

log = logging.getLogger(__name__)


class TrainingPlots(L.Callback):
    """Writes the training figures into ``out_dir`` when ``fit`` ends (rank zero only)."""

    def __init__(self, out_dir: str) -> None:
        self.out_dir = out_dir

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not trainer.is_global_zero:
            return
        # the logger's own folder: trainer.log_dir would broadcast, which only rank zero reaches here
        log_dir = next((lg.log_dir for lg in trainer.loggers if getattr(lg, "log_dir", None)), None)
        if log_dir is None:
            log.warning("TrainingPlots needs a TensorBoard or CSV logger; no figures written")
            return
        for logger in trainer.loggers:
            if hasattr(logger.experiment, "flush"):
                logger.experiment.flush()
        scalars = read_scalars(log_dir)
        if not scalars:
            log.warning("TrainingPlots found no logged scalars under %s; no figures written", log_dir)
            return
        out = Path(self.out_dir)
        paths = [out / "learning_curves.png", out / "training_metrics.png"]
        plots.save(plots.learning_curves_figure(scalars), paths[0])
        plots.save(plots.metrics_panel_figure(scalars), paths[1])
        log.info("Training figures: %s", ", ".join(str(p) for p in paths))
