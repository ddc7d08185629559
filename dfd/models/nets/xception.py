"""Xception for face forgery, as used by FaceForensics++.

Chollet, "Xception: Deep Learning with Depthwise Separable Convolutions", CVPR 2017;
Rössler et al., "FaceForensics++", ICCV 2019, https://arxiv.org/abs/1901.08971.
The backbone is timm's ``legacy_xception`` (the original Keras port, 299 px, mean = std = 0.5).
timm's ``drop_rate`` does nothing in that model, so our head applies the dropout.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch

from dfd.core.input_spec import InputSpec
from dfd.models.nets.base import Net, linear_head
from dfd.models.nets.pretrained import create_timm_model


class Xception(Net):
    """legacy_xception backbone (2048-d pooled features) + dropout + linear head.

    Args:
        num_classes: 1 for one fake logit, 2 for a softmax pair.
        pretrained: ImageNet weights via timm (fails fast offline, see ``pretrained``).
        dropout: dropout on the pooled features before the linear head.
        input_size: square input side in px (FaceForensics++: 299).
        localization: add a blend-mask head on the last map (see :mod:`dfd.models.nets.base`).
    """

    #: the default contract, readable from the class; instances built for another size override it
    input_spec = InputSpec(size=299, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5))
    small_config: ClassVar[dict[str, Any]] = {"input_size": 64}

    def __init__(
        self,
        num_classes: int = 1,
        pretrained: bool = False,
        dropout: float = 0.5,
        input_size: int = 299,
        *,
        localization: bool = False,
    ) -> None:
        super().__init__()
        self.num_classes = num_classes
        # px; the network is fully convolutional, smaller sizes are for quick tests
        self.input_spec = InputSpec(
            size=input_size, mean=Xception.input_spec.mean, std=Xception.input_spec.std
        )
        # ImageNet weights (the Keras port); offline this fails fast, see pretrained.py
        self.backbone = create_timm_model("legacy_xception", pretrained, num_classes=0)
        self.num_features = self.backbone.num_features
        self.head = linear_head(self.num_features, num_classes, dropout)
        self.add_localization(localization, self.num_features)

    def forward_feature_map(self, x: torch.Tensor) -> torch.Tensor:
        """The exit flow's last map: [B, 2048, h, w]."""
        return self.backbone.forward_features(x)

    def pool_feature_map(self, feature_map: torch.Tensor) -> torch.Tensor:
        """timm's global average pool (what ``backbone(x)`` applies)."""
        return self.backbone.forward_head(feature_map)
