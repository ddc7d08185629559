"""Losses for binary detectors, all called as ``loss(logits[B, C], target[B])``.

``target`` holds 0 for real and 1 for fake as floats. ``C = 1`` means one fake logit.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class BCELoss(nn.Module):
    """Binary cross-entropy on one fake logit (``BCEWithLogits``)."""

    def __init__(self, pos_weight: float | None = None) -> None:
        super().__init__()
        self.pos_weight = pos_weight

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if logits.shape[-1] != 1:
            raise ValueError(
                f"BCE expects one logit per sample, got shape {tuple(logits.shape)}: "
                "use loss=ce with a 2-class net, or set model.net.num_classes=1"
            )
        pos_weight = None if self.pos_weight is None else logits.new_tensor(self.pos_weight)
        return F.binary_cross_entropy_with_logits(logits[:, 0], target.float(), pos_weight=pos_weight)
