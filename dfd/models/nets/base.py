"""The base class of every registered net: timm's ``forward_features`` → ``forward_head`` = ``forward``.

A net builds ``self.backbone`` and ``self.head`` (the names fine-tuning addresses) and sets
``num_classes``, ``num_features`` and ``input_spec``; :class:`Net` supplies the rest. Nets whose
features are more than ``backbone(x)`` (two streams, pooling, checks on the input) override
:meth:`Net.forward_features`. Each net also declares its test size (:attr:`Net.small_config`), from
which the contract, training and export tests build every registered net.

Localisation (``localization=True``, ``model.localization`` in the configs): nets with a spatial
feature map (:meth:`Net.forward_feature_map`) can grow a :class:`LocalizationHead` that predicts
the blend mask of a self-blended face (Shiohara & Yamasaki, "Detecting Deepfakes with
Self-Blended Images", CVPR 2022, https://arxiv.org/abs/2204.08376) from the same map the
classifier pools, as Face X-ray predicts its blending boundary beside the label (Li et al.,
"Face X-ray for More General Face Forgery Detection", CVPR 2020, https://arxiv.org/abs/1912.13458).
The head is part of the net (``mask_head.*`` in its state dict), so checkpoints and exported
folders rebuild it from the net's arguments; ``forward`` stays the logits alone, and
:meth:`Net.forward_with_mask` returns both from one pass of the backbone.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from dfd.core.input_spec import InputSpec


class Net(nn.Module):
    """``forward(x) = forward_head(forward_features(x))``, with ``forward_features`` the pooled
    embedding [B, num_features] and ``forward_head`` the logits [B, num_classes].

    Subclasses set :attr:`small_config` (constructor keyword arguments of an instance that runs a
    batch in well under a second on CPU) and, when they read more than one batch of face crops,
    :meth:`example_inputs`.
    """

    #: Constructor keyword arguments at test size; every registered net declares its own.
    small_config: ClassVar[dict[str, Any]]
    #: Input size and normalisation the data side produces (``None``: the net reads no face crops).
    input_spec: InputSpec | None
    num_classes: int
    num_features: int
    backbone: nn.Module
    head: nn.Module
    #: whether the net has a :class:`LocalizationHead` (``mask_head``); see :meth:`add_localization`
    localization: bool = False

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled features [B, num_features]: the backbone's output."""
        return self.backbone(x)

    def forward_feature_map(self, x: torch.Tensor) -> torch.Tensor:
        """The last spatial feature map [B, C, h, w] that :meth:`pool_feature_map` turns into
        :meth:`forward_features`; nets without one (token or audio models) do not define it."""
        raise NotImplementedError(f"{type(self).__name__} has no spatial feature map")

    def pool_feature_map(self, feature_map: torch.Tensor) -> torch.Tensor:
        """Pooled features [B, num_features] from :meth:`forward_feature_map`'s map."""
        raise NotImplementedError(f"{type(self).__name__} has no spatial feature map")

    def add_localization(self, localization: bool, channels: int) -> None:
        """Build ``mask_head`` (a :class:`LocalizationHead` on ``channels`` map channels) when
        ``localization`` is true; nets with a spatial map call this at the end of ``__init__``."""
        self.localization = bool(localization)
        if self.localization:
            self.mask_head = LocalizationHead(channels)

    def forward_with_mask(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(logits [B, num_classes], mask logits [B, 1, S, S])`` from one backbone pass, the
        mask at the input's side ``S``; only for nets built with ``localization=True``."""
        if not self.localization:
            raise ValueError(
                f"{type(self).__name__} was built without a localisation head; set model.localization=true"
            )
        feature_map = self.forward_feature_map(x)
        return self.logits_from_feature_map(feature_map, x), self.mask_head(feature_map, x.shape[-2:])

    def logits_from_feature_map(self, feature_map: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Logits [B, num_classes] from :meth:`forward_feature_map`'s map of the input ``x`` (nets
        whose logits read more than that map, such as a second stream, use ``x``); with the map
        as a leaf, its gradient is what Grad-CAM weighs."""
        return self.forward_head(self.pool_feature_map(feature_map))

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        """Logits [B, num_classes] from :meth:`forward_features`."""
        return self.head(features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))

    def example_inputs(self, batch_size: int = 2, seed: int = 0) -> tuple[torch.Tensor, ...]:
        """Random arguments of :meth:`forward` at this instance's size: a batch of face crops
        [B, 3, S, S] with S = ``input_spec.size``."""
        if self.input_spec is None:
            raise NotImplementedError(
                f"{type(self).__name__} reads no face crops (input_spec is None): it must define example_inputs"
            )
        size = self.input_spec.size
        return (torch.randn(batch_size, 3, size, size, generator=torch.Generator().manual_seed(seed)),)


#: The nets that can localise (``model.localization=true``), named in refusals.
LOCALIZING_NETS = ("Meso4", "MesoInception4", "Xception", "TimmNet (CNN backbones)", "F3Net", "HybridViTCNN")


def refuse_localization(net_name: str, why: str = "it has no spatial feature map") -> ValueError:
    """The error of a net asked for ``localization=True`` that cannot localise."""
    return ValueError(
        f"{net_name} cannot predict a blend mask ({why}); set model.localization=false or use one "
        f"of {', '.join(LOCALIZING_NETS)}"
    )


class LocalizationHead(nn.Module):
    """Blend-mask logits from a feature map: a 1x1 convolution to one channel, then bilinear
    upsampling to the input's side.

    One linear map per location is the least a head can add: the mask is then a per-location
    reading of the features the classifier pools, so the mask loss shapes the same features
    the label does. Face X-ray decodes its boundary from HRNet's fused multi-scale maps; dfd's
    nets end in one coarse map (e.g. 12x12 for EfficientNet-B4 at 380 px), which bilinear
    upsampling smooths into the blurred masks SBI makes (docs/sbi.md lists this difference).
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, 1, kernel_size=1)

    def forward(self, feature_map: torch.Tensor, size: tuple[int, int] | torch.Size) -> torch.Tensor:
        """Mask logits [B, 1, *size]."""
        return F.interpolate(self.conv(feature_map), size=tuple(size), mode="bilinear", align_corners=False)


def linear_head(num_features: int, num_classes: int, dropout: float) -> nn.Sequential:
    """Dropout → Linear(num_features, num_classes): the head of most nets (state-dict keys ``1.*``)."""
    return nn.Sequential(nn.Dropout(dropout), nn.Linear(num_features, num_classes))
