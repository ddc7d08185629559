"""Any timm backbone as a detector: ``model=timm model.net.model_name=efficientnet_b0``.

The backbone is ``timm.create_model(model_name, num_classes=0)`` (pooled features), the head
ours: dropout then one linear layer, so ``dropout`` always acts (some timm models ignore
``drop_rate``). Input size, mean and std come from the model's timm pretrained config unless
``input_size`` overrides the size. EfficientNet-B4 (Tan & Le, "EfficientNet: Rethinking
Model Scaling for Convolutional Neural Networks", ICML 2019, https://arxiv.org/abs/1905.11946)
is this class with ``model_name=efficientnet_b4`` (``conf/model/efficientnet_b4.yaml``).

``conv_padding`` fixes the zero padding of named convolutions, for weights trained where the
padding did not follow the input: efficientnet-pytorch computes TensorFlow's "same" padding once,
for the image size the model was built for, and keeps it whatever size it is fed, where timm's
``tf_`` models compute it from each input (see :mod:`dfd.published.efficientnet`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import timm
import torch
import torch.nn.functional as F
from torch import nn

from dfd.models.nets.base import Net, linear_head, refuse_localization
from dfd.models.nets.pretrained import create_timm_model, timm_input_spec


class TimmNet(Net):
    """A timm backbone with pooled features, then Dropout → Linear(num_features, num_classes).

    Args:
        num_classes: 1 for one fake logit, 2 for a softmax pair.
        pretrained: ImageNet weights via timm (fails fast offline, see ``pretrained``).
        dropout: dropout on the pooled features before the linear head.
        input_size: square input side in px; default the timm pretrained config's.
        model_name: any name from ``timm.list_models()``, optionally with a pretrained tag.
        drop_path_rate: stochastic depth in the backbone's residual blocks (models that have them).
        timm_kwargs: extra ``timm.create_model`` arguments, e.g. ``{img_size: 384}`` for a ViT.
        localization: add a blend-mask head on the backbone's last map (see
            :mod:`dfd.models.nets.base`); CNN backbones only, token models (ViTs) have no map.
        conv_padding: backbone convolution name → fixed zero padding ``[left, right, top, bottom]``
            (px) that replaces the convolution's own, e.g. ``{"conv_stem": [0, 0, 0, 0]}``.
    """

    small_config: ClassVar[dict[str, Any]] = {"model_name": "efficientnet_b0", "input_size": 64}

    def __init__(
        self,
        num_classes: int = 1,
        pretrained: bool = False,
        dropout: float = 0.0,
        input_size: int | None = None,
        *,
        model_name: str,
        drop_path_rate: float = 0.0,
        timm_kwargs: dict[str, Any] | None = None,
        localization: bool = False,
        conv_padding: Mapping[str, Sequence[int]] | None = None,
    ) -> None:
        super().__init__()
        arch = timm.models.split_model_name_tag(model_name)[0]
        if not model_name.startswith(("hf-hub:", "local-dir:")) and not timm.is_model(arch):
            raise ValueError(
                f"model.net.model_name={model_name!r} is not a timm model; see timm.list_models('*{model_name[:6]}*')."
            )
        kwargs = dict(timm_kwargs or {})
        if drop_path_rate > 0:  # not every architecture accepts the argument
            kwargs["drop_path_rate"] = drop_path_rate
        self.num_classes = num_classes
        self.backbone = create_timm_model(model_name, pretrained, num_classes=0, **kwargs)
        for name, padding in (conv_padding or {}).items():
            fix_padding(self.backbone, name, padding)
        self.input_spec = timm_input_spec(self.backbone, input_size)
        self.num_features = self.backbone.num_features
        self.head = linear_head(self.num_features, num_classes, dropout)
        if localization:
            # the map's channels can differ from num_features (MobileNetV3 has a conv after it)
            size = self.input_spec.size
            was_training = self.backbone.training
            with torch.no_grad():
                probe = self.backbone.eval().forward_features(torch.zeros(1, 3, size, size))
            self.backbone.train(was_training)
            if probe.ndim != 4:
                raise refuse_localization(
                    f"TimmNet({model_name})", f"its features are {probe.ndim}-d tokens, not a map"
                )
            self.add_localization(True, int(probe.shape[1]))

    def forward_feature_map(self, x: torch.Tensor) -> torch.Tensor:
        """timm's ``forward_features``: the last map [B, C, h, w] of a CNN backbone."""
        return self.backbone.forward_features(x)

    def pool_feature_map(self, feature_map: torch.Tensor) -> torch.Tensor:
        """timm's ``forward_head`` of a headless model: its pooling (what ``backbone(x)`` applies)."""
        return self.backbone.forward_head(feature_map)


class FixedPadConv2d(nn.Conv2d):
    """A convolution whose input is zero-padded by a fixed ``(left, right, top, bottom)`` first."""

    def __init__(self, conv: nn.Conv2d, padding: Sequence[int]) -> None:
        super().__init__(
            conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, 0, conv.dilation,
            conv.groups, conv.bias is not None,
        )  # fmt: skip
        self.weight = conv.weight
        self.bias = conv.bias
        self.fixed_padding = tuple(int(p) for p in padding)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._conv_forward(F.pad(x, self.fixed_padding), self.weight, self.bias)


def fix_padding(backbone: nn.Module, name: str, padding: Sequence[int]) -> None:
    """Replace the convolution ``name`` of ``backbone`` by a :class:`FixedPadConv2d` of ``padding``."""
    try:
        conv = backbone.get_submodule(name)
    except AttributeError:
        conv = None
    if not isinstance(conv, nn.Conv2d):
        raise ValueError(
            f"model.net.conv_padding: {name!r} is not a convolution of the backbone; expected a name of "
            "backbone.named_modules() whose module is a Conv2d"
        )
    if len(padding) != 4 or any(int(p) < 0 for p in padding):
        raise ValueError(
            f"model.net.conv_padding.{name}={list(padding)}: expected [left, right, top, bottom], each >= 0"
        )
    parent, _, attr = name.rpartition(".")
    setattr(backbone.get_submodule(parent) if parent else backbone, attr, FixedPadConv2d(conv, padding))
