"""Dataset statistics at the start of training: crops per class and split, and the imbalance ratio.

Printed to the console and logged to TensorBoard as a text table (``data/statistics``), so a run
records the class balance it was trained on. Reads ``datamodule.class_counts(split)``.
"""

from __future__ import annotations

import logging

from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.loggers import TensorBoardLogger

log = logging.getLogger(__name__)

__all__ = ["DatasetStats", "format_class_counts", "imbalance_ratio"]


def imbalance_ratio(counts: dict[int, int]) -> float:
    """Majority count over minority count (1.0 is balanced; inf when a class is absent)."""
    values = [counts.get(0, 0), counts.get(1, 0)]
    return max(values) / min(values) if min(values) > 0 else float("inf")


def format_class_counts(per_split: dict[str, dict[int, int]]) -> str:
    """A markdown table: split, real, fake, total, fake share and imbalance ratio."""
    lines = [
        "| split | real | fake | total | fake share | imbalance (major:minor) |",
        "|---|---|---|---|---|---|",
    ]
    for split, counts in per_split.items():
        real, fake = counts.get(0, 0), counts.get(1, 0)
        total = real + fake
        share = fake / total if total else float("nan")
        lines.append(
            f"| {split} | {real} | {fake} | {total} | {share:.3f} | {imbalance_ratio(counts):.2f}:1 |"
        )
    return "\n".join(lines)


class DatasetStats(Callback):
    """Print and log the class counts of every split once, when fitting starts.

    Args:
        splits: the splits to report; splits the datamodule lacks are skipped.
    """

    def __init__(self, splits: tuple[str, ...] = ("train", "val", "test")) -> None:
        self.splits = tuple(splits)
        self.table: str | None = None

    def on_fit_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        datamodule = trainer.datamodule
        if not hasattr(datamodule, "class_counts"):
            log.warning("%s has no class_counts(split): no dataset statistics", type(datamodule).__name__)
            return
        per_split = {}
        for split in self.splits:
            try:
                per_split[split] = datamodule.class_counts(split)
            except KeyError:
                continue
        self.table = format_class_counts(per_split)
        if not trainer.is_global_zero:
            return
        print(f"Dataset statistics (crops per class):\n{self.table}", flush=True)
        for logger in trainer.loggers:
            if isinstance(logger, TensorBoardLogger):
                logger.experiment.add_text("data/statistics", self.table, global_step=trainer.global_step)
