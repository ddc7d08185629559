"""AVFF and synthetic audio-visual data at test size, shared by the AVFF tests."""

from __future__ import annotations

import torch

from dfd.models.nets.avff import AVFF

#: AVFF at its test size (``AVFF.small_config``): the encoder sizes, and the audio patch
TINY_AUDIO_PATCH = {k: AVFF.small_config[k] for k in ("audio_patch_freq", "audio_patch_time")}
TINY = {k: v for k, v in AVFF.small_config.items() if k not in TINY_AUDIO_PATCH}
#: synthetic_av at test size: 40 videos (8 val, 8 test), 32 mel bins to match TINY
AV_DATA = ["data.num_videos=40", "data.batch_size=8", "data.num_workers=0"]


def tiny_net(**kw) -> AVFF:
    return AVFF(**TINY, **TINY_AUDIO_PATCH, **kw)


def batch(b: int = 4, t: int = 8, frames: int = 32, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(b, t, 3, 32, 32, generator=g), torch.randn(b, 1, 32, frames, generator=g)
