"""AVFF: audio-visual feature fusion for video deepfake detection.

Oorloff, Koppisetti, Bonettini, Solanki, Colon, Bharaj, Kim, "AVFF: Audio-Visual Feature
Fusion for Video Deepfake Detection", CVPR 2024. No official code exists; this is dfd's
implementation of the method as the paper describes it. Where dfd departs from the paper, the
choice is a constructor argument whose default is the paper's; ``docs/avff.md`` tabulates each.

Two stages share one network:

* Stage 1 (self-supervised, real videos only, :meth:`AVFF.pretrain_losses`): a ViT visual
  encoder on face-crop tubelets (MARLIN's weights with ``pretrained``, see
  :mod:`dfd.models.nets.avff_weights`) and a ViT audio encoder on log-mel patches (AudioMAE's)
  encode the whole clip; their tokens are then masked *complementarily*: the time segments
  visible in one modality are masked in the other (``mask_before_encoder=True`` masks the
  inputs before the encoders instead, MAE style). The A2V network predicts the masked visual
  tokens from the visible audio tokens, V2A the masked audio tokens from the visible visual
  tokens. The predictions are fused with the visible tokens of each modality and MAE-style
  decoders reconstruct the masked patches; a patch discriminator per modality adds an
  adversarial term to the reconstruction. An InfoNCE loss pulls the pooled audio and visual
  embeddings of the same clip together. ``cross_weight`` adds dfd's cosine loss between the
  A2V/V2A predictions and the encoders' own tokens (off by default: not in the paper).
* Stage 2 (classification, :meth:`AVFF.forward`): both encoders see the whole clip; each
  modality's tokens are concatenated with the cross-modal tokens predicted from the other
  modality (A2V, V2A), reduced per modality (per-token projection, mean over tokens) and
  classified. ``fuse_difference`` adds dfd's |token − prediction| to the concatenation.

Positions use fixed sine-cosine embeddings computed for the actual token grid, with time in
one unit shared by both modalities (video temporal tokens), so the A2V/V2A cross-attention can
align audio and video and the net accepts any clip length that the patch sizes divide.

Inputs: ``video`` float[B, T, 3, H, W] normalised with :attr:`AVFF.input_spec`, ``audio``
float[B, 1, n_mels, frames] log-mel (see :class:`dfd.data.mel.LogMel`).
"""

from __future__ import annotations

import math
from typing import Any, ClassVar, NamedTuple

import torch
import torch.nn.functional as F
from timm.models.vision_transformer import Block
from torch import nn
from torch.func import functional_call

from dfd.core.input_spec import InputSpec
from dfd.models.nets.avff_weights import AUDIOMAE, MARLIN, load_encoder_weights
from dfd.models.nets.base import Net


