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

import math
from collections.abc import Sequence
from typing import Any, ClassVar

import timm
import torch
import torch.nn.functional as F
from timm.models.vision_transformer import Block
from torch import nn

from dfd.core.input_spec import InputSpec
from dfd.models.nets.base import Net, linear_head
from dfd.models.nets.pretrained import create_timm_model, timm_input_spec

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
    (timm's ViT block: attention and an MLP ``mlp_ratio`` times wider, each residual; ``dropout``
    on the tokens and on both branches' outputs), a final LayerNorm, then the CLS token or the
    mean over the T steps.
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
        qkv_bias: bool = True,
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
            *(Block(dim, heads, mlp_ratio, qkv_bias=qkv_bias, proj_drop=dropout) for _ in range(depth))
        )
        self.norm = nn.LayerNorm(dim)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        x = self.proj(tokens)
        if self.cls_token is not None:
            x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1)
        x = self.norm(self.blocks(self.pos_drop(x + self.pos_embed)))
        return x[:, 0] if self.cls_token is not None else x.mean(dim=1)


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
                "a frame net with localization=true (in model.net.frame_kwargs): a temporal net predicts no blend "
                "mask; drop it, or set model.localization=false"
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


def refuse_pretrained(name: str) -> ValueError:
    """The error of a net without published weights asked for ``pretrained=True``."""
    return ValueError(
        f"{name} has no published pretrained weights (the paper trains it from scratch): set "
        "model.net.pretrained=false, or start from a file with model.weights_path=<.ckpt or .pth>"
    )


