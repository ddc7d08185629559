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

The same metrics on real manipulations (FF++/DFD mask videos cut like the crops, binary) over a
whole split are computed from per-crop counts (:func:`pixel_counts`: a histogram of the predicted
probabilities of forged and of clean pixels in :data:`PIXEL_BINS` bins, the intersection and the
union), so that a split of any size is never held in memory pixel by pixel and any subset of crops
(one manipulation method) is scored by summing its rows (:func:`metrics_from_counts`). Within a bin,
forged and clean pixels count as ties (half), so the AUC is that of probabilities rounded down to
1/:data:`PIXEL_BINS`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
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


#: Bins over [0, 1] of the per-crop probability histograms the split-level pixel AUC is computed from.
PIXEL_BINS = 100


def pixel_counts(
    probs: Tensor, masks: Tensor, threshold: float = IOU_THRESHOLD, bins: int = PIXEL_BINS
) -> Tensor:
    """Per image, float64 ``[B, 2 * bins + 2]``: the histogram of predicted probabilities over its truly
    forged pixels, the same over its clean pixels, then ``|predicted ∩ true|`` and ``|predicted ∪ true|``
    (predicted = probability > ``threshold``); sum rows and pass them to :func:`metrics_from_counts`."""
    _check(probs, masks)
    truth = binarize_masks(masks).flatten(1)
    p = probs.detach().float().flatten(1).clamp(0.0, 1.0)
    b = (p * bins).long().clamp(max=bins - 1)
    forged = torch.zeros(len(p), bins, dtype=torch.float64, device=p.device).scatter_add_(
        1, b, truth.double()
    )
    clean = torch.zeros(len(p), bins, dtype=torch.float64, device=p.device).scatter_add_(
        1, b, (~truth).double()
    )
    predicted = p > threshold
    inter = (predicted & truth).sum(1, keepdim=True).double()
    union = (predicted | truth).sum(1, keepdim=True).double()
    return torch.cat([forged, clean, inter, union], dim=1)


def metrics_from_counts(counts: Tensor) -> dict[str, float]:
    """``{"pixel_auc", "pixel_iou"}`` of crops from their :func:`pixel_counts` rows ``[N, 2 * bins + 2]``
    (NaN where undefined, as :func:`pixel_auc` and :func:`pixel_iou`)."""
    total = counts.double().reshape(-1, counts.shape[-1]).sum(0)
    bins = (len(total) - 2) // 2
    forged, clean = total[:bins], total[bins : 2 * bins]
    n_forged, n_clean = float(forged.sum()), float(clean.sum())
    if n_forged == 0 or n_clean == 0:
        auc = math.nan
    else:  # Mann-Whitney: each forged pixel against the clean ones below its bin, ties in it half
        below = torch.cumsum(clean, 0) - clean
        auc = float((forged * (below + 0.5 * clean)).sum()) / (n_forged * n_clean)
    inter, union = float(total[-2]), float(total[-1])
    return {"pixel_auc": auc, "pixel_iou": math.nan if union == 0 else inter / union}


def localization_summary(
    counts: Tensor, methods: Sequence[str] | None = None, labels: Sequence[int] | None = None
) -> dict[str, Any]:
    """Pixel metrics of the crops with a known mask (their :func:`pixel_counts` rows): ``crops``,
    ``pixel_auc`` and ``pixel_iou`` over all of them and, given each row's manipulation ``methods``
    and ``labels``, ``by_method``: each method's fake crops with every real crop (label 0, whose
    mask is empty), as the detection metrics by method pair each method's fakes with all reals."""
    out: dict[str, Any] = {"crops": len(counts), **metrics_from_counts(counts)}
    if methods is None or labels is None or len(methods) != len(counts):
        return out
    names = [str(m) for m in methods]
    fake = torch.tensor([int(v) == 1 for v in labels], dtype=torch.bool)
    out["by_method"] = {}
    for method in sorted({n for n, f in zip(names, fake.tolist(), strict=True) if f}):
        mine = fake & torch.tensor([n == method for n in names], dtype=torch.bool)
        out["by_method"][method] = {"crops": int(mine.sum()), **metrics_from_counts(counts[mine | ~fake])}
    return out
