"""Pixel-level localisation metrics: predicted blend masks against the true ones.

A self-blended image (Shiohara & Yamasaki, "Detecting Deepfakes with Self-Blended Images",
CVPR 2022, https://arxiv.org/abs/2204.08376) has a known blend mask: the soft alpha in [0, 1]
with which the transformed face was pasted. A localising net predicts it per pixel; Face X-ray
(Li et al., CVPR 2020, https://arxiv.org/abs/1912.13458) scores such maps per pixel in the same
way. Both metrics pool every pixel of every image (real images, whose true mask is empty,
included, so a mask predicted on a real face counts against the detector):

- **binarising the truth**: a pixel is forged when its alpha exceeds half of its own image's
  largest alpha (:data:`TRUE_MASK_FRACTION`), so the region does not shrink or vanish with the
  blend ratio that scaled the mask; an image whose mask is all zero (a real face) has no forged
  pixel;
- ``pixel_auc``: ROC AUC of the predicted probabilities against that binary truth (NaN when
  every pixel has the same truth);
- ``pixel_iou``: intersection over union of the predicted region (probability > 0.5,
  :data:`IOU_THRESHOLD`, the decision rule of a sigmoid) and the true one, over all pixels
  (NaN when both are empty).
"""

from __future__ import annotations

import math

from torch import Tensor
from torchmetrics.functional.classification import binary_auroc

#: A pixel is truly forged when its alpha exceeds this fraction of its image's largest alpha.
TRUE_MASK_FRACTION = 0.5
#: A pixel is predicted forged when its predicted probability exceeds this.
IOU_THRESHOLD = 0.5


def binarize_masks(masks: Tensor, fraction: float = TRUE_MASK_FRACTION) -> Tensor:
    """Boolean masks [B, ...] of soft masks [B, ...]: alpha > ``fraction`` × the image's largest
    alpha, and nothing for an all-zero mask."""
    if masks.ndim < 2:
        raise ValueError(f"masks must be [B, ...] with one mask per image, got shape {tuple(masks.shape)}")
    flat = masks.detach().float().flatten(1)
    peak = flat.amax(dim=1, keepdim=True)
    return ((flat > fraction * peak) & (peak > 0)).reshape(masks.shape)


def _check(probs: Tensor, masks: Tensor) -> None:
    if probs.shape != masks.shape:
        raise ValueError(
            f"predicted masks {tuple(probs.shape)} and true masks {tuple(masks.shape)} must have one shape"
        )


def pixel_auc(probs: Tensor, masks: Tensor) -> float:
    """ROC AUC of predicted mask probabilities against the binarised true masks, over all pixels."""
    _check(probs, masks)
    truth = binarize_masks(masks).flatten()
    if truth.all() or not truth.any():
        return math.nan
    return float(binary_auroc(probs.detach().float().flatten(), truth.long()))


def pixel_iou(probs: Tensor, masks: Tensor, threshold: float = IOU_THRESHOLD) -> float:
    """|predicted ∩ true| / |predicted ∪ true| over all pixels; predicted = probability > ``threshold``."""
    _check(probs, masks)
    truth = binarize_masks(masks)
    predicted = probs.detach().float() > threshold
    union = int((truth | predicted).sum())
    return math.nan if union == 0 else int((truth & predicted).sum()) / union


def localization_metrics(probs: Tensor, masks: Tensor) -> dict[str, float]:
    """``{"pixel_auc": ..., "pixel_iou": ...}`` of predicted probabilities [B, 1, S, S] against
    true soft masks of the same shape."""
    return {"pixel_auc": pixel_auc(probs, masks), "pixel_iou": pixel_iou(probs, masks)}