def conv_bn(
    cin: int, cout: int, temporal_kernel: int, stride: int, zero_init: bool = False
) -> list[nn.Module]:
    """A ``kt × 1 × 1`` convolution (no bias) and its BatchNorm, then a 1×2×2 max-pool for a spatial
    stride of 2: a kernel of spatial size 1 with stride 2 would drop three pixels in four, so the
    stride becomes a pooling of what the convolution saw."""
    conv = nn.Conv3d(cin, cout, (temporal_kernel, 1, 1), padding=(temporal_kernel // 2, 0, 0), bias=False)
    bn = nn.BatchNorm3d(cout)
    if zero_init:
        nn.init.zeros_(bn.weight)  # the residual branch starts as the identity
    return [conv, bn] + ([nn.MaxPool3d((1, stride, stride))] if stride > 1 else [])


class TemporalBottleneck(nn.Module):
    """3D ResNet bottleneck with every spatial kernel 1: ``kt×1×1`` (to ``width``), ``1×1×1``
    (stride), ``1×1×1`` (to ``4·width``), each with BatchNorm, ReLU between; a projection shortcut
    where the shape changes."""

    def __init__(self, cin: int, width: int, temporal_kernel: int, stride: int) -> None:
        super().__init__()
        cout = 4 * width
        self.branch = nn.Sequential(
            *conv_bn(cin, width, temporal_kernel, 1),
            nn.ReLU(inplace=True),
            *conv_bn(width, width, 1, stride),
            nn.ReLU(inplace=True),
            *conv_bn(width, cout, 1, 1, zero_init=True),
        )
        self.shortcut = (
            nn.Sequential(*conv_bn(cin, cout, 1, stride)) if cin != cout or stride > 1 else nn.Identity()
        )
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.branch(x) + self.shortcut(x))


#: The temporal kernel of each block's first convolution in the I3D-style 3D ResNet-50 of
#: Feichtenhofer et al.'s SlowFast code base, which FTCN builds on (res2 … res5), cycled over a
#: stage's blocks; the stem's is 5.
I3D_TEMPORAL_KERNELS = ((3,), (3, 1), (3, 1), (1, 3))


class FTCN(_ClipNet):
    """FTCN (Zheng et al., ICCV 2021): a 3D ResNet whose spatial kernels are all 1, then a
    Temporal Transformer over its time steps.

    The 3D ResNet is the I3D-style ResNet-50 (stem ``5×7×7`` → here ``5×1×1``; bottlenecks whose
    first convolution is ``3×1×1`` or ``1×1×1`` by :data:`I3D_TEMPORAL_KERNELS`, and whose
    ``1×3×3`` convolution becomes ``1×1×1``), without temporal downsampling, so every one of the T
    frames keeps its own step. The paper's network stops after res4 (``depths=(3, 4, 6)``: 1024
    channels at 1/16 of the input side); the map is averaged over space, and the T vectors of
    1024 are read by a one-block Temporal Transformer (16 heads, MLP width 2048, a CLS token, a
    learned position per step, no bias in the attention's input projection).

    Args:
        num_classes: 1 for one fake logit, 2 for a softmax pair.
        pretrained: must be false: the paper trains FTCN from scratch.
        dropout: dropout on the clip features before the linear head.
        input_size: square crop side in px (the paper's 224).
        clip_len: frames per clip, T.
        depths: bottleneck blocks per stage from res2 on (the paper's ``(3, 4, 6)``; a fourth
            entry adds res5 and doubles the channels).
        width: the first stage's bottleneck width (64 in a ResNet-50; the channels are 4× that,
            doubling per stage).
        stem_kernel: temporal kernel of the stem convolution.
        heads: attention heads of the Temporal Transformer (its width is the 3D net's channels).
        transformer_depth: Temporal Transformer blocks.
        mlp_ratio: its MLP width over its width (2048 / 1024).
        transformer_dropout: dropout on its tokens and residual branches.
    """

    small_config: ClassVar[dict[str, Any]] = {
        "input_size": 32,
        "clip_len": 4,
        "depths": (1, 1, 1),
        "width": 8,
        "heads": 2,
    }

    def __init__(
        self,
        num_classes: int = 1,
        pretrained: bool = False,
        dropout: float = 0.0,
        input_size: int = 224,
        *,
        clip_len: int = 8,
        depths: Sequence[int] = (3, 4, 6),
        width: int = 64,
        stem_kernel: int = 5,
        heads: int = 16,
        transformer_depth: int = 1,
        mlp_ratio: float = 2.0,
        transformer_dropout: float = 0.1,
    ) -> None:
        super().__init__()
        if pretrained:
            raise refuse_pretrained("FTCN")
        if int(clip_len) < 1:
            raise ValueError(f"model.net.clip_len={clip_len} must be at least 1 (data.clip_len)")
        if not 1 <= len(depths) <= len(I3D_TEMPORAL_KERNELS):
            raise ValueError(f"model.net.depths={list(depths)}: expected 1 to 4 stages (res2 … res5)")
        self.clip_len = int(clip_len)
        self.num_classes = num_classes
        self.input_spec = InputSpec(size=int(input_size))
        stem = [
            *conv_bn(3, width, stem_kernel, 2),
            nn.ReLU(inplace=True),
            nn.MaxPool3d((1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1)),
        ]
        blocks: list[nn.Module] = []
        cin = width
        for stage, depth in enumerate(depths):
            kernels = I3D_TEMPORAL_KERNELS[stage]
            stage_width = width * 2**stage
            for i in range(int(depth)):
                stride = 2 if stage > 0 and i == 0 else 1
                blocks.append(TemporalBottleneck(cin, stage_width, kernels[i % len(kernels)], stride))
                cin = 4 * stage_width
        self.backbone = nn.Sequential(*stem, *blocks)
        self.temporal = TemporalTransformer(
            cin,
            cin,
            transformer_depth,
            heads,
            self.clip_len,
            mlp_ratio,
            transformer_dropout,
            pool="cls",
            qkv_bias=False,
        )
        self.num_features = cin
        self.head = linear_head(cin, num_classes, dropout)

    def forward_feature_map(self, x: torch.Tensor) -> torch.Tensor:
        """The 3D net's map [B, C, T, h, w] (time kept, space at 1/16 of the input side for 3 stages)."""
        check_clip(x, self.clip_len, self.input_spec.size, type(self).__name__)
        return self.backbone(x.transpose(1, 2))

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Clip features [B, C]: the Temporal Transformer's CLS token over the map's spatial means."""
        return self.temporal(self.forward_feature_map(x).mean(dim=(3, 4)).transpose(1, 2))


def thumbnail(x: torch.Tensor, side: int) -> torch.Tensor:
    """Clips [B, T, 3, S, S] → thumbnails [B, 3, side, side]: each frame resized to
    ``side // g`` (g = ⌈√T⌉) and tiled row-major into a g × g grid (frame i at row i // g, column
    i % g); tiles past T, and a border where g does not divide ``side``, are zeros."""
    b, t, c, s, _ = x.shape
    grid = math.ceil(math.sqrt(t))
    tile = side // grid
    frames = x.flatten(0, 1)
    if s != tile:
        frames = F.interpolate(frames, size=(tile, tile), mode="bilinear", align_corners=False)
    frames = frames.reshape(b, t, c, tile, tile)
    if grid * grid > t:
        frames = torch.cat([frames, frames.new_zeros(b, grid * grid - t, c, tile, tile)], dim=1)
    image = frames.reshape(b, grid, grid, c, tile, tile).permute(0, 3, 1, 4, 2, 5)
    image = image.reshape(b, c, grid * tile, grid * tile)
    border = side - grid * tile
    return F.pad(image, (0, border, 0, border)) if border else image


class TALL(_ClipNet):
    """TALL (Xu et al., ICCV 2023): a clip's frames tiled into one thumbnail for a timm 2D backbone.

    ``forward`` tiles the T frames into an ``S × S`` thumbnail (:func:`thumbnail`: 4 frames of a
    224 px clip become a 2 × 2 layout of 112 px tiles) and classifies it with the backbone's pooled
    features and a linear head. In training, as in the paper, one square of ``mask_size`` px at a
    random position, the same in every frame of the clip, is blanked (set to 0, the normalised
    mean) before tiling. With ``frame_embed`` a learned vector per tile is added to the patch
    tokens that tile covers (the paper's frame position embedding), for backbones whose
    ``patch_embed`` emits a token grid (Swin, ViT).

    Args:
        num_classes: 1 for one fake logit, 2 for a softmax pair.
        pretrained: the backbone's ImageNet weights via timm (fails fast offline).
        dropout: dropout on the pooled features before the linear head.
        input_size: the thumbnail's side in px (and the crops'); default the backbone's
            pretrained config's. A transformer backbone is built for it (timm's ``img_size``).
        clip_len: frames per clip, T (a square number fills the grid; others leave empty tiles).
        backbone: any timm 2D model name, optionally with a pretrained tag (the paper's Swin-B).
        timm_kwargs: extra ``timm.create_model`` arguments (the paper's Swin windows: ``window_size: 14``).
        drop_path_rate: stochastic depth in the backbone (architectures that have it).
        mask_size: side in px of the training-time mask square (0 = off).
        frame_embed: add a learned per-tile embedding to the backbone's patch tokens.
    """

    small_config: ClassVar[dict[str, Any]] = {
        "input_size": 32,
        "clip_len": 4,
        "backbone": "swin_tiny_patch4_window7_224",
        "timm_kwargs": {"window_size": 2, "embed_dim": 16, "depths": (1, 1), "num_heads": (1, 2)},
        "mask_size": 4,
    }

    def __init__(
        self,
        num_classes: int = 1,
        pretrained: bool = False,
        dropout: float = 0.0,
        input_size: int | None = None,
        *,
        clip_len: int = 4,
        backbone: str = "swin_base_patch4_window7_224",
        timm_kwargs: dict[str, Any] | None = None,
        drop_path_rate: float = 0.0,
        mask_size: int = 16,
        frame_embed: bool = True,
    ) -> None:
        super().__init__()
        if int(clip_len) < 1:
            raise ValueError(f"model.net.clip_len={clip_len} must be at least 1 (data.clip_len)")
        arch = timm.models.split_model_name_tag(backbone)[0]
        if not backbone.startswith(("hf-hub:", "local-dir:")) and not timm.is_model(arch):
            raise ValueError(
                f"model.net.backbone={backbone!r} is not a timm model; see timm.list_models('*{backbone[:6]}*')"
            )
        # sequences as tuples: a config's lists (Swin's depths, num_heads) reach here as list-like
        # config nodes, which timm's tensor ops do not take
        kwargs = {
            k: tuple(v) if isinstance(v, Sequence) and not isinstance(v, str) else v
            for k, v in (timm_kwargs or {}).items()
        }
        if drop_path_rate > 0:
            kwargs["drop_path_rate"] = drop_path_rate
        self.clip_len = int(clip_len)
        self.num_classes = num_classes
        self.mask_size = int(mask_size)
        self.backbone = self._create(backbone, pretrained, input_size, kwargs)
        self.input_spec = timm_input_spec(self.backbone, input_size)
        self.num_features = self.backbone.num_features
        self.head = linear_head(self.num_features, num_classes, dropout)
        self.frame_embed = None
        if frame_embed:
            self._add_frame_embed(backbone)

    @staticmethod
    def _create(name: str, pretrained: bool, input_size: int | None, kwargs: dict[str, Any]) -> nn.Module:
        """The headless timm model; built for ``input_size`` where the architecture takes ``img_size``
        (transformers, whose token grid is fixed at construction), as it is otherwise (CNNs)."""
        if input_size is not None and "img_size" not in kwargs:
            try:
                return create_timm_model(name, pretrained, num_classes=0, img_size=int(input_size), **kwargs)
            except TypeError as err:
                if "img_size" not in str(err):
                    raise
        return create_timm_model(name, pretrained, num_classes=0, **kwargs)

    def _add_frame_embed(self, name: str) -> None:
        """A learned vector per tile (and a zero one for the border), added by a forward hook to
        ``backbone.patch_embed``'s token grid; refused for backbones without one."""
        patch_embed = getattr(self.backbone, "patch_embed", None)
        size = self.input_spec.size
        with torch.no_grad():
            was_training = self.backbone.training
            probe = patch_embed(torch.zeros(1, 3, size, size)) if patch_embed is not None else None
            self.backbone.train(was_training)
        if probe is None or probe.ndim not in (3, 4):
            raise ValueError(
                f"model.net.frame_embed=true needs a backbone with a patch_embed token grid (Swin, ViT); "
                f"{name!r} has none: set model.net.frame_embed=false"
            )
        nhwc = probe.ndim == 4
        tokens = probe.shape[1] if nhwc else math.isqrt(probe.shape[1])
        if not nhwc and tokens * tokens != probe.shape[1]:
            raise ValueError(f"{name!r}'s patch_embed emits {probe.shape[1]} tokens, not a square grid")
        grid = math.ceil(math.sqrt(self.clip_len))
        tile = size // grid
        # the tile each token's centre falls in (row-major, as thumbnail() lays them), or the border
        centres = (torch.arange(tokens) + 0.5) * size / tokens
        cell = (centres // tile).long()
        inside = cell < grid
        rows, cols = torch.meshgrid(cell, cell, indexing="ij")
        index = torch.where(inside[:, None] & inside[None, :], rows * grid + cols, grid * grid)
        self.register_buffer("frame_index", index.reshape(-1) if not nhwc else index, persistent=False)
        self.frame_embed = nn.Parameter(torch.zeros(grid * grid, probe.shape[-1]))
        nn.init.trunc_normal_(self.frame_embed, std=0.02)
        patch_embed.register_forward_hook(self._embed_frames)

    def _embed_frames(self, module: nn.Module, args: Any, tokens: torch.Tensor) -> torch.Tensor:
        table = torch.cat([self.frame_embed, self.frame_embed.new_zeros(1, self.frame_embed.shape[1])])
        return tokens + table[self.frame_index]

    def mask(self, x: torch.Tensor) -> torch.Tensor:
        """The clip with one ``mask_size`` square, at a random place shared by its T frames, set to 0."""
        b, _, _, h, w = x.shape
        half = self.mask_size // 2
        ys = torch.randint(0, h, (b, 1, 1), device=x.device)
        xs = torch.randint(0, w, (b, 1, 1), device=x.device)
        rows = torch.arange(h, device=x.device)[None, :, None]
        cols = torch.arange(w, device=x.device)[None, None, :]
        square = (rows >= ys - half) & (rows < ys + half) & (cols >= xs - half) & (cols < xs + half)
        return x.masked_fill(square[:, None, None], 0.0)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled features [B, num_features] of the clip's thumbnail."""
        check_clip(x, self.clip_len, self.input_spec.size, type(self).__name__)
        if self.training and self.mask_size > 0:
            x = self.mask(x)
        return self.backbone(thumbnail(x, self.input_spec.size))
