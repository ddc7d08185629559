"""AVFF and synthetic audio-visual data at test size, shared by the AVFF tests."""

from __future__ import annotations

import torch

from dfd.models.nets.avff import AVFF

TINY = dict(
    dim=32,
    depth=1,
    heads=2,
    decoder_dim=16,
    decoder_depth=1,
    decoder_heads=2,
    input_size=32,
    patch=16,
    n_mels=32,
)
TINY_AUDIO_PATCH = dict(audio_patch_freq=16, audio_patch_time=4)
#: synthetic_av at test size: 40 videos (8 val, 8 test), 32 mel bins to match TINY
AV_DATA = ["data.num_videos=40", "data.batch_size=8", "data.num_workers=0"]


def tiny_net(**kw) -> AVFF:
    return AVFF(**TINY, **TINY_AUDIO_PATCH, **kw)


def batch(b: int = 4, t: int = 8, frames: int = 32, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(b, t, 3, 32, 32, generator=g), torch.randn(b, 1, 32, frames, generator=g)
