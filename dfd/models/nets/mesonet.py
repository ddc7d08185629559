"""MesoNet: Meso-4 and MesoInception-4, compact CNNs for mesoscopic face-forgery artefacts.

Afchar, Nozick, Yamagishi, Echizen, "MesoNet: a Compact Facial Video Forgery Detection
Network", IEEE WIFS 2018, https://arxiv.org/abs/1809.00888. Reference code (Keras):
https://github.com/DariusAf/MesoNet (``classifiers.py``).

Faithful to the paper and its code: 256 px inputs scaled to [0, 1] (no mean/std), each
convolution followed by ReLU, then BatchNorm (per layer), then max pooling; a two-layer
classifier with dropout 0.5 and LeakyReLU(0.1). The original ends in a single sigmoid unit;
here that unit's pre-activation is returned (one logit), to be trained with BCE-with-logits,
which is the same model with a numerically stable loss. BatchNorm keeps Keras' eps (1e-3) but
PyTorch's running-statistics momentum (0.1, Keras 0.01): with Keras' slower average the
validation statistics lag far behind on short runs (val AUC 0.62 instead of > 0.75 after four
synthetic epochs). Weights keep PyTorch's default initialisation. Trainable parameters at 256 px: 27,977 (Meso-4) and 28,615 (MesoInception-4),
as stated in the paper.

Three keyword options, off by default, rebuild the PyTorch port DeepfakeBench trained its released
MesoNets with (layout read from DeepfakeBench ``training/networks/mesonet.py``; imported by
:mod:`dfd.published.mesonet`): ``conv_bias=False`` (its convolutions have no bias), ``bn_eps=1e-5``
(PyTorch's default epsilon) and, for MesoInception-4, ``inception_relu=False`` (its inception
branches are linear: no ReLU after any of their convolutions, where the paper's code has one after
each). That port also shares one BatchNorm between two stages (conv 1 and 2, conv 3 and 4 of
Meso-4; the last two convolutions of MesoInception-4); in evaluation mode this equals two
BatchNorms holding the same values, which is how its weights are imported.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import torch
from torch import nn

from dfd.core.input_spec import InputSpec
from dfd.models.nets.base import Net

#: MesoNet reads pixels rescaled to [0, 1] (Keras ``rescale=1/255``), without normalisation.
MESONET_INPUT_SPEC = InputSpec(size=256, mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0))


#: Keras' BatchNorm epsilon, the default of every MesoNet here (see the module docstring)
KERAS_BN_EPS = 1e-3


def _bn(channels: int, eps: float) -> nn.BatchNorm2d:
    # momentum stays PyTorch's 0.1 (see the module docstring).
    return nn.BatchNorm2d(channels, eps=eps)


def _pool(size: int) -> nn.MaxPool2d:
    # Keras MaxPooling2D(padding="same") with stride = pool size keeps the partial last window.
    return nn.MaxPool2d(size, stride=size, ceil_mode=True)


class _ConvReLU(nn.Sequential):
    """Keras ``Conv2D(out, k, padding='same', dilation_rate=d, activation='relu')``; without the ReLU
    (an identity in its place, so the parameter names stay) when ``relu`` is false."""

    def __init__(
        self, in_ch: int, out_ch: int, kernel: int, dilation: int = 1, bias: bool = True, relu: bool = True
    ) -> None:
        super().__init__(
            nn.Conv2d(
                in_ch, out_ch, kernel, padding=dilation * (kernel - 1) // 2, dilation=dilation, bias=bias
            ),
            nn.ReLU(inplace=True) if relu else nn.Identity(),
        )


class InceptionLayer(nn.Module):
    """MesoInception block: 1x1, 1x1→3x3, 1x1→3x3 dilated 2, 1x1→3x3 dilated 3, concatenated.

    ``bias`` and ``relu`` apply to every convolution of the block (the paper: both true).
    """

    def __init__(
        self, in_ch: int, a: int, b: int, c: int, d: int, *, bias: bool = True, relu: bool = True
    ) -> None:
        super().__init__()
        opts = {"bias": bias, "relu": relu}
        self.branch1 = _ConvReLU(in_ch, a, 1, **opts)
        self.branch2 = nn.Sequential(_ConvReLU(in_ch, b, 1, **opts), _ConvReLU(b, b, 3, **opts))
        self.branch3 = nn.Sequential(_ConvReLU(in_ch, c, 1, **opts), _ConvReLU(c, c, 3, dilation=2, **opts))
        self.branch4 = nn.Sequential(_ConvReLU(in_ch, d, 1, **opts), _ConvReLU(d, d, 3, dilation=3, **opts))
        self.out_channels = a + b + c + d

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], dim=1)


def _pooled_size(size: int, pools: tuple[int, ...]) -> int:
    for p in pools:
        size = math.ceil(size / p)
    return size


class _MesoBase(Net):
    """Shared classifier: Flatten → Dropout → Dense(16) → LeakyReLU(0.1) → Dropout → Dense(1).

    ``forward_features`` is the flattened output of the convolutional backbone; the two dense
    layers are the head, as in the paper.
    """

    POOLS = (2, 2, 2, 4)
    #: the default contract, readable from the class; instances built for another size override it
    input_spec = MESONET_INPUT_SPEC
    #: test size: 64 px, a sixteenth of the paper's pixels
    small_config: ClassVar[dict[str, Any]] = {"input_size": 64}

    def _build_head(
        self, num_classes: int, pretrained: bool, input_size: int, dropout: float, localization: bool
    ) -> None:
        if pretrained:
            raise ValueError(
                f"{type(self).__name__} has no published pretrained weights (it is trained from scratch): "
                "set model.net.pretrained=false, or start from a file with model.weights_path=<.ckpt or .pth>"
            )
        if num_classes < 1:
            raise ValueError(f"num_classes must be 1 (one fake logit) or 2, got {num_classes}")
        side = _pooled_size(input_size, self.POOLS)
        self.num_classes = num_classes
        self.num_features = 16 * side * side
        self.input_spec = InputSpec(size=input_size, mean=MESONET_INPUT_SPEC.mean, std=MESONET_INPUT_SPEC.std)
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Dropout(dropout),
            nn.Linear(16 * side * side, 16),
            nn.LeakyReLU(0.1),
            nn.Dropout(dropout),
            nn.Linear(16, num_classes),
        )
        self.add_localization(localization, 16)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """The flattened backbone maps: [B, num_features]."""
        return self.backbone(x).flatten(1)

    def forward_feature_map(self, x: torch.Tensor) -> torch.Tensor:
        """The last pooled stage's maps: [B, 16, S/32, S/32]."""
        return self.backbone(x)

    def pool_feature_map(self, feature_map: torch.Tensor) -> torch.Tensor:
        """MesoNet flattens its maps (the paper's Flatten before the dense layers)."""
        return feature_map.flatten(1)


