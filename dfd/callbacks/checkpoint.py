"""Checkpointing by validation AUC, a stable ``best.ckpt``, and a ``last.ckpt`` a run can always
resume from exactly.

Lightning's ``ModelCheckpoint`` names files by epoch and metric and keeps ``last.ckpt``; users
and scripts also want one fixed name for the best model. ``best.ckpt`` is a hard link to the
current best file (a copy where links are unsupported), replaced atomically.

``last.ckpt`` is dfd's own: Lightning 2.6 rewrites it only when a top-k file is saved, so a run
whose validation AUC stopped improving would resume from an old epoch. Here it is written at
the start of every epoch after the first, when the previous epoch is finished in every respect
(its validation, calibration, scheduler step and logs), at the end of training, and when the run
is preempted (:mod:`dfd.callbacks.resume`); resuming from it starts an epoch exactly where the
uninterrupted run would. Every save flushes the loggers, so a killed run loses at most the work
since its last checkpoint.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.callbacks import ModelCheckpoint as _ModelCheckpoint
from lightning.pytorch.trainer.states import TrainerFn

LAST_NAME = "last.ckpt"


def flush_loggers(trainer: Trainer) -> None:
    """Write every logger's buffered metrics to disk (CSV rows, TensorBoard events)."""
    for logger in trainer.loggers:
        logger.save()
        experiment = getattr(logger, "_experiment", None)  # only loggers that have started writing
        if experiment is not None and hasattr(experiment, "flush"):
            experiment.flush()


class ModelCheckpoint(_ModelCheckpoint):
    """``ModelCheckpoint`` that also maintains ``<dirpath>/<best_name>`` and an exact ``last.ckpt``
    (see the module docstring)."""

    def __init__(
        self, *args: Any, best_name: str | None = "best.ckpt", save_last: bool = True, **kwargs: Any
    ) -> None:
        super().__init__(*args, save_last=False, **kwargs)  # dfd writes last.ckpt itself
        self.best_name = best_name
        self.keep_last = save_last
        self._linked: str = ""
        self._last_step: int | None = None
        #: why last.ckpt is being written: "epoch_start", "train_end" or "preempted" (None otherwise)
        self.saving_last_at: str | None = None

    # -- best.ckpt --------------------------------------------------------------------------
    def _link_best(self, trainer: Trainer) -> None:
        best = self.best_model_path
        if not self.best_name or not best or best == self._linked or not trainer.is_global_zero:
            return
        if not Path(best).is_file():  # a resumed run's restored best, since replaced by the killed run
            return
        target = Path(best).with_name(self.best_name)
        if target.exists() and os.path.samefile(best, target):
            self._linked = best
            return
        tmp = target.with_name(target.name + ".tmp")
        tmp.unlink(missing_ok=True)
        try:
            os.link(best, tmp)
        except OSError:
            shutil.copy2(best, tmp)
        os.replace(tmp, target)
        self._linked = best

    def on_validation_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        super().on_validation_end(trainer, pl_module)
        self._link_best(trainer)

    def on_train_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        super().on_train_epoch_end(trainer, pl_module)
        self._link_best(trainer)

    # -- last.ckpt --------------------------------------------------------------------------
    @property
    def last_path(self) -> Path | None:
        return Path(self.dirpath) / LAST_NAME if self.dirpath else None

    def write_last(self, trainer: Trainer, at: str) -> Path | None:
        """Write ``last.ckpt`` now (all ranks call it; rank zero writes) and flush the loggers; ``at``
        says where training stands (``epoch_start``, ``train_end`` or ``preempted``)."""
        if not self.keep_last or self.last_path is None:
            return None
        if trainer.fast_dev_run or trainer.state.fn != TrainerFn.FITTING or trainer.sanity_checking:
            return None
        self.saving_last_at = at
        try:
            trainer.save_checkpoint(str(self.last_path), weights_only=False)
        finally:
            self.saving_last_at = None
        self._last_step = trainer.global_step
        self.last_model_path = str(self.last_path)
        flush_loggers(trainer)
        return self.last_path

    def on_train_epoch_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        # the previous epoch is complete: this is the exact restart point of the next one
        if trainer.current_epoch > 0 and trainer.global_step != self._last_step:
            self.write_last(trainer, "epoch_start")

    def on_train_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if trainer.global_step != self._last_step:
            self.write_last(trainer, "train_end")

    def on_load_checkpoint(
        self, trainer: Trainer, pl_module: LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        super().on_load_checkpoint(trainer, pl_module, checkpoint)
        self._last_step = int(checkpoint.get("global_step", -1))  # resumed here: nothing new to save yet

    def _save_checkpoint(self, trainer: Trainer, filepath: str) -> None:
        super()._save_checkpoint(trainer, filepath)
        flush_loggers(trainer)