def sincos_1d(positions: torch.Tensor, dim: int) -> torch.Tensor:
    """Sine-cosine embedding of continuous positions [N] → [N, dim] (dim even), as in MAE."""
    if dim % 2:
        raise ValueError(f"sine-cosine embedding needs an even width, got {dim}")
    omega = 1.0 / 10000 ** (torch.arange(dim // 2, dtype=torch.float32, device=positions.device) / (dim / 2))
    angles = positions.float()[:, None] * omega[None, :]
    return torch.cat([angles.sin(), angles.cos()], dim=1)


def sincos_grid(time: torch.Tensor, axes: list[torch.Tensor], dim: int) -> torch.Tensor:
    """Embedding of a (time, *axes) token grid, time slowest: [len(time) * prod(len(axes)), dim].

    Half the width encodes time with the same frequencies in every modality, so equal times
    have equal time codes in audio and video; the other half is split across ``axes``.
    """
    t_width = 2 * (dim // 4)
    widths = [2 * ((dim - t_width) // (2 * len(axes)))] * len(axes)
    widths[0] += dim - t_width - sum(widths)
    grids = torch.meshgrid(time, *axes, indexing="ij")
    parts = [sincos_1d(g.reshape(-1), w) for g, w in zip(grids, [t_width, *widths], strict=True)]
    return torch.cat(parts, dim=1)


def info_nce(a: torch.Tensor, v: torch.Tensor, temperature: float) -> torch.Tensor:
    """Symmetric InfoNCE between L2-normalised embeddings [B, D]; positives on the diagonal."""
    logits = F.normalize(a, dim=-1) @ F.normalize(v, dim=-1).t() / temperature
    target = torch.arange(len(a), device=a.device)
    return 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.t(), target))


class Tokens(NamedTuple):
    """Embedded tokens with positions and time segments of one audio-visual batch."""

    video: torch.Tensor  # [B, Nv, D]
    audio: torch.Tensor  # [B, Na, D]
    vpos: torch.Tensor  # [Nv, D]
    apos: torch.Tensor  # [Na, D]
    vseg: torch.Tensor  # long [Nv], time segment of each video token
    aseg: torch.Tensor  # long [Na]
    vgrid: tuple[int, int, int]  # time, height, width patches
    agrid: tuple[int, int]  # time, frequency patches
    segments: int  # time segments: gcd of the two modalities' time patch counts


class Encoder(nn.Module):
    """A stack of ViT blocks (timm) with a final LayerNorm."""

    def __init__(self, dim: int, depth: int, heads: int, mlp_ratio: float) -> None:
        super().__init__()
        self.blocks = nn.Sequential(*[Block(dim, heads, mlp_ratio, qkv_bias=True) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.blocks(x))


class CrossModalPredictor(nn.Module):
    """A2V / V2A: predict target-modality tokens at given positions from source-modality tokens.

    Each query starts from the mean of the source tokens in its own time segment (the token
    count of the two modalities differs, so this is the time-aligned token-count change),
    plus the target position and a learned query token; a transformer decoder (pre-norm)
    then refines it with self-attention and cross-attention to all source tokens. Starting
    time-aligned lets training learn the correspondence instead of first searching for it.
    """

    def __init__(self, dim: int, depth: int, heads: int, mlp_ratio: float) -> None:
        super().__init__()
        self.query = nn.Parameter(torch.zeros(1, 1, dim))
        self.source_proj = nn.Linear(dim, dim)
        layer = nn.TransformerDecoderLayer(
            dim,
            heads,
            int(dim * mlp_ratio),
            dropout=0.0,
            activation="gelu",
            batch_first=True,
            norm_first=True,
        )
        self.decoder = nn.TransformerDecoder(layer, depth, norm=nn.LayerNorm(dim))

    def forward(
        self,
        target_pos: torch.Tensor,
        target_seg: torch.Tensor,
        source: torch.Tensor,
        source_seg: torch.Tensor,
        segments: int,
    ) -> torch.Tensor:
        """``target_pos`` [B, Nt, D], ``source`` [B, Ns, D]; ``*_seg`` long [B, N*] time segments."""
        onehot = F.one_hot(source_seg, segments).to(source.dtype)  # [B, Ns, S]
        seg_mean = onehot.transpose(1, 2) @ self.source_proj(source) / onehot.sum(1)[..., None].clamp_min(1)
        aligned = seg_mean.gather(1, target_seg[..., None].expand(-1, -1, source.shape[-1]))
        return self.decoder(aligned + target_pos + self.query, source)


class MAEDecoder(nn.Module):
    """MAE-style decoder: project, add positions, a few ViT blocks, predict patch values."""

    def __init__(self, dim: int, decoder_dim: int, depth: int, heads: int, mlp_ratio: float, patch_dim: int):
        super().__init__()
        self.embed = nn.Linear(dim, decoder_dim)
        self.blocks = Encoder(decoder_dim, depth, heads, mlp_ratio)
        self.head = nn.Linear(decoder_dim, patch_dim)

    def forward(self, tokens: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
        return self.head(self.blocks(self.embed(tokens) + pos))


class PatchDiscriminator(nn.Module):
    """A MARLIN-style reconstruction discriminator: an MLP scoring each patch (one logit, real > 0)."""

    def __init__(self, patch_dim: int, hidden: int) -> None:
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(patch_dim, hidden), nn.LeakyReLU(0.2), nn.Linear(hidden, 1))

    def forward(self, patches: torch.Tensor) -> torch.Tensor:
        return self.mlp(patches)


def adversarial_terms(
    disc: nn.Module, fake: torch.Tensor, real: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(generator, discriminator)`` losses of one training step on patches [N, P] (logistic GAN).

    Both are minimised by one optimizer in one backward pass, each reaching only its own side:
    the discriminator loss sees the reconstructions detached, so it trains the discriminator
    alone; the generator loss scores them through a copy of the discriminator's weights with
    their gradient cut, so it trains the reconstruction path alone (non-saturating form: the
    reconstructions are pushed to be scored real). This is what two optimizers would do in
    alternation, without Lightning's manual optimization.
    """
    frozen = {name: p.detach() for name, p in disc.named_parameters()}
    g_logits = functional_call(disc, frozen, (fake,))
    generator = F.binary_cross_entropy_with_logits(g_logits, torch.ones_like(g_logits))
    d_real, d_fake = disc(real), disc(fake.detach())
    discriminator = 0.5 * (
        F.binary_cross_entropy_with_logits(d_real, torch.ones_like(d_real))
        + F.binary_cross_entropy_with_logits(d_fake, torch.zeros_like(d_fake))
    )
    return generator, discriminator


class AVFF(Net):
    """The AVFF network; see the module docstring. Sizes are plain constructor values.

    Args:
        num_classes: 1 (one fake logit) or 2 (softmax, column 1 = fake).
        pretrained: start the encoders from the public MARLIN (``video_weights``) and AudioMAE
            (``audio_weights``) checkpoints, local files (no download). At least one must be set.
        dropout: before the classifier.
        input_size: face-crop side in px (declared in :attr:`input_spec`).
        video_weights, audio_weights: paths of those checkpoints (see
            :mod:`dfd.models.nets.avff_weights`); read only with ``pretrained``.
        allow_pickle: read weight files that need pickle (``allow_pickle=true``).
        dim, depth, heads: width, depth and attention heads of each modality encoder.
        decoder_dim, decoder_depth, decoder_heads: the MAE decoders.
        cross_depth: decoder layers in each of A2V and V2A.
        tubelet, patch: video patch of ``tubelet`` frames × ``patch`` × ``patch`` px.
        n_mels, audio_patch_freq, audio_patch_time: audio patch of mel bins × frames.
        mask_ratio: share of time segments masked in the video (the audio gets the rest).
        mask_before_encoder: stage 1 masks the inputs before the encoders (MAE style, dfd's earlier
            behaviour) instead of masking the tokens of the whole encoded clip (the paper).
        temperature: InfoNCE temperature.
        rec_video_weight, rec_audio_weight, contrastive_weight, adversarial_weight, cross_weight:
            stage-1 loss weights; an ``adversarial_weight`` or ``cross_weight`` of 0 leaves that
            term (and, for the adversarial one, its discriminators) out.
        fuse_difference: stage 2 also feeds |token − cross-modal prediction| to the per-modality
            reduction (dfd's ablation; the paper concatenates the two only).
        ablate_audio / ablate_video: zero that input (for the modality ablation).
        mean, std: the face crops' normalisation (MARLIN reads pixels in [0, 1]: mean 0, std 1).
    """

    #: test size: about 0.1 M parameters (tests/av_tiny.py builds the same)
    small_config: ClassVar[dict[str, Any]] = dict(
        dim=32, depth=1, heads=2, decoder_dim=16, decoder_depth=1, decoder_heads=2,
        input_size=32, patch=16, n_mels=32, audio_patch_freq=16, audio_patch_time=4,
    )  # fmt: skip

    def __init__(
        self,
        num_classes: int = 1,
        pretrained: bool = False,
        dropout: float = 0.0,
        input_size: int = 224,
        *,
        video_weights: str | None = None,
        audio_weights: str | None = None,
        allow_pickle: bool = False,
        dim: int = 768,
        depth: int = 12,
        heads: int = 12,
        decoder_dim: int = 384,
        decoder_depth: int = 4,
        decoder_heads: int = 6,
        cross_depth: int = 1,
        mlp_ratio: float = 4.0,
        tubelet: int = 2,
        patch: int = 16,
        n_mels: int = 128,
        audio_patch_freq: int = 16,
        audio_patch_time: int = 16,
        mask_ratio: float = 0.5,
        mask_before_encoder: bool = False,
        temperature: float = 0.07,
        rec_video_weight: float = 1.0,
        rec_audio_weight: float = 1.0,
        contrastive_weight: float = 1.0,
        adversarial_weight: float = 0.01,
        cross_weight: float = 0.0,
        fuse_difference: bool = False,
        ablate_audio: bool = False,
        ablate_video: bool = False,
        mean: tuple[float, float, float] = (0.485, 0.456, 0.406),
        std: tuple[float, float, float] = (0.229, 0.224, 0.225),
    ) -> None:
        super().__init__()
        if pretrained and not (video_weights or audio_weights):
            raise ValueError(
                "model.net.pretrained=true but neither model.net.video_weights (MARLIN) nor "
                "model.net.audio_weights (AudioMAE) names a file: set them, or model.net.pretrained=false"
            )
        if input_size % patch:
            raise ValueError(f"input_size={input_size} is not a multiple of patch={patch} (model.net.patch)")
        if n_mels % audio_patch_freq:
            raise ValueError(f"n_mels={n_mels} is not a multiple of audio_patch_freq={audio_patch_freq}")
        if not 0.0 < mask_ratio < 1.0:
            raise ValueError(f"mask_ratio must be in (0, 1), got {mask_ratio} (model.net.mask_ratio)")
        weights = dict(
            rec_video=rec_video_weight,
            rec_audio=rec_audio_weight,
            contrastive=contrastive_weight,
            adversarial=adversarial_weight,
            cross=cross_weight,
        )
        negative = {k: w for k, w in weights.items() if w < 0}
        if negative:
            raise ValueError(f"stage-1 loss weights must be >= 0, got {negative} (model.net.<term>_weight)")
        self.input_spec = InputSpec(input_size, tuple(mean), tuple(std))
        self.num_classes, self.num_features = num_classes, 2 * dim
        self.dim, self.decoder_dim = dim, decoder_dim
        self.tubelet, self.patch = tubelet, patch
        self.n_mels, self.audio_patch = n_mels, (audio_patch_freq, audio_patch_time)
        self.mask_ratio, self.mask_before_encoder = mask_ratio, mask_before_encoder
        self.temperature, self.loss_weights = temperature, weights
        self.fuse_difference = fuse_difference
        self.ablate_audio, self.ablate_video = ablate_audio, ablate_video

        self.video_embed = nn.Conv3d(3, dim, (tubelet, patch, patch), stride=(tubelet, patch, patch))
        self.audio_embed = nn.Conv2d(1, dim, self.audio_patch, stride=self.audio_patch)
        self.video_type = nn.Parameter(torch.zeros(1, 1, dim))  # modality embeddings
        self.audio_type = nn.Parameter(torch.zeros(1, 1, dim))
        self.video_encoder = Encoder(dim, depth, heads, mlp_ratio)
        self.audio_encoder = Encoder(dim, depth, heads, mlp_ratio)
        self.a2v = CrossModalPredictor(dim, cross_depth, heads, mlp_ratio)
        self.v2a = CrossModalPredictor(dim, cross_depth, heads, mlp_ratio)
        video_patch_dim, audio_patch_dim = 3 * tubelet * patch**2, audio_patch_freq * audio_patch_time
        self.video_decoder = MAEDecoder(
            dim, decoder_dim, decoder_depth, decoder_heads, mlp_ratio, video_patch_dim
        )
        self.audio_decoder = MAEDecoder(
            dim, decoder_dim, decoder_depth, decoder_heads, mlp_ratio, audio_patch_dim
        )
        if adversarial_weight > 0:  # stage 1 only; MARLIN's width: the decoder's MLP width
            hidden = int(decoder_dim * mlp_ratio)
            self.video_disc = PatchDiscriminator(video_patch_dim, hidden)
            self.audio_disc = PatchDiscriminator(audio_patch_dim, hidden)
        self.video_proj = nn.Linear(dim, dim)  # contrastive projections
        self.audio_proj = nn.Linear(dim, dim)
        # Stage-2 head: per-modality reduction of own ⊕ cross-modal tokens, then the classifier.
        fused = (3 if fuse_difference else 2) * dim
        self.video_fuse = nn.Sequential(nn.Linear(fused, dim), nn.GELU())
        self.audio_fuse = nn.Sequential(nn.Linear(fused, dim), nn.GELU())
        self.head = nn.Sequential(nn.LayerNorm(2 * dim), nn.Dropout(dropout), nn.Linear(2 * dim, num_classes))
        self.apply(self._init_weights)
        for p in (self.video_type, self.audio_type, self.a2v.query, self.v2a.query):
            nn.init.trunc_normal_(p, std=0.02)
        if pretrained and video_weights:
            load_encoder_weights(self, video_weights, MARLIN, allow_pickle)
        if pretrained and audio_weights:
            load_encoder_weights(self, audio_weights, AUDIOMAE, allow_pickle)

    @staticmethod
    def _init_weights(m: nn.Module) -> None:
        if isinstance(m, nn.Linear):
            nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)

    @property
    def pretrain_terms(self) -> tuple[str, ...]:
        """Names of the stage-1 terms :meth:`pretrain_losses` returns besides ``loss``."""
        terms = ["rec_video", "rec_audio", "contrastive"]
        if self.loss_weights["cross"] > 0:
            terms.append("cross")
        if self.loss_weights["adversarial"] > 0:
            terms += ["adversarial", "discriminator"]
        return tuple(terms)

    # ---------------------------------------------------------------- tokens and positions
    def _grids(
        self, video: torch.Tensor, audio: torch.Tensor
    ) -> tuple[tuple[int, int, int], tuple[int, int]]:
        _, t, c, h, w = video.shape
        _, _, f, fr = audio.shape
        if c != 3 or t % self.tubelet or h % self.patch or w % self.patch:
            raise ValueError(
                f"video of shape {tuple(video.shape)} does not fit tubelets of {self.tubelet}×{self.patch}×{self.patch}: "
                "set data.clip_len to a multiple of model.net.tubelet and the crop size to model.net.input_size"
            )
        if f != self.n_mels or fr % self.audio_patch[1]:
            raise ValueError(
                f"audio of shape {tuple(audio.shape)} does not fit {self.n_mels} mels and "
                f"{self.audio_patch[1]}-frame patches: set data.n_mels and data.audio_frames"
            )
        vt, at = t // self.tubelet, fr // self.audio_patch[1]
        if math.gcd(vt, at) < 2:
            raise ValueError(
                f"{at} audio time patches and {vt} video time patches share fewer than 2 time segments "
                "(their greatest common divisor): complementary masking pairs segments; change "
                "data.audio_frames (data.hop_ms=null fits that many mel frames to the clip) or "
                "model.net.audio_patch_time"
            )
        return (vt, h // self.patch, w // self.patch), (at, f // self.audio_patch[0])

    def _positions(
        self, vgrid: tuple[int, int, int], agrid: tuple[int, int], device: torch.device, dim: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Position embeddings [Nv, dim], [Na, dim]; time is in video-temporal-token units for both."""
        vt, vh, vw = vgrid
        at, af = agrid
        ar = lambda n: torch.arange(n, device=device, dtype=torch.float32) + 0.5  # noqa: E731
        vpos = sincos_grid(ar(vt), [ar(vh), ar(vw)], dim)
        apos = sincos_grid(ar(at) * vt / at, [ar(af)], dim)
        return vpos, apos

    def _ablate(self, video: torch.Tensor, audio: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return (
            torch.zeros_like(video) if self.ablate_video else video,
            torch.zeros_like(audio) if self.ablate_audio else audio,
        )

    def _tokens(self, video: torch.Tensor, audio: torch.Tensor) -> Tokens:
        vgrid, agrid = self._grids(video, audio)
        vpos, apos = self._positions(vgrid, agrid, video.device, self.dim)
        v = self.video_embed(video.transpose(1, 2)).flatten(2).transpose(1, 2)  # [B, vt*vh*vw, D]
        a = self.audio_embed(audio).transpose(2, 3).flatten(2).transpose(1, 2)  # [B, at*af, D], time major
        # a segment spans whole time patches of both modalities: vt/S video and at/S audio ones
        segments = math.gcd(vgrid[0], agrid[0])
        vseg = (torch.arange(vgrid[0], device=v.device) * segments // vgrid[0]).repeat_interleave(
            vgrid[1] * vgrid[2]
        )
        aseg = (torch.arange(agrid[0], device=v.device) * segments // agrid[0]).repeat_interleave(agrid[1])
        return Tokens(
            v + vpos + self.video_type,
            a + apos + self.audio_type,
            vpos,
            apos,
            vseg,
            aseg,
            vgrid,
            agrid,
            segments,
        )

    # ---------------------------------------------------------------- stage 2
    def forward_features(self, video: torch.Tensor, audio: torch.Tensor) -> torch.Tensor:
        """Pooled fused features [B, 2*dim] used by the classifier."""
        video, audio = self._ablate(video, audio)
        tk = self._tokens(video, audio)
        ev, ea = self.video_encoder(tk.video), self.audio_encoder(tk.audio)
        b, s = len(ev), tk.segments
        vseg, aseg = tk.vseg.expand(b, -1), tk.aseg.expand(b, -1)
        a2v = self.a2v(tk.vpos.expand(b, -1, -1), vseg, ea, aseg, s)
        v2a = self.v2a(tk.apos.expand(b, -1, -1), aseg, ev, vseg, s)
        own_cross_v, own_cross_a = [ev, a2v], [ea, v2a]
        if self.fuse_difference:
            # |token - cross-modal prediction| exposes their disagreement to a linear layer. When
            # only the correspondence is broken, neither modality alone separates real from fake,
            # and a bare concatenation leaves an XOR-like problem that gradient descent is slow to
            # find; stage 1 trains A2V/V2A to predict the encoders' tokens, so this is ~0 on real clips.
            own_cross_v.append((ev - a2v).abs())
            own_cross_a.append((ea - v2a).abs())
        fv = self.video_fuse(torch.cat(own_cross_v, dim=-1)).mean(1)
        fa = self.audio_fuse(torch.cat(own_cross_a, dim=-1)).mean(1)
        return torch.cat([fv, fa], dim=-1)

    def forward(self, video: torch.Tensor, audio: torch.Tensor) -> torch.Tensor:
        """Classification logits [B, num_classes]."""
        return self.forward_head(self.forward_features(video, audio))

    def example_inputs(self, batch_size: int = 2, seed: int = 0) -> tuple[torch.Tensor, ...]:
        """A random clip: video [B, 4·tubelet, 3, S, S] and log-mel [B, 1, n_mels, 8·audio_patch_time]."""
        g = torch.Generator().manual_seed(seed)
        size = self.input_spec.size
        video = torch.randn(batch_size, 4 * self.tubelet, 3, size, size, generator=g)
        return video, torch.randn(batch_size, 1, self.n_mels, 8 * self.audio_patch[1], generator=g)

    # ---------------------------------------------------------------- stage 1
    def complementary_masks(
        self, batch: int, vgrid: tuple[int, int, int], agrid: tuple[int, int], device: torch.device
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Token masks (True = masked) [B, Nv], [B, Na]; a segment masked in one is visible in the other.

        A time segment spans ``vt / S`` video and ``at / S`` audio time patches, S = gcd(vt, at).
        """
        (vt, vh, vw), (at, af) = vgrid, agrid
        segments = math.gcd(vt, at)
        if segments < 2:
            raise ValueError("complementary masking needs at least 2 time segments; raise data.clip_len")
        n_masked = min(max(1, round(self.mask_ratio * segments)), segments - 1)
        order = torch.rand(batch, segments, device=device).argsort(dim=1)
        seg_masked = torch.zeros(batch, segments, dtype=torch.bool, device=device)
        seg_masked.scatter_(1, order[:, :n_masked], True)
        vmask = seg_masked.repeat_interleave((vt // segments) * vh * vw, dim=1)
        amask = (~seg_masked).repeat_interleave((at // segments) * af, dim=1)
        return vmask, amask

    def video_patches(self, video: torch.Tensor) -> torch.Tensor:
        """[B, T, 3, H, W] → [B, Nv, tubelet*patch*patch*3] in token order."""
        b, t, c, h, w = video.shape
        k, p = self.tubelet, self.patch
        x = video.reshape(b, t // k, k, c, h // p, p, w // p, p)
        return x.permute(0, 1, 4, 6, 2, 5, 7, 3).reshape(b, (t // k) * (h // p) * (w // p), k * p * p * c)

    def audio_patches(self, audio: torch.Tensor) -> torch.Tensor:
        """[B, 1, F, frames] → [B, Na, pf*pt] in token order (time major)."""
        b, _, f, fr = audio.shape
        pf, pt = self.audio_patch
        x = audio.reshape(b, f // pf, pf, fr // pt, pt)
        return x.permute(0, 3, 1, 2, 4).reshape(b, (fr // pt) * (f // pf), pf * pt)

    @staticmethod
    def _norm_patches(target: torch.Tensor) -> torch.Tensor:
        """Per-patch normalised targets (MAE's norm_pix_loss)."""
        mean, var = target.mean(-1, keepdim=True), target.var(-1, keepdim=True)
        return (target - mean) / (var + 1e-6).sqrt()

    def pretrain_losses(self, video: torch.Tensor, audio: torch.Tensor) -> dict[str, torch.Tensor]:
        """Stage-1 terms (:attr:`pretrain_terms`) and their weighted sum ``loss``.

        Terms: ``rec_video``, ``rec_audio`` (masked reconstruction), ``contrastive`` (InfoNCE),
        with ``cross_weight`` ``cross`` (cosine A2V/V2A token prediction), with
        ``adversarial_weight`` ``adversarial`` (the reconstructions' generator loss) and
        ``discriminator`` (the patch discriminators' own loss). ``loss`` is the weighted sum the
        encoders, A2V/V2A and decoders minimise; train with ``loss + discriminator`` (the
        discriminator loss reaches the discriminators only, see :func:`adversarial_terms`).
        """
        video, audio = self._ablate(video, audio)
        tk = self._tokens(video, audio)
        v, a, vgrid, agrid = tk.video, tk.audio, tk.vgrid, tk.agrid
        b, d, s = len(v), self.dim, tk.segments
        vmask, amask = self.complementary_masks(b, vgrid, agrid, v.device)

        def pick(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
            # Every sample masks the same number of tokens, so boolean gathers reshape cleanly.
            x = x.expand(b, *x.shape[-2:]) if x.ndim == 3 else x.expand(b, -1)
            return x[mask].reshape(b, -1, *x.shape[2:])

        # The whole clip's tokens give the contrastive embeddings and the targets of the cross term.
        full_v, full_a = self.video_encoder(v), self.audio_encoder(a)
        if self.mask_before_encoder:  # MAE style: the encoders see the visible tokens only
            ev, ea = self.video_encoder(pick(v, ~vmask)), self.audio_encoder(pick(a, ~amask))
        else:  # the paper: encode the whole clip, then mask its tokens
            ev, ea = pick(full_v, ~vmask), pick(full_a, ~amask)
        vseg, aseg = tk.vseg[None], tk.aseg[None]
        # masked video tokens from the visible audio, masked audio tokens from the visible video
        a2v = self.a2v(pick(tk.vpos[None], vmask), pick(vseg, vmask), ea, pick(aseg, ~amask), s)
        v2a = self.v2a(pick(tk.apos[None], amask), pick(aseg, amask), ev, pick(vseg, ~vmask), s)
        fused_v = torch.empty_like(v)
        fused_v[~vmask], fused_v[vmask] = ev.reshape(-1, d), a2v.reshape(-1, d)
        fused_a = torch.empty_like(a)
        fused_a[~amask], fused_a[amask] = ea.reshape(-1, d), v2a.reshape(-1, d)
        vdec_pos, adec_pos = self._positions(vgrid, agrid, v.device, self.decoder_dim)
        pred_v = self.video_decoder(fused_v, vdec_pos)[vmask]  # [masked tokens, patch]
        pred_a = self.audio_decoder(fused_a, adec_pos)[amask]
        # Video targets are normalised per patch (MAE); audio targets are not, because a mel
        # patch's loudness is exactly what the face predicts (the log-mel is already standardised).
        target_v = self._norm_patches(self.video_patches(video))[vmask]
        target_a = self.audio_patches(audio)[amask]
        terms = {
            "rec_video": ((pred_v - target_v) ** 2).mean(),
            "rec_audio": ((pred_a - target_a) ** 2).mean(),
            "contrastive": info_nce(
                self.audio_proj(full_a.mean(1)), self.video_proj(full_v.mean(1)), self.temperature
            ),
        }
        if self.loss_weights["cross"] > 0:
            # cosine distance to the whole clip's tokens (stop-gradient, so the targets do not chase
            # the predictions): the encoders' token scale drifts during training, their direction is the content
            terms["cross"] = (1 - F.cosine_similarity(a2v, pick(full_v.detach(), vmask), dim=-1)).mean() + (
                1 - F.cosine_similarity(v2a, pick(full_a.detach(), amask), dim=-1)
            ).mean()
        if self.loss_weights["adversarial"] > 0:
            gen_v, disc_v = adversarial_terms(self.video_disc, pred_v, target_v)
            gen_a, disc_a = adversarial_terms(self.audio_disc, pred_a, target_a)
            terms["adversarial"], terms["discriminator"] = gen_v + gen_a, disc_v + disc_a
        loss = sum(self.loss_weights[k] * terms[k] for k in terms if k != "discriminator")
        return {"loss": loss, **terms}


__all__ = ["AVFF", "PatchDiscriminator", "adversarial_terms", "info_nce", "sincos_grid"]
