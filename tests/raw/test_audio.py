"""The audio API: wav round trip at 16 kHz, rate checks, leading silence."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from dfd.data.mel import LogMel
from dfd.raw.audio import leading_silence_seconds, read_wav, write_wav


# -- data --------------------------------------------------------------------------------------
def test_wav_roundtrip_and_logmel_shape(tmp_path: Path) -> None:
    t = np.arange(16000) / 16000
    tone = 0.5 * np.sin(2 * np.pi * 440 * t)
    write_wav(tmp_path / "a.wav", tone)
    back = read_wav(tmp_path / "a.wav")
    assert np.abs(back - tone).max() < 1e-4
    mel = LogMel()(torch.from_numpy(back))
    assert mel.shape == (128, 16000 // 160 + 1)  # 128 mels, 10 ms hop
    with pytest.raises(ValueError, match="8000 Hz"):
        write_wav(tmp_path / "b.wav", tone, rate=8000)
        read_wav(tmp_path / "b.wav")


def test_leading_silence_is_measured() -> None:
    t = np.arange(16000) / 16000
    audio = np.where(t >= 0.3, 0.4 * np.sin(2 * np.pi * 200 * t), 1e-5)
    assert abs(leading_silence_seconds(audio) - 0.3) <= 0.011
