"""Checkpointing by validation AUC, with a stable ``best.ckpt`` beside the named files.

Lightning's ``ModelCheckpoint`` names files by epoch and metric and keeps ``last.ckpt``; users
and scripts also want one fixed name for the best model. ``best.ckpt`` is a hard link to the
current best file (a copy where links are unsupported), replaced atomically.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.callbacks import ModelCheckpoint as _ModelCheckpoint


class ModelCheckpoint(_ModelCheckpoint):
    """``ModelCheckpoint`` that also maintains ``<dirpath>/<best_name>``."""

    def __init__(self, *args, best_name: str | None = "best.ckpt", **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.best_name = best_name
        self._linked: str = ""

    def _link_best(self, trainer: Trainer) -> None:
        best = self.best_model_path
        if not self.best_name or not best or best == self._linked or not trainer.is_global_zero:
            return
        target = Path(best).with_name(self.best_name)
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
