"""The picture of one scored input (``dfd.predict visualize=true``): why it was called fake.

The top row shows sampled frames (an image's one frame) with every face box, drawn red when its
crop scored above the decision threshold and green otherwise, and the crop's score. The bottom
row shows the deciding face's crops with their Grad-CAM heatmap over them: warm where the net's
fake logit grew. A net with a localisation head (``model.localization=true``) adds a third row:
its predicted blend mask of each of those crops (white where it sees a blended region). The title
gives the input, its score, the decision and the threshold.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless servers and CI: never open a window

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

FAKE_COLOR, REAL_COLOR = "#d62728", "#2ca02c"


@dataclass
class FramePanel:
    """One frame: the image, its label, and ``(box (x1, y1, x2, y2) in the image's pixels, score)``
    for each face found in it."""

    image: np.ndarray
    label: str
    faces: Sequence[tuple[Sequence[float], float]]


@dataclass
class CropPanel:
    """One face crop with its heatmap (``float[S, S]`` in [0, 1], any size), label and, from a
    localising net, its predicted blend mask (``float[S, S]`` probabilities, any size)."""

    crop: np.ndarray
    heatmap: np.ndarray
    label: str
    mask: np.ndarray | None = None


def save_explanation(
    path: str | Path, title: str, frames: Sequence[FramePanel], crops: Sequence[CropPanel], threshold: float
) -> Path:
    """Draw the frames over the crops (see the module docstring) and save a PNG at ``path``."""
    import cv2

    columns = max(len(frames), len(crops), 1)
    width = 2.3  # in, per column
    aspect = max((f.image.shape[0] / f.image.shape[1] for f in frames), default=1.0)
    masks = any(c.mask is not None for c in crops)
    ratios = [aspect, 1, 1] if masks else [aspect, 1]
    fig, axes = plt.subplots(len(ratios), columns, figsize=(max(width * columns, 7.0), width * sum(ratios) + 1.4),
                             squeeze=False, gridspec_kw={"height_ratios": ratios})  # fmt: skip
    for ax in axes.ravel():
        ax.axis("off")
    for ax, panel in zip(axes[0], frames, strict=False):
        ax.imshow(panel.image)
        for box, score in panel.faces:
            color = FAKE_COLOR if score > threshold else REAL_COLOR
            x1, y1, x2, y2 = box
            ax.add_patch(Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, color=color, linewidth=1.5))
            ax.text(x1, y1, f"{score:.2f}", color="white", fontsize=7, va="bottom",
                    bbox={"facecolor": color, "edgecolor": "none", "pad": 1})  # fmt: skip
        ax.set_title(panel.label, fontsize=8)
    for ax, panel in zip(axes[1], crops, strict=False):
        heat = cv2.resize(
            panel.heatmap.astype(np.float32), panel.crop.shape[1::-1], interpolation=cv2.INTER_LINEAR
        )
        ax.imshow(panel.crop)
        ax.imshow(heat, cmap="jet", alpha=0.45, vmin=0.0, vmax=1.0)
        ax.set_title(panel.label, fontsize=8)
    if masks:
        for ax, panel in zip(axes[2], crops, strict=False):
            if panel.mask is not None:
                ax.imshow(panel.mask, cmap="gray", vmin=0.0, vmax=1.0)
                ax.set_title("predicted blend mask", fontsize=8)
    fig.suptitle(title, fontsize=9)
    note = "Grad-CAM of the fake logit over the deciding face (warm: pushed towards fake)"
    note = (
        f"second row: {note}; third row: the net's predicted blend mask (white: blended)"
        if masks
        else f"bottom row: {note}"
    )
    fig.text(0.01, 0.01, note, fontsize=7)
    fig.tight_layout(rect=(0, 0.03, 1, 0.95))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
