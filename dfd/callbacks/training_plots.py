"""End-of-training figures: ``learning_curves.png`` and ``training_metrics.png``.

Read back from the run's TensorBoard event files when fitting ends, so a run resumed with
``ckpt_path=...`` (which keeps writing into the same folder) gets curves over all its epochs.
``learning_curves.png``: train and val loss per epoch. ``training_metrics.png``: accuracy,
precision, recall, F1 and AUC per epoch, train and val. These are the two figures of the
DFDC training report that AVFF users expect (seed 000).
"""

from __future__ import annotations

import logging
from pathlib import Path

import lightning as L
import matplotlib

matplotlib.use("Agg")  # files only; no display on training machines
import matplotlib.pyplot as plt  # noqa: E402
from lightning.pytorch.loggers import TensorBoardLogger  # noqa: E402
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402

log = logging.getLogger(__name__)

METRICS = ("acc", "precision", "recall", "f1", "auc")


def read_scalars(event_dir: str | Path) -> dict[str, list[float]]:
    """Every scalar series of a TensorBoard folder, in logging order."""
    acc = EventAccumulator(str(event_dir), size_guidance={"scalars": 0})
    acc.Reload()
    return {tag: [e.value for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


def _series(scalars: dict[str, list[float]], *tags: str) -> list[float]:
    return next((scalars[t] for t in tags if t in scalars), [])


def plot_training(scalars: dict[str, list[float]], out_dir: str | Path) -> list[Path]:
    """Write the two figures from epoch-level scalars; return their paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(6, 4))
    for label, values in (
        ("train", _series(scalars, "train/loss_epoch", "train/loss")),
        ("val", _series(scalars, "val/loss")),
    ):
        if values:
            ax.plot(range(1, len(values) + 1), values, marker="o", label=label)
    ax.set(xlabel="epoch", ylabel="loss", title="Learning curves")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    curves = out_dir / "learning_curves.png"
    fig.savefig(curves, dpi=110)
    plt.close(fig)

    fig, axes = plt.subplots(1, len(METRICS), figsize=(3.2 * len(METRICS), 3.2), sharex=True)
    for ax, name in zip(axes, METRICS, strict=True):
        for split in ("train", "val"):
            values = _series(scalars, f"{split}/{name}", f"{split}/{name}_epoch")
            if values:
                ax.plot(range(1, len(values) + 1), values, marker="o", label=split)
        ax.set(title=name, xlabel="epoch", ylim=(-0.02, 1.02))
        ax.grid(alpha=0.3)
    if axes[0].get_legend_handles_labels()[0]:  # stage-1 pre-training logs no accuracy
        axes[0].legend()
    fig.tight_layout()
    panel = out_dir / "training_metrics.png"
    fig.savefig(panel, dpi=110)
    plt.close(fig)
    return [curves, panel]


class TrainingPlots(L.Callback):
    """Writes the training figures into ``report_dir`` when ``fit`` ends (rank zero only)."""

    def __init__(self, report_dir: str) -> None:
        self.report_dir = report_dir

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not trainer.is_global_zero:
            return
        tb = next((lg for lg in trainer.loggers if isinstance(lg, TensorBoardLogger)), None)
        if tb is None:
            log.warning("TrainingPlots needs the TensorBoard logger (logger=tensorboard); no figures written")
            return
        tb.experiment.flush()
        paths = plot_training(read_scalars(tb.log_dir), self.report_dir)
        log.info("Training figures: %s", ", ".join(str(p) for p in paths))
