"""F3-Net: frequency in face forgery network, the complete two-stream model.

Qian, Yin, Sheng, Chen, Shao, "Thinking in Frequency: Face Forgery Detection by Mining
Frequency-aware Clues", ECCV 2020, https://arxiv.org/abs/2007.09355. The widely used public
code is a personal re-implementation, https://github.com/yyk-wew/F3Net ("lots of difference
compared to the official version", its README says), whose FAD DeepfakeBench reuses. Where dfd,
the paper and the re-implementation differ, and why: docs/f3net.md.

Three parts, as in the paper (Fig. 2):

* **FAD** (frequency-aware decomposition, Sec. 3.1): the image's 2-D DCT is split by fixed
  binary masks into low (first 1/16 of the spectrum), middle (1/16 to 1/8) and high (last
  7/8) bands, each mask plus a learnable filter ``2·sigmoid(w) - 1``; every band is brought
  back with the inverse DCT, giving 3 bands x 3 colours = 9 channels at full resolution.
* **LFS** (local frequency statistics, Sec. 3.2): a 10x10 window slides with stride 2 over
  the grey image (0-255); in each window the DCT magnitudes are summed over M=6 equal bands
  (again binary base plus learnable filter) and log10-compressed, ``q = log10 ||D(p) ⊙ h||_1``,
  giving an M-channel map at half resolution.
* Two **Xception** streams, one per branch, whose middle-flow (block 7, 728 channels) and
  exit-flow (block 12, 1024 channels) features are exchanged by **MixBlock** cross-attention
  (Sec. 3.3); the two 2048-d pooled features are concatenated, dropped out (p=0.2) and
  classified.

Band edges on the anti-diagonal index ``u + v``: low ``u+v <= S/2.82`` (area S²/16), middle
``<= S/2`` (area S²/8), high beyond; the bands partition the spectrum, the DC coefficient in the
low band. The re-implementation has put the DC coefficient in the low band too since its commit
01942ca (2022, "Fixed bugs of losing dc component"); that fix made every band's lower edge
inclusive, so there neighbouring bands share their boundary diagonal (``band_edges``).

MixBlock applies its attention map to the other stream by a matrix product (each output row is
an attention-weighted sum of the other stream's rows), the paper's ⊗ in Fig. 5. The
re-implementation's MixBlock (never wired into its model) multiplies element-wise, which only
type-checks for square maps.

Reference-compatibility switches, off by default (the paper), give the re-implementation's FAD and
LFS: ``fad_all_pass_band`` (a fourth, all-pass FAD band: 12 channels), ``lfs_statistic=
"reimplementation"`` (the band's mean of ``log10 |D(p)|``) and ``band_edges="reimplementation"``.
``fad_only`` keeps the FAD branch and its Xception stream alone (no LFS, no MixBlock), the
re-implementation's "FAD" mode that DeepfakeBench's ``f3net`` trains (layout read from
DeepfakeBench ``training/detectors/f3net_detector.py``); with the three switches above it holds
DeepfakeBench's released F3Net (:mod:`dfd.published.xception`).

The Xception streams are timm ``legacy_xception`` (ImageNet weights via timm); their first
convolution takes 9 or 12 (FAD) or M (LFS) channels, timm spreading the pretrained RGB kernel
over them, and the LFS stream's stem has stride 1 because its input is already at half
resolution.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from dfd.core.input_spec import InputSpec
from dfd.data.dct import dct_matrix
from dfd.models.nets.base import Net, linear_head
from dfd.models.nets.pretrained import create_timm_model

#: F3-Net feeds Xception: 299 px, mean = std = 0.5 (pixels in [-1, 1]).
F3NET_INPUT_SPEC = InputSpec(size=299, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5))

#: Values of the ``lfs_statistic`` and ``band_edges`` switches: the paper's form, or the
#: yyk-wew/F3Net re-implementation's.
RULES = ("paper", "reimplementation")


def _check_rule(value: str, key: str) -> str:
    if value not in RULES:
        raise ValueError(f"{key}={value!r}: expected one of {list(RULES)} (paper = the default)")
    return value


def band_mask(size: int, start: float, end: float, closed: bool = False) -> np.ndarray:
    """Binary mask of the DCT coefficients (u, v) with ``start < u + v <= end``.

    ``closed`` includes the lower edge too (``start <= u + v <= end``), the re-implementation's rule.
    """
    idx = np.arange(size)
    diag = idx[:, None] + idx[None, :]
    above = diag >= start if closed else diag > start
    return (above & (diag <= end)).astype(np.float32)


def fad_band_edges(size: int, band_edges: str = "paper") -> list[tuple[float, float]]:
    """Edges on ``u + v`` of the FAD low, middle and high bands (1/16, 1/8, 7/8 of the area).

    ``paper``: half-open ``(start, end]``, a partition. ``reimplementation``: closed
    ``[start, end]`` with the edges rounded down, so diagonals ``⌊S/2.82⌋`` and ``⌊S/2⌋`` are in
    two bands each.
    """
    if _check_rule(band_edges, "band_edges") == "reimplementation":
        low, mid = float(math.floor(size / 2.82)), float(size // 2)
        return [(0.0, low), (low, mid), (mid, 2.0 * size)]
    # -1 puts the DC coefficient (u + v = 0) into the low band.
    return [(-1.0, size / 2.82), (size / 2.82, size / 2.0), (size / 2.0, 2.0 * size)]


def lfs_band_edges(window: int, bands: int, band_edges: str = "paper") -> list[tuple[float, float]]:
    """Edges on ``u + v`` of the M equal LFS bands of a ``window`` x ``window`` DCT (see :func:`fad_band_edges`)."""
    edges = [2.0 * window * m / bands for m in range(bands + 1)]
    if _check_rule(band_edges, "band_edges") == "paper":
        edges[0] = -1.0  # DC into the first band
    return [(edges[m], edges[m + 1]) for m in range(bands)]


class BandFilter(nn.Module):
    """Fixed binary base mask plus a learnable filter squashed to (-1, 1): ``base + 2·σ(w) - 1``."""

    def __init__(
        self, size: int, start: float, end: float, learnable: bool = True, closed: bool = False
    ) -> None:
        super().__init__()
        self.register_buffer("base", torch.from_numpy(band_mask(size, start, end, closed)))
        # Near zero (N(0, 0.1), as the re-implementation) so training starts at the fixed bands.
        self.learnable = nn.Parameter(torch.randn(size, size) * 0.1) if learnable else None

    def weights(self) -> torch.Tensor:
        if self.learnable is None:
            return self.base
        return self.base + 2.0 * torch.sigmoid(self.learnable) - 1.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.weights()


class FAD(nn.Module):
    """Frequency-aware decomposition: [B,3,S,S] image → [B,3·bands,S,S] band-pass images.

    ``all_pass_band`` appends a fourth band covering the whole spectrum (base mask all ones),
    as the re-implementation does: 12 channels instead of the paper's 9.
    """

    def __init__(
        self, size: int, learnable: bool = True, all_pass_band: bool = False, band_edges: str = "paper"
    ) -> None:
        super().__init__()
        self.register_buffer("dct", torch.from_numpy(dct_matrix(size)).float())
        closed = band_edges == "reimplementation"
        edges = fad_band_edges(size, band_edges)
        if all_pass_band:
            edges.append((edges[0][0], 2.0 * size))
        self.filters = nn.ModuleList(BandFilter(size, s, e, learnable, closed) for s, e in edges)

    @property
    def out_channels(self) -> int:
        return 3 * len(self.filters)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        d = self.dct
        freq = d @ x @ d.T  # 2-D DCT of every channel
        return torch.cat([d.T @ f(freq) @ d for f in self.filters], dim=1)


class LFS(nn.Module):
    """Local frequency statistics: [B,3,S,S] → [B,M,S',S'] with S' = (S - 2)//2 + 1 (window 10, stride 2).

    ``mean``/``std`` undo the input normalisation so statistics are computed on 0-255 grey
    levels, as in the paper. ``statistic`` per window p and band filter h:

    * ``paper``: ``log10 ||D(p) ⊙ h||_1`` (Eq. 3), the log of the band's summed magnitudes;
    * ``reimplementation``: ``sum(log10(|D(p)| + 1e-15) ⊙ h) / n``, n the band's size in the base
      mask: the band's mean log magnitude (exactly that while the learnable part is zero).
    """

    def __init__(
        self,
        window: int = 10,
        bands: int = 6,
        stride: int = 2,
        mean: tuple[float, float, float] = F3NET_INPUT_SPEC.mean,
        std: tuple[float, float, float] = F3NET_INPUT_SPEC.std,
        learnable: bool = True,
        statistic: str = "paper",
        band_edges: str = "paper",
    ) -> None:
        super().__init__()
        self.statistic = _check_rule(statistic, "statistic")
        self.window, self.stride, self.padding = window, stride, (window - stride) // 2
        self.register_buffer("dct", torch.from_numpy(dct_matrix(window)).float())
        closed = band_edges == "reimplementation"
        self.filters = nn.ModuleList(
            BandFilter(window, s, e, learnable, closed) for s, e in lfs_band_edges(window, bands, band_edges)
        )
        self.unfold = nn.Unfold(kernel_size=window, stride=stride, padding=self.padding)
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1))
        self.register_buffer("gray", torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1))

    @property
    def out_channels(self) -> int:
        return len(self.filters)

    def output_size(self, size: int) -> int:
        return (size + 2 * self.padding - self.window) // self.stride + 1

    def _band_statistic(self, f: BandFilter, freq: torch.Tensor) -> torch.Tensor:
        if self.statistic == "paper":
            # +1e-6 keeps an all-zero window (e.g. inside the padding) finite
            return torch.log10(f(freq).abs().sum(dim=(-2, -1)) + 1e-6)
        return f(torch.log10(freq.abs() + 1e-15)).sum(dim=(-2, -1)) / f.base.sum()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, _, h, w = x.shape
        gray = ((x * self.std + self.mean) * self.gray).sum(dim=1, keepdim=True) * 255.0
        patches = self.unfold(gray)  # [B, S*S, L]
        patches = patches.transpose(1, 2).reshape(b, -1, self.window, self.window)  # [B, L, S, S]
        freq = self.dct @ patches @ self.dct.T
        stats = [self._band_statistic(f, freq) for f in self.filters]
        return torch.stack(stats, dim=1).reshape(
            b, len(self.filters), self.output_size(h), self.output_size(w)
        )


class MixBlock(nn.Module):
    """Cross-attention fusion of the FAD and LFS feature maps (F3-Net Sec. 3.3, Fig. 5).

    Per channel, a joint attention map over rows, ``A = softmax([Q_fad | Q_lfs] [K_fad | K_lfs]ᵀ)``
    ([H, H]; queries and keys are 1x1 convs, concatenated along the width), is applied to the
    other stream by a matrix product, ``A @ x`` (the paper's ⊗: every row becomes an
    attention-weighted sum of the other stream's rows), so any H x W map works. Each stream adds
    the result through a depthwise 1x1 conv and BatchNorm, scaled by a learnable gate
    ``2·σ(γ) - 1`` that starts at zero, so the block starts as the identity.

    The re-implementation multiplies ``x ⊙ A`` element-wise instead, which only type-checks when
    H = W (it asserts so) and pairs the weight between rows i and j with the feature at column
    j; it never wires MixBlock into its model, so no published number depends on that form.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.fad_query = nn.Conv2d(channels, channels, 1)
        self.lfs_query = nn.Conv2d(channels, channels, 1)
        self.fad_key = nn.Conv2d(channels, channels, 1)
        self.lfs_key = nn.Conv2d(channels, channels, 1)
        self.fad_gamma = nn.Parameter(torch.zeros(1))
        self.lfs_gamma = nn.Parameter(torch.zeros(1))
        self.fad_conv = nn.Conv2d(channels, channels, 1, groups=channels)
        self.fad_bn = nn.BatchNorm2d(channels)
        self.lfs_conv = nn.Conv2d(channels, channels, 1, groups=channels)
        self.lfs_bn = nn.BatchNorm2d(channels)

    def attention(self, x_fad: torch.Tensor, x_lfs: torch.Tensor) -> torch.Tensor:
        """The joint row-attention map [B, C, H, H]; each row sums to 1."""
        query = torch.cat([self.fad_query(x_fad), self.lfs_query(x_lfs)], dim=3)  # [B, C, H, 2W]
        key = torch.cat([self.fad_key(x_fad), self.lfs_key(x_lfs)], dim=3)
        return torch.softmax(query @ key.transpose(2, 3), dim=-1)

    def forward(self, x_fad: torch.Tensor, x_lfs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if x_lfs.shape != x_fad.shape:
            raise ValueError(
                f"MixBlock needs equal FAD and LFS maps, got {tuple(x_fad.shape)} vs {tuple(x_lfs.shape)}"
            )
        attention = self.attention(x_fad, x_lfs)
        att_lfs = (attention @ x_lfs) * (2.0 * torch.sigmoid(self.lfs_gamma) - 1.0)
        att_fad = (attention @ x_fad) * (2.0 * torch.sigmoid(self.fad_gamma) - 1.0)
        return x_fad + self.fad_bn(self.fad_conv(att_lfs)), x_lfs + self.lfs_bn(self.lfs_conv(att_fad))


def _xception_map_sizes(size: int, stem_stride: int) -> tuple[int, int]:
    """Side of legacy_xception's block-7 and block-12 maps for a ``size`` input."""
    side = (size - 3) // stem_stride + 1 - 2  # conv1 (3x3, no padding) then conv2 (3x3, no padding)
    for _ in range(3):  # blocks 1-3 halve (ceil) the map; blocks 4-11 keep it
        side = math.ceil(side / 2)
    return side, math.ceil(side / 2)  # block 12 halves once more


class F3Net(Net):
    """F3-Net with FAD and LFS branches, two Xception streams and MixBlocks after blocks 7 and 12.

    Args:
        num_classes: 1 for one fake logit, 2 for a softmax pair.
        pretrained: ImageNet weights for both Xception streams (via timm).
        dropout: dropout before the classifier (0.2, as in the re-implementation).
        input_size: square input side in px (paper: 299).
        lfs_window, lfs_bands: LFS window side in px and number of frequency bands M.
        learnable_filters: add the learnable filters to the fixed bands (paper: yes).
        fad_all_pass_band: the re-implementation's fourth, all-pass FAD band (12 FAD channels).
        lfs_statistic: ``"paper"`` or the re-implementation's ``"reimplementation"`` (see :class:`LFS`).
        band_edges: ``"paper"`` (disjoint bands) or ``"reimplementation"`` (closed edges).
        fad_only: the FAD branch and its Xception stream alone, pooled 2048-d features (no LFS, no
            MixBlock; the ``lfs_*`` arguments are unused), as DeepfakeBench's ``f3net``.
        localization: add a blend-mask head on the two streams' fused last maps (see
            :mod:`dfd.models.nets.base`).
    """

    small_config: ClassVar[dict[str, Any]] = {"input_size": 48}

    def __init__(
        self,
        num_classes: int = 1,
        pretrained: bool = False,
        dropout: float = 0.2,
        input_size: int = 299,
        *,
        lfs_window: int = 10,
        lfs_bands: int = 6,
        learnable_filters: bool = True,
        fad_all_pass_band: bool = False,
        lfs_statistic: str = "paper",
        band_edges: str = "paper",
        fad_only: bool = False,
        localization: bool = False,
    ) -> None:
        super().__init__()
        _check_rule(lfs_statistic, "model.net.lfs_statistic")
        _check_rule(band_edges, "model.net.band_edges")
        self.num_classes = num_classes
        self.input_spec = InputSpec(size=input_size, mean=F3NET_INPUT_SPEC.mean, std=F3NET_INPUT_SPEC.std)
        self.fad = FAD(input_size, learnable_filters, all_pass_band=fad_all_pass_band, band_edges=band_edges)
        self.fad_only = fad_only
        if fad_only:
            fad_xception = create_timm_model(
                "legacy_xception", pretrained, num_classes=0, in_chans=self.fad.out_channels
            )
            self.backbone = nn.ModuleDict({"fad": fad_xception})
            self.num_features = fad_xception.num_features
            self.head = linear_head(self.num_features, num_classes, dropout)
            self.add_localization(localization, self.num_features)
            return
        self.lfs = LFS(
            lfs_window,
            lfs_bands,
            mean=self.input_spec.mean,
            std=self.input_spec.std,
            learnable=learnable_filters,
            statistic=lfs_statistic,
            band_edges=band_edges,
        )
        fad_sizes = _xception_map_sizes(input_size, stem_stride=2)
        lfs_sizes = _xception_map_sizes(self.lfs.output_size(input_size), stem_stride=1)
        if fad_sizes != lfs_sizes or min(fad_sizes) < 1:
            ok = [
                s
                for s in range(max(input_size - 8, 32), input_size + 9)
                if _xception_map_sizes(s, 2) == _xception_map_sizes(self.lfs.output_size(s), 1)
            ]
            raise ValueError(
                f"F3Net input_size={input_size} gives FAD/LFS maps {fad_sizes} vs {lfs_sizes} at blocks 7/12, "
                f"which MixBlock cannot fuse; use e.g. one of {ok} (paper: 299)."
            )
        fad_xception = create_timm_model(
            "legacy_xception", pretrained, num_classes=0, in_chans=self.fad.out_channels
        )
        lfs_xception = create_timm_model(
            "legacy_xception", pretrained, num_classes=0, in_chans=self.lfs.out_channels
        )
        lfs_xception.conv1.stride = (1, 1)  # the LFS map is already at half resolution
        self.backbone = nn.ModuleDict({"fad": fad_xception, "lfs": lfs_xception})
        self.mix7 = MixBlock(728)
        self.mix12 = MixBlock(1024)
        self.num_features = 2 * fad_xception.num_features
        self.head = linear_head(self.num_features, num_classes, dropout)
        self.add_localization(localization, self.num_features)

    @staticmethod
    def _stem(x: nn.Module, t: torch.Tensor) -> torch.Tensor:
        t = x.act1(x.bn1(x.conv1(t)))
        return x.act2(x.bn2(x.conv2(t)))

    @staticmethod
    def _exit(x: nn.Module, t: torch.Tensor) -> torch.Tensor:
        t = x.act3(x.bn3(x.conv3(t)))
        return x.act4(x.bn4(x.conv4(t)))

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Concatenated, pooled features of both streams: [B, 4096] ([B, 2048] with ``fad_only``)."""
        return self.pool_feature_map(self.forward_feature_map(x))

    def pool_feature_map(self, feature_map: torch.Tensor) -> torch.Tensor:
        """Each stream's global average pool, concatenated (the mean of the concatenated map)."""
        return feature_map.mean(dim=(2, 3))

    def forward_feature_map(self, x: torch.Tensor) -> torch.Tensor:
        """Both streams' last maps, concatenated: [B, 4096, h, w] ([B, 2048, h, w] with ``fad_only``)."""
        if self.fad_only:
            return self.backbone["fad"].forward_features(self.fad(x))
        fad_x, lfs_x = self.backbone["fad"], self.backbone["lfs"]
        f = self._stem(fad_x, self.fad(x))
        g = self._stem(lfs_x, self.lfs(x))
        for i in range(1, 8):
            f, g = getattr(fad_x, f"block{i}")(f), getattr(lfs_x, f"block{i}")(g)
        f, g = self.mix7(f, g)
        for i in range(8, 13):
            f, g = getattr(fad_x, f"block{i}")(f), getattr(lfs_x, f"block{i}")(g)
        f, g = self.mix12(f, g)
        f, g = self._exit(fad_x, f), self._exit(lfs_x, g)
        return torch.cat([f, g], dim=1)
