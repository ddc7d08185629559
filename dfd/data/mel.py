"""Log-mel features of 16 kHz audio for the audio and audio-visual detectors.

``torchaudio.transforms.MelSpectrogram`` (torchaudio's transforms need neither torchcodec nor
FFmpeg); the defaults (16 kHz, 128 mels, 25 ms window, 10 ms hop) follow AVFF (Oorloff et al.,
"AVFF: Audio-Visual Feature Fusion for Video Deepfake Detection", CVPR 2024) and the
AST/CAV-MAE audio front end it builds on. Waveforms come from :mod:`dfd.raw.audio`.
"""

from __future__ import annotations

import warnings

import torch
import torchaudio

from dfd.raw.audio import SAMPLE_RATE


class LogMel(torch.nn.Module):
    """Waveform [..., N] → normalised log-mel spectrogram [..., n_mels, frames].

    ``mean``/``std`` standardise the log-mel values (AST-style); the defaults are AudioSet
    statistics of ``log(mel + 1e-6)`` and only need to put values in a sane range.
    """

    def __init__(
        self,
        sample_rate: int = SAMPLE_RATE,
        n_mels: int = 128,
        win_ms: float = 25.0,
        hop_ms: float = 10.0,
        mean: float = -4.27,
        std: float = 4.57,
    ) -> None:
        super().__init__()
        win = int(round(sample_rate * win_ms / 1000))
        n_fft = 1 << (win - 1).bit_length()  # next power of two, as Kaldi fbank (AST, AVFF) does
        self.hop = int(round(sample_rate * hop_ms / 1000))
        with warnings.catch_warnings():
            # 128 mels over 257 FFT bins leaves a few low-frequency filters empty; AST and AVFF
            # use this resolution anyway, and an empty filter is just a constant row.
            warnings.filterwarnings("ignore", message="At least one mel filterbank has all zero values")
            self.mel = torchaudio.transforms.MelSpectrogram(
                sample_rate=sample_rate, n_fft=n_fft, win_length=win, hop_length=self.hop, n_mels=n_mels
            )
        self.mean, self.std = mean, std

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        return (torch.log(self.mel(waveform) + 1e-6) - self.mean) / self.std


def fit_frames(spec: torch.Tensor, frames: int) -> torch.Tensor:
    """Crop or right-pad (with the minimum value, i.e. silence) the last axis to ``frames``."""
    have = spec.shape[-1]
    if have >= frames:
        return spec[..., :frames]
    pad = spec.new_full((*spec.shape[:-1], frames - have), float(spec.min()) if spec.numel() else 0.0)
    return torch.cat([spec, pad], dim=-1)
