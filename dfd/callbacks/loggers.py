"""Loggers that survive a resumed run: every epoch exactly once, whatever killed the last one.

A resumed run continues from a checkpoint at global step ``S``; whatever the interrupted run
logged at steps ``>= S`` is redone by the resumed one. :class:`CSVLogger` keeps the rows of
``metrics.csv`` logged before ``S`` and appends after them (Lightning's deletes the file), and
TensorBoard purges the events from ``S`` on (``purge_step``, passed through to its
``SummaryWriter``). ``dfd.train`` sets ``purge_step`` from the checkpoint it resumes.
"""

from __future__ import annotations

import csv
import logging
from typing import Any

from lightning.pytorch.loggers import CSVLogger as _CSVLogger
from lightning.pytorch.loggers.csv_logs import ExperimentWriter
from lightning.pytorch.loggers.logger import rank_zero_experiment

log = logging.getLogger(__name__)

#: Logger classes that accept ``purge_step`` (``dfd.train`` passes it when resuming).
PURGEABLE = ("dfd.callbacks.loggers.CSVLogger", "lightning.pytorch.loggers.TensorBoardLogger",
             "lightning.pytorch.loggers.tensorboard.TensorBoardLogger")  # fmt: skip


class _ResumableWriter(ExperimentWriter):
    """Lightning's CSV writer, except that an existing ``metrics.csv`` keeps its rows before
    ``purge_step`` (and is deleted, as Lightning does, when there is no ``purge_step``)."""

    def __init__(self, log_dir: str, purge_step: int | None) -> None:
        self.purge_step = purge_step
        super().__init__(log_dir)

    def _check_log_dir_exists(self) -> None:
        if self.purge_step is None or not self._fs.isfile(self.metrics_file_path):
            super()._check_log_dir_exists()
            return
        with self._fs.open(self.metrics_file_path, "r", newline="") as f:
            reader = csv.DictReader(f)
            header = list(reader.fieldnames or [])
            rows = [
                r
                for r in reader
                if r.get("step") not in (None, "") and int(float(r["step"])) < self.purge_step
            ]
        with self._fs.open(self.metrics_file_path, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=header)
            writer.writeheader()
            writer.writerows(rows)
        self.metrics_keys = header
        log.info("metrics.csv: kept %d rows logged before step %d; appending", len(rows), self.purge_step)


class CSVLogger(_CSVLogger):
    """Lightning's ``CSVLogger`` that appends on resume (see the module docstring)."""

    def __init__(self, *args: Any, purge_step: int | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.purge_step = purge_step

    @property
    @rank_zero_experiment
    def experiment(self) -> ExperimentWriter:
        if self._experiment is None:
            self._fs.makedirs(self.root_dir, exist_ok=True)
            self._experiment = _ResumableWriter(self.log_dir, self.purge_step)
        return self._experiment
