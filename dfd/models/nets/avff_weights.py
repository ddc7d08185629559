"""Pretrained encoder weights for AVFF: MARLIN (face tubelets) and AudioMAE (log-mel), renamed onto dfd.

AVFF (Oorloff et al., CVPR 2024) builds its visual encoder on MARLIN (Cai et al., "MARLIN: Masked
Autoencoder for facial video Representation LearnINg", CVPR 2023, github.com/ControlNet/MARLIN)
and its audio encoder on AudioMAE (Huang et al., "Masked Autoencoders that Listen", NeurIPS 2022,
github.com/facebookresearch/AudioMAE). Both are ViT-Bs; their released checkpoints name the same
tensors differently from :class:`dfd.models.nets.avff.AVFF` (timm blocks). This module maps:

* MARLIN (``marlin_vit_base_ytf.encoder.pt``, or the ``.full.pt`` / Lightning ``.ckpt``):
  ``encoder.patch_embedding.projection`` → ``video_embed``; ``encoder.blocks.N`` →
  ``video_encoder.blocks.N`` with ``attn.q_bias`` + ``attn.v_bias`` joined into timm's
  ``attn.qkv.bias`` (MARLIN's key bias is zero) and ``mlp.layers.0/1.linear`` → ``mlp.fc1/fc2``;
  ``encoder.norm`` → ``video_encoder.norm``.
* AudioMAE (``pretrained.pth``, ViT-B AS-2M, tensors under ``model``): ``patch_embed.proj`` →
  ``audio_embed`` with its kernel transposed (AudioMAE reads [time, freq], dfd [freq, time]);
  ``blocks.N`` → ``audio_encoder.blocks.N`` (already timm names); ``norm`` → ``audio_encoder.norm``.

Position tables, class tokens and the MAE decoders of both checkpoints are left out on purpose:
dfd computes its own sine-cosine positions on a time axis shared by both modalities, and its
decoders reconstruct from fused audio-visual tokens. Any other key, a missing one or a shape that
does not fit stops the load with the list of what did not match.
"""

from __future__ import annotations

import argparse
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from dfd.core.safe_load import load_torch_file
from dfd.models.nets.pretrained import extract_state_dict

log = logging.getLogger(__name__)

Rename = Callable[[dict[str, torch.Tensor]], tuple[dict[str, torch.Tensor], list[str], list[str]]]


@dataclass(frozen=True)
class EncoderWeights:
    """A public checkpoint family and how its keys land on one AVFF encoder.

    ``rename`` maps the file's tensors to dfd names and returns ``(mapped, ignored, unknown)``:
    ``ignored`` are keys left out on purpose (positions, decoders), ``unknown`` keys it does not know.
    """

    name: str
    config_key: str  # the model.net key that names the file
    targets: tuple[str, ...]  # dfd state-dict prefixes the file must fill completely
    rename: Rename
    download: str  # where the file comes from, for the error message


_MARLIN_BLOCK = re.compile(r"encoder\.blocks\.(\d+)\.(.+)")
_MARLIN_BLOCK_PARTS = {
    "norm1.weight": "norm1.weight",
    "norm1.bias": "norm1.bias",
    "norm2.weight": "norm2.weight",
    "norm2.bias": "norm2.bias",
    "attn.qkv.weight": "attn.qkv.weight",
    "attn.proj.weight": "attn.proj.weight",
    "attn.proj.bias": "attn.proj.bias",
    "mlp.layers.0.linear.weight": "mlp.fc1.weight",
    "mlp.layers.0.linear.bias": "mlp.fc1.bias",
    "mlp.layers.1.linear.weight": "mlp.fc2.weight",
    "mlp.layers.1.linear.bias": "mlp.fc2.bias",
}
_MARLIN_TOP = {
    "encoder.patch_embedding.projection.weight": "video_embed.weight",
    "encoder.patch_embedding.projection.bias": "video_embed.bias",
    "encoder.norm.weight": "video_encoder.norm.weight",
    "encoder.norm.bias": "video_encoder.norm.bias",
}
#: MARLIN keys dfd does not use: the fixed 1-D position table, and the MAE parts of a full model.
_MARLIN_IGNORED = ("encoder.pos_embedding.", "decoder.", "enc_dec_proj.", "discriminator.")


def rename_marlin(state: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], list[str], list[str]]:
    """MARLIN encoder tensors → dfd ``video_embed.*`` / ``video_encoder.*``; see the module docstring."""
    mapped: dict[str, torch.Tensor] = {}
    ignored, unknown = [], []
    biases: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in state.items():
        block = _MARLIN_BLOCK.fullmatch(key)
        if key in _MARLIN_TOP:
            mapped[_MARLIN_TOP[key]] = value
        elif key.startswith(_MARLIN_IGNORED):
            ignored.append(key)
        elif block and block.group(2) in _MARLIN_BLOCK_PARTS:
            mapped[f"video_encoder.blocks.{block.group(1)}.{_MARLIN_BLOCK_PARTS[block.group(2)]}"] = value
        elif block and block.group(2) in ("attn.q_bias", "attn.v_bias"):
            biases.setdefault(int(block.group(1)), {})[block.group(2)[5]] = value
        else:
            unknown.append(key)
    for i, qv in sorted(biases.items()):
        if set(qv) != {"q", "v"}:
            unknown.append(f"encoder.blocks.{i}.attn.{next(iter(qv))}_bias (without its pair)")
            continue
        # MARLIN's attention has query and value biases and no key bias: timm's one qkv bias with zeros for keys
        mapped[f"video_encoder.blocks.{i}.attn.qkv.bias"] = torch.cat(
            [qv["q"], torch.zeros_like(qv["q"]), qv["v"]]
        )
    return mapped, ignored, unknown


