"""Test helpers that end a training process the hard way, at a precise point (configs name them as
``+callbacks.kill._target_=tests.killer.KillAt``)."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import lightning as L


class KillAt(L.Callback):
    """Send ``signal`` to this very process before the first batch of training epoch ``epoch``
    (after that epoch's start checkpoint) or, with ``batch``, after that batch of that epoch.

    With ``once=<file>``, only the first process to get there sends it (a requeued job runs on)."""

    def __init__(
        self, epoch: int, batch: int | None = None, signal_name: str = "SIGKILL", once: str | None = None
    ) -> None:
        self.epoch, self.batch, self.signum = epoch, batch, getattr(signal, signal_name)
        self.once = Path(once) if once else None

    def _kill(self) -> None:
        if self.once is not None:
            if self.once.exists():
                return
            self.once.write_text(str(os.getpid()))
        os.kill(os.getpid(), self.signum)

    def on_train_batch_start(
        self, trainer: L.Trainer, pl_module: L.LightningModule, batch, batch_idx: int
    ) -> None:
        if self.batch is None and trainer.current_epoch == self.epoch and batch_idx == 0:
            self._kill()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        if self.batch is not None and trainer.current_epoch == self.epoch and batch_idx == self.batch:
            self._kill()
