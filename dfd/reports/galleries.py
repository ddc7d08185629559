"""Image grids: augmented training samples beside their originals, the validation mistakes
a detector is most sure of, and self-blended crops with their true and predicted blend masks.
Figures only; the callbacks in :mod:`dfd.callbacks.tracking` and
:mod:`dfd.callbacks.localization` draw them during training and send them to TensorBoard and
the run's ``report/`` folder.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

LABEL_NAMES = {0: "real", 1: "fake"}


def _hwc(image: torch.Tensor | np.ndarray) -> np.ndarray:
    """A ``[3, H, W]`` float tensor in [0, 1] or an ``[H, W, 3]`` array, as an ``[H, W, 3]`` array for imshow."""
    array = image.detach().cpu().numpy() if isinstance(image, torch.Tensor) else np.asarray(image)
    if array.ndim == 3 and array.shape[0] in (1, 3) and array.shape[-1] not in (1, 3):
        array = array.transpose(1, 2, 0)
    return array


def target_text(target: float) -> str:
    """A (possibly soft) target as words: ``real``, ``fake`` or ``63% fake`` for a mixed image."""
    if target in (0.0, 1.0):
        return LABEL_NAMES[int(target)]
    return f"{100 * target:.0f}% fake"


def augmentation_figure(
    original: torch.Tensor, augmented: torch.Tensor, label: Sequence[float], target: Sequence[float]
) -> Figure:
    """Two rows: the crops as evaluation sees them, and as training sees them (augmented, and
    mixed when MixUp or CutMix is on), each titled with its label and training target."""
    n = len(original)
    fig, axes = plt.subplots(2, n, figsize=(1.7 * n, 4.3), squeeze=False)
    for j in range(n):
        axes[0, j].imshow(_hwc(original[j]))
        axes[0, j].set_title(LABEL_NAMES[int(label[j])], fontsize=8)
        axes[1, j].imshow(_hwc(augmented[j]))
        axes[1, j].set_title(target_text(float(target[j])), fontsize=8)
        for ax in axes[:, j]:
            ax.set_xticks([])
            ax.set_yticks([])
    axes[0, 0].set_ylabel("evaluation", fontsize=8)
    axes[1, 0].set_ylabel("training", fontsize=8)
    fig.suptitle("training augmentation (top: as evaluated; bottom: as trained on)", fontsize=9)
    fig.tight_layout()
    return fig


def mistakes_figure(
    images: Sequence[np.ndarray],
    labels: Sequence[int],
    probs: Sequence[float],
    captions: Sequence[str],
    title: str,
) -> Figure:
    """A grid of misclassified crops, each titled with its true label, its fake probability and a
    caption (its video). Nothing to show draws one panel that says so."""
    n = len(images)
    cols = min(max(n, 1), 8)
    rows = max(1, math.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(1.8 * cols, 2.1 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    if n == 0:
        axes[0, 0].text(0.5, 0.5, "no mistakes", ha="center", va="center")
    for k, (image, label, p, caption) in enumerate(zip(images, labels, probs, captions, strict=True)):
        ax = axes.flat[k]
        ax.imshow(image)
        ax.set_title(f"{LABEL_NAMES[int(label)]}, p(fake)={p:.2f}\n{caption[-18:]}", fontsize=7)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


def localization_figure(
    crops: Sequence[np.ndarray],
    true_masks: Sequence[np.ndarray],
    predicted: Sequence[np.ndarray] | None,
    cams: Sequence[np.ndarray] | None,
    captions: Sequence[str],
    title: str,
) -> Figure:
    """One row per crop: the crop ``[S, S, 3]``, its true blend mask ``[S, S]`` in [0, 1], the
    predicted mask (when the net has a localisation head) and the Grad-CAM heatmap over the crop
    (when given), each row captioned."""
    columns = ["crop", "true mask"]
    if predicted is not None:
        columns.append("predicted mask")
    if cams is not None:
        columns.append("Grad-CAM")
    n = len(crops)
    fig, axes = plt.subplots(
        max(n, 1), len(columns), figsize=(1.9 * len(columns), 1.9 * max(n, 1)), squeeze=False
    )
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    for j, name in enumerate(columns):
        axes[0, j].set_title(name, fontsize=8)
    for i in range(n):
        axes[i, 0].imshow(_hwc(crops[i]))
        axes[i, 0].set_ylabel(captions[i], fontsize=7)
        axes[i, 1].imshow(true_masks[i], cmap="gray", vmin=0.0, vmax=1.0)
        j = 2
        if predicted is not None:
            axes[i, j].imshow(predicted[i], cmap="gray", vmin=0.0, vmax=1.0)
            j += 1
        if cams is not None:
            axes[i, j].imshow(_hwc(crops[i]))
            axes[i, j].imshow(cams[i], cmap="jet", alpha=0.45, vmin=0.0, vmax=1.0)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout(
        rect=(0, 0, 1, 1 - 0.3 / (1.9 * max(n, 1)))
    )  # 0.3 in for the title above the column names
    return fig