class Meso4(_MesoBase):
    """Meso-4: four conv(ReLU)→BN→max-pool stages (8, 8, 16, 16 channels) and the 16-unit head.

    Args:
        num_classes: 1 for one fake logit (the paper's sigmoid unit), 2 for a softmax pair.
        pretrained: must be false: MesoNet is trained from scratch.
        dropout: dropout before each dense layer (paper: 0.5).
        input_size: square input side in px (paper: 256).
        localization: add a blend-mask head on the last maps (see :mod:`dfd.models.nets.base`).
        conv_bias: give the convolutions a bias (paper: true; DeepfakeBench's port: false).
        bn_eps: BatchNorm epsilon (paper, Keras: 1e-3; DeepfakeBench's port: 1e-5).
    """

    def __init__(
        self,
        num_classes: int = 1,
        pretrained: bool = False,
        dropout: float = 0.5,
        input_size: int = 256,
        *,
        localization: bool = False,
        conv_bias: bool = True,
        bn_eps: float = KERAS_BN_EPS,
    ) -> None:
        super().__init__()
        self.backbone = nn.Sequential(
            _ConvReLU(3, 8, 3, bias=conv_bias),
            _bn(8, bn_eps),
            _pool(2),
            _ConvReLU(8, 8, 5, bias=conv_bias),
            _bn(8, bn_eps),
            _pool(2),
            _ConvReLU(8, 16, 5, bias=conv_bias),
            _bn(16, bn_eps),
            _pool(2),
            _ConvReLU(16, 16, 5, bias=conv_bias),
            _bn(16, bn_eps),
            _pool(4),
        )
        self._build_head(num_classes, pretrained, input_size, dropout, localization)


class MesoInception4(_MesoBase):
    """MesoInception-4: two inception layers (1,4,4,2) and (2,4,4,2), then two 5x5 conv stages.

    Args:
        num_classes: 1 for one fake logit (the paper's sigmoid unit), 2 for a softmax pair.
        pretrained: must be false: MesoNet is trained from scratch.
        dropout: dropout before each dense layer (paper: 0.5).
        input_size: square input side in px (paper: 256).
        localization: add a blend-mask head on the last maps (see :mod:`dfd.models.nets.base`).
        conv_bias: give the convolutions a bias (paper: true; DeepfakeBench's port: false).
        bn_eps: BatchNorm epsilon (paper, Keras: 1e-3; DeepfakeBench's port: 1e-5).
        inception_relu: a ReLU after each convolution of the inception layers (paper: true;
            DeepfakeBench's port: false, its inception layers are linear up to the BatchNorm).
    """

    def __init__(
        self,
        num_classes: int = 1,
        pretrained: bool = False,
        dropout: float = 0.5,
        input_size: int = 256,
        *,
        localization: bool = False,
        conv_bias: bool = True,
        bn_eps: float = KERAS_BN_EPS,
        inception_relu: bool = True,
    ) -> None:
        super().__init__()
        inc1 = InceptionLayer(3, 1, 4, 4, 2, bias=conv_bias, relu=inception_relu)
        inc2 = InceptionLayer(inc1.out_channels, 2, 4, 4, 2, bias=conv_bias, relu=inception_relu)
        self.backbone = nn.Sequential(
            inc1,
            _bn(inc1.out_channels, bn_eps),
            _pool(2),
            inc2,
            _bn(inc2.out_channels, bn_eps),
            _pool(2),
            _ConvReLU(inc2.out_channels, 16, 5, bias=conv_bias),
            _bn(16, bn_eps),
            _pool(2),
            _ConvReLU(16, 16, 5, bias=conv_bias),
            _bn(16, bn_eps),
            _pool(4),
        )
        self._build_head(num_classes, pretrained, input_size, dropout, localization)
