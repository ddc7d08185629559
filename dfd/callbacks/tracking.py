"""Experiment tracking beyond scalars: what training sees, where the detector is wrong, and how
its weights and gradients move.

- :class:`AugmentationPreview`: at the start of training, the training crops beside their
  augmented (and mixed) versions (``report/augmentations.png``, TensorBoard ``data/augmentations``);
- :class:`ValidationMistakes`: after every validation, the validation crops the detector got
  wrong with the most confidence, with their scores (``report/val_mistakes.png``, TensorBoard
  ``val/mistakes`` per epoch);
- :class:`ParameterHistograms`: weight and gradient histograms every N epochs (TensorBoard
  ``weights/*`` and ``gradients/*``); off with ``every_n_epochs=0``, the default.

Lightning's ``DeviceStatsMonitor`` is ``callbacks=[default,device_stats]``. Figures go to every
TensorBoard logger of the run and, as PNG, to ``out_dir``; all of it on rank zero only.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import lightning as L
import matplotlib.pyplot as plt
import numpy as np
import torch
from lightning.pytorch.loggers import TensorBoardLogger
from matplotlib.figure import Figure
from PIL import Image

from dfd.reports.galleries import augmentation_figure, mistakes_figure

log = logging.getLogger(__name__)


def tensorboards(trainer: L.Trainer) -> list[Any]:
    """The ``SummaryWriter`` of every TensorBoard logger of the run."""
    return [lg.experiment for lg in trainer.loggers if isinstance(lg, TensorBoardLogger)]


def publish(trainer: L.Trainer, fig: Figure, tag: str, step: int, path: Path | None) -> None:
    """Write ``fig`` to ``path`` (PNG) and to every TensorBoard logger under ``tag`` at ``step``."""
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=100, bbox_inches="tight")
    for writer in tensorboards(trainer):
        writer.add_figure(tag, fig, global_step=step, close=False)
    plt.close(fig)


class AugmentationPreview(L.Callback):
    """Draws ``n`` training crops as evaluated and as trained on, when training starts.

    Reads ``datamodule.preview_batch(n)`` (face-crop datamodules have it); its own seeded
    pipelines leave the run's random streams as they were.
    """

    def __init__(self, out_dir: str | None = None, n: int = 8) -> None:
        self.out_dir = out_dir
        self.n = n

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        datamodule = getattr(trainer, "datamodule", None)
        if not trainer.is_global_zero or not hasattr(datamodule, "preview_batch"):
            return
        batch = datamodule.preview_batch(self.n)
        if batch is None:  # nothing to show (clips, or no training split)
            return
        fig = augmentation_figure(batch["original"], batch["augmented"], batch["label"], batch["target"])
        path = Path(self.out_dir) / "augmentations.png" if self.out_dir else None
        publish(trainer, fig, "data/augmentations", trainer.global_step, path)


def load_thumbnail(path: str, size: int = 112) -> np.ndarray:
    """The image at ``path`` scaled to ``size`` px high (strips of frames keep their width ratio)."""
    with Image.open(path) as image:
        image = image.convert("RGB")
        width = max(1, round(image.width * size / image.height))
        return np.asarray(image.resize((width, size)))


class ValidationMistakes(L.Callback):
    """After each validation, the ``k`` crops misclassified at p(fake) = 0.5 with the most
    confidence: real crops with the highest fake probability, fake ones with the lowest.

    Reads the module's gathered validation outputs (``module.eval_outputs["val"]``: logits, labels
    and sample indices) and the crops' paths from ``datamodule.sample_table("val")``; only the
    ``k`` shown crops are read from disk.
    """

    def __init__(self, out_dir: str | None = None, k: int = 16, every_n_epochs: int = 1) -> None:
        if k < 1 or every_n_epochs < 1:
            raise ValueError(
                f"ValidationMistakes needs k >= 1 and every_n_epochs >= 1, got {k} and {every_n_epochs}"
            )
        self.out_dir = out_dir
        self.k = k
        self.every_n_epochs = every_n_epochs
        #: the last drawn mistakes: ``sample index, label, p(fake)`` rows, most confident first
        self.last: list[tuple[int, int, float]] = []

    def select(
        self, probs: torch.Tensor, labels: torch.Tensor, index: torch.Tensor
    ) -> list[tuple[int, int, float]]:
        """``(sample index, label, p)`` of the ``k`` most confident mistakes, most confident first."""
        probs, labels = probs.float().cpu(), labels.float().cpu().round()
        wrong = (probs >= 0.5) != (labels == 1)
        confidence = (probs - 0.5).abs()
        order = torch.argsort(
            torch.where(wrong, confidence, torch.full_like(confidence, -1.0)), descending=True
        )
        chosen = [int(i) for i in order[: self.k] if wrong[i]]
        return [(int(index[i]), int(labels[i]), float(probs[i])) for i in chosen]

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking or not trainer.is_global_zero:
            return
        if (trainer.current_epoch + 1) % self.every_n_epochs:
            return
        outputs = getattr(pl_module, "eval_outputs", {}).get("val")
        datamodule = getattr(trainer, "datamodule", None)
        if not outputs or "logits" not in outputs or not hasattr(datamodule, "sample_table"):
            return
        probs = pl_module.probs(outputs["logits"].float())
        index = outputs.get("index", torch.arange(len(probs)))
        self.last = self.select(probs, outputs["labels"], index)
        table = datamodule.sample_table("val")
        images, captions = [], []
        for i, _, _ in self.last:
            images.append(load_thumbnail(str(table["crop_path"].iloc[i])))
            captions.append(str(table["video_id"].iloc[i]))
        n_wrong = int(((probs >= 0.5) != (outputs["labels"].round() == 1)).sum())
        title = (
            f"epoch {trainer.current_epoch}: the {len(images)} most confident of {n_wrong} validation "
            f"mistakes (of {len(probs)} crops) at p(fake) = 0.5"
        )
        fig = mistakes_figure(
            images, [lab for _, lab, _ in self.last], [p for *_, p in self.last], captions, title
        )
        path = Path(self.out_dir) / "val_mistakes.png" if self.out_dir else None
        publish(trainer, fig, "val/mistakes", trainer.current_epoch, path)


class ParameterHistograms(L.Callback):
    """Weight and gradient histograms of the LightningModule's trainable parameters every
    ``every_n_epochs`` epochs (0: never), to TensorBoard.

    Gradients are taken at the first optimizer step of a due epoch (after AMP unscaling and the
    DDP all-reduce, as the optimizer sees them); weights at the end of that epoch.
    """

    def __init__(self, every_n_epochs: int = 0) -> None:
        if every_n_epochs < 0:
            raise ValueError(
                f"ParameterHistograms.every_n_epochs must be >= 0 (0 = off), got {every_n_epochs}"
            )
        self.every_n_epochs = every_n_epochs
        self._grads_done_epoch = -1

    def due(self, epoch: int) -> bool:
        return self.every_n_epochs > 0 and (epoch + 1) % self.every_n_epochs == 0

    def on_before_optimizer_step(
        self, trainer: L.Trainer, pl_module: L.LightningModule, optimizer: Any
    ) -> None:
        epoch = trainer.current_epoch
        if not trainer.is_global_zero or not self.due(epoch) or self._grads_done_epoch == epoch:
            return
        self._grads_done_epoch = epoch
        for writer in tensorboards(trainer):
            for name, param in pl_module.named_parameters():
                if param.grad is not None:
                    writer.add_histogram(f"gradients/{name}", param.grad.detach().float().cpu(), epoch)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        epoch = trainer.current_epoch
        if not trainer.is_global_zero or not self.due(epoch):
            return
        for writer in tensorboards(trainer):
            for name, param in pl_module.named_parameters():
                if param.requires_grad:
                    writer.add_histogram(f"weights/{name}", param.detach().float().cpu(), epoch)