_AUDIOMAE_TOP = {
    "patch_embed.proj.weight": "audio_embed.weight",
    "patch_embed.proj.bias": "audio_embed.bias",
    "norm.weight": "audio_encoder.norm.weight",
    "norm.bias": "audio_encoder.norm.bias",
}
_AUDIOMAE_BLOCK = re.compile(r"blocks\.(\d+)\.(.+)")
_TIMM_BLOCK_PARTS = set(_MARLIN_BLOCK_PARTS.values()) | {"attn.qkv.bias"}
#: AudioMAE keys dfd does not use: class token and position tables, the MAE decoder; a fine-tuned
#: checkpoint's classifier.
_AUDIOMAE_IGNORED = ("cls_token", "pos_embed", "mask_token", "decoder_", "head.")


def rename_audiomae(state: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], list[str], list[str]]:
    """AudioMAE encoder tensors → dfd ``audio_embed.*`` / ``audio_encoder.*``; see the module docstring."""
    mapped: dict[str, torch.Tensor] = {}
    ignored, unknown = [], []
    for key, value in state.items():
        block = _AUDIOMAE_BLOCK.fullmatch(key)
        if key == "patch_embed.proj.weight":
            mapped["audio_embed.weight"] = value.transpose(-1, -2)  # [D, 1, time, freq] → [D, 1, freq, time]
        elif key in _AUDIOMAE_TOP:
            mapped[_AUDIOMAE_TOP[key]] = value
        elif key.startswith(_AUDIOMAE_IGNORED):
            ignored.append(key)
        elif block and block.group(2) in _TIMM_BLOCK_PARTS:
            mapped[f"audio_encoder.blocks.{block.group(1)}.{block.group(2)}"] = value
        elif key.startswith("fc_norm.") and f"norm.{key[8:]}" not in state:
            # a fine-tuned checkpoint (global pooling) keeps its final norm as fc_norm
            mapped[f"audio_encoder.norm.{key[8:]}"] = value
        else:
            unknown.append(key)
    return mapped, ignored, unknown


MARLIN = EncoderWeights(
    name="MARLIN",
    config_key="model.net.video_weights",
    targets=("video_embed.", "video_encoder."),
    rename=rename_marlin,
    download="MARLIN's ViT-B encoder, marlin_vit_base_ytf.encoder.pt, from "
    "https://github.com/ControlNet/MARLIN/releases/download/model_v1/marlin_vit_base_ytf.encoder.pt",
)
AUDIOMAE = EncoderWeights(
    name="AudioMAE",
    config_key="model.net.audio_weights",
    targets=("audio_embed.", "audio_encoder."),
    rename=rename_audiomae,
    download="AudioMAE's ViT-B AS-2M pretrained checkpoint, pretrained.pth, linked from "
    "https://github.com/facebookresearch/AudioMAE (README, 'ViT-B, AS-2M pretrained')",
)


def _listing(keys: list[str], limit: int = 8) -> str:
    more = f" … and {len(keys) - limit} more" if len(keys) > limit else ""
    return ", ".join(keys[:limit]) + more


def load_encoder_weights(
    net: nn.Module, path: str | Path, source: EncoderWeights, allow_pickle: bool = False
) -> list[str]:
    """Copy the encoder tensors of a public ``source`` checkpoint at ``path`` into ``net``.

    Every tensor under ``source.targets`` must come from the file with the same shape, and every
    key of the file must be either mapped or one of the parts left out on purpose; otherwise a
    ``ValueError`` lists the keys that did not match. Returns the dfd keys loaded.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"{source.config_key}={str(path)!r} does not exist. Download {source.download} to that path "
            f"(or point {source.config_key} at your copy), or train this encoder from scratch with "
            "model.net.pretrained=false"
        )
    # AudioMAE saves its argparse options beside the tensors; a Namespace of plain values is safe to rebuild
    with torch.serialization.safe_globals([argparse.Namespace]):
        checkpoint = load_torch_file(path, allow_pickle, opt_in="allow_pickle=true")
    mapped, ignored, unknown = source.rename(extract_state_dict(checkpoint))
    target = {k: v for k, v in net.state_dict().items() if k.startswith(source.targets)}
    missing = sorted(set(target) - set(mapped))
    extra = sorted(set(mapped) - set(target))  # e.g. more blocks in the file than model.net.depth
    shapes = [
        f"{k} (file {tuple(mapped[k].shape)}, net {tuple(target[k].shape)})"
        for k in sorted(set(target) & set(mapped))
        if mapped[k].shape != target[k].shape
    ]
    if unknown or missing or extra or shapes:
        problems = [
            f"keys that are not {source.name} encoder keys: {_listing(sorted(unknown))}" if unknown else "",
            f"net tensors the file does not hold: {_listing(missing)}" if missing else "",
            f"file tensors this net has no place for: {_listing(extra)}" if extra else "",
            f"shapes that differ: {_listing(shapes)}" if shapes else "",
        ]
        raise ValueError(
            f"{source.config_key}={str(path)!r} does not fit this AVFF as a {source.name} checkpoint: "
            + "; ".join(p for p in problems if p)
            + f". Expected {source.download}, with model.net.dim/depth/heads, patch sizes and n_mels at "
            "conf/model/avff.yaml's ViT-B values"
        )
    net.load_state_dict(mapped, strict=False)
    log.info(
        "Loaded %d %s tensors from %s into AVFF (%d left out on purpose: positions, decoders)",
        len(mapped), source.name, path, len(ignored),
    )  # fmt: skip
    return sorted(mapped)


__all__ = ["AUDIOMAE", "MARLIN", "EncoderWeights", "load_encoder_weights", "rename_audiomae", "rename_marlin"]
