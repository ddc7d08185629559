"""Temporal detectors: nets that score a clip of ``clip_len`` consecutive face crops of one track.

A temporal net reads ``x`` [B, T, 3, S, S] (T = ``clip_len`` crops, each normalised by the net's
per-frame :attr:`~dfd.models.nets.base.Net.input_spec`) and returns one logit row per clip; its
instance attribute ``clip_len`` is what tells it from a frame net (``getattr(net, "clip_len",
None)``), and the exported graph's input is ``clip`` [N, T, 3, S, S] with T fixed. The clip length
is the data's (``model.net.clip_len: ${data.clip_len}``); a net given a clip of another length says
so. ``docs/temporal.md`` tables where each net departs from its paper.

* :class:`TemporalHead`: any registered dfd image net (a :class:`~dfd.models.nets.timm_net.TimmNet`,
  a :class:`~dfd.models.nets.foundation.FoundationNet`, …) encodes each frame by its
  ``forward_features``, frozen or tuned; a small transformer over the T frame features (learned
  position per frame, a CLS token or the mean) gives the clip's features. dfd's own baseline,
  after the frame-encoder-then-temporal-model design of e.g. Zheng et al. below.
* :class:`FTCN`: Zheng, Bao, Chen, Zeng, Wen, "Exploring Temporal Coherence for More General
  Video Face Forgery Detection", ICCV 2021, https://arxiv.org/abs/2108.06693. A 3D ResNet-50
  whose every spatial kernel is 1 (the Fully Temporal Convolution Network: only the temporal
  kernels see more than one position; the stem and the stages downsample space by stride, so
  the net still pools space, but never mixes neighbouring pixels), then a Temporal Transformer
  over the time axis of its feature map.
* :class:`TALL`: Xu, Lin, Chen, Wang, Lin, Wei, "TALL: Thumbnail Layout for Deepfake Video
  Detection", ICCV 2023, https://arxiv.org/abs/2307.07494. The T frames, each resized to
  ``S / grid``, are tiled row-major into one ``S × S`` thumbnail that any timm 2D backbone
  (the paper's Swin-B by default) classifies as an image.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from timm.models.vision_transformer import Block
from torch import nn

from dfd.models.nets.base import Net, linear_head

#: The pooling of :class:`TemporalTransformer` (``model.net.pool``).
POOLS = ("cls", "mean")


def check_clip(x: torch.Tensor, clip_len: int, size: int, name: str) -> None:
    """Refuse an input that is not a batch of clips [B, clip_len, 3, size, size]."""
    if x.ndim != 5 or x.shape[1] != clip_len or x.shape[2] != 3:
        raise ValueError(
            f"{name} reads clips [B, {clip_len}, 3, {size}, {size}] (model.net.clip_len={clip_len}), "
            f"got {list(x.shape)}; train it on clip samples (data.clips=true data.clip_len={clip_len})"
        )


class TemporalTransformer(nn.Module):
    """Tokens [B, T, in_features] → pooled features [B, dim].

    A linear projection to ``dim`` (none when the widths agree), a learned position embedding per
    step (and one for the CLS token with ``pool="cls"``), ``depth`` pre-norm transformer blocks
    (timm's ViT block: attention and a 4x MLP, each residual), a final LayerNorm, then the CLS
    token or the mean over the T steps.
    """

    def __init__(
        self,
        in_features: int,
        dim: int,
        depth: int,
        heads: int,
        clip_len: int,
        mlp_ratio: float = 4.0,
        dropout: float = 0.0,
        pool: str = "cls",
    ) -> None:
        super().__init__()
        if pool not in POOLS:
            raise ValueError(f"model.net.pool={pool!r} is not a pooling; expected one of {list(POOLS)}")
        if dim % heads:
            raise ValueError(f"model.net.dim={dim} is not a multiple of model.net.heads={heads}")
        self.pool = pool
        self.proj = nn.Identity() if in_features == dim else nn.Linear(in_features, dim)
        tokens = clip_len + (pool == "cls")
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim)) if pool == "cls" else None
        self.pos_embed = nn.Parameter(torch.zeros(1, tokens, dim))
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        self.pos_drop = nn.Dropout(dropout)
        self.blocks = nn.Sequential(
            *(
                Block(dim, heads, mlp_ratio, qkv_bias=True, proj_drop=dropout, attn_drop=dropout)
                for _ in range(depth)
            )
        )
        self.norm = nn.LayerNorm(dim)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        x = self.proj(tokens)
        if self.cls_token is not None:
            x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1)
        x = self.norm(self.blocks(self.pos_drop(x + self.pos_embed)))
        return x[:, 0] if self.cls_token is not None else x.mean(dim=1)


def transformer_parameters(in_features: int, dim: int, depth: int, clip_len: int, pool: str = "cls") -> int:
    """Parameters of a :class:`TemporalTransformer` with ``mlp_ratio`` 4, counted by hand: the
    projection, the position embeddings (and CLS token), per block two LayerNorms (4d), qkv
    (3d² + 3d), the attention's output (d² + d) and the MLP (4d² + 4d, 4d² + d), i.e. 12d² + 13d,
    and the final LayerNorm (2d)."""
    proj = 0 if in_features == dim else in_features * dim + dim
    tokens = clip_len + (pool == "cls")
    return proj + (pool == "cls") * dim + tokens * dim + depth * (12 * dim * dim + 13 * dim) + 2 * dim


class _ClipNet(Net):
    """What the temporal nets share: ``clip_len``, and random clips as :meth:`example_inputs`."""

    clip_len: int

    def example_inputs(self, batch_size: int = 2, seed: int = 0) -> tuple[torch.Tensor, ...]:
        """A batch of random clips [B, clip_len, 3, S, S] with S = ``input_spec.size``."""
        size = self.input_spec.size
        generator = torch.Generator().manual_seed(seed)
        return (torch.randn(batch_size, self.clip_len, 3, size, size, generator=generator),)


class TemporalHead(_ClipNet):
    """A registered dfd image net per frame, then a small transformer over the T frame features.

    The frame net is built from its registered name and keyword arguments (plain values, so runs
    and exported folders rebuild it); its classifier is dropped (``forward_features`` is all
    that is read) and it becomes ``backbone``, so ``model.freeze_backbone`` and
    ``model.backbone_lr`` address it as they address a frame detector's.

    Args:
        num_classes: 1 for one fake logit, 2 for a softmax pair.
        pretrained: the frame net's own pretrained weights (its ``pretrained`` argument).
        dropout: dropout on the clip features before the linear head.
        input_size: square crop side in px, passed to the frame net (None = the frame net's default).
        clip_len: frames per clip, T.
        frame_net: the dotted name of a registered image net (:data:`dfd.models.nets.NETS`), e.g.
            ``dfd.models.nets.timm_net.TimmNet`` or ``dfd.models.nets.foundation.FoundationNet``.
        frame_kwargs: the frame net's other constructor arguments (``model_name``, ``backbone``,
            ``tuning``, …); ``num_classes``, ``pretrained`` and ``input_size`` are this net's.
        freeze_frame_net: freeze the frame net (and keep it in eval mode: fixed BatchNorm
            statistics, no dropout); false = it trains as its own arguments say (a FoundationNet
            keeps its ``tuning``).
        dim: the transformer's width (frame features are projected to it).
        depth: transformer blocks.
        heads: attention heads per block.
        mlp_ratio: MLP hidden width over ``dim``.
        transformer_dropout: dropout on the tokens, attention and residual branches.
        pool: ``cls`` (a learned CLS token) or ``mean`` (the mean over the T frames).
    """

    small_config: ClassVar[dict[str, Any]] = {
        "input_size": 32,
        "clip_len": 4,
        "frame_net": "dfd.models.nets.timm_net.TimmNet",
        "frame_kwargs": {"model_name": "resnet10t"},
        "dim": 32,
        "depth": 1,
        "heads": 2,
    }

    def __init__(
        self,
        num_classes: int = 1,
        pretrained: bool = False,
        dropout: float = 0.0,
        input_size: int | None = None,
        *,
        clip_len: int = 8,
        frame_net: str,
        frame_kwargs: dict[str, Any] | None = None,
        freeze_frame_net: bool = False,
        dim: int = 512,
        depth: int = 2,
        heads: int = 8,
        mlp_ratio: float = 4.0,
        transformer_dropout: float = 0.1,
        pool: str = "cls",
    ) -> None:
        super().__init__()
        from dfd.models.nets import net_class  # the registry imports this module's name, not it

        if int(clip_len) < 1:
            raise ValueError(f"model.net.clip_len={clip_len} must be at least 1 (data.clip_len)")
        kwargs = dict(frame_kwargs or {})
        for key in ("num_classes", "pretrained", "input_size"):
            if key in kwargs:
                raise ValueError(
                    f"model.net.frame_kwargs.{key} is the temporal net's own argument: set model.net.{key} instead"
                )
        if kwargs.get("localization"):
            raise ValueError(
                "model.net.frame_kwargs.localization=true: a temporal net predicts no blend mask"
            )
        cls = net_class(frame_net)
        if issubclass(cls, _ClipNet):
            raise ValueError(f"model.net.frame_net={frame_net!r} is a temporal net; name an image net")
        if input_size is not None:
            kwargs["input_size"] = int(input_size)
        encoder = cls(pretrained=pretrained, **kwargs)
        if getattr(encoder, "input_spec", None) is None:
            raise ValueError(f"model.net.frame_net={frame_net!r} reads no face crops; name an image net")
        encoder.head = nn.Identity()  # only forward_features is read: no unused classifier weights
        self.clip_len = int(clip_len)
        self.num_classes = num_classes
        self.input_spec = encoder.input_spec
        self.freeze_frame_net = bool(freeze_frame_net)
        self.backbone = encoder
        if self.freeze_frame_net:
            for p in encoder.parameters():
                p.requires_grad_(False)
        self.temporal = TemporalTransformer(
            encoder.num_features, dim, depth, heads, self.clip_len, mlp_ratio, transformer_dropout, pool
        )
        self.num_features = dim
        self.head = linear_head(dim, num_classes, dropout)

    def train(self, mode: bool = True) -> TemporalHead:
        super().train(mode)
        if self.freeze_frame_net:
            self.backbone.eval()  # a frozen encoder: fixed BatchNorm statistics, no dropout
        return self

    def frame_features(self, x: torch.Tensor) -> torch.Tensor:
        """The frame net's features of every frame: [B, T, frame features]."""
        check_clip(x, self.clip_len, self.input_spec.size, type(self).__name__)
        features = self.backbone.forward_features(x.flatten(0, 1))
        return features.reshape(-1, self.clip_len, features.shape[-1])

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Clip features [B, dim]: the transformer's pooled output over the frame features."""
        return self.temporal(self.frame_features(x))
