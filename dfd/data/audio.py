"""Audio for the audio-visual detectors: 16 kHz mono wav I/O, log-mel features, silence trimming.

torchaudio's ``load``/``save`` need torchcodec, which is not installed here, so wav files are
read and written with the standard library's :mod:`wave` module (16-bit PCM). Features use
``torchaudio.transforms.MelSpectrogram``; the defaults (16 kHz, 128 mels, 25 ms window,
10 ms hop) follow AVFF (Oorloff et al., "AVFF: Audio-Visual Feature Fusion for Video
Deepfake Detection", CVPR 2024) and the AST/CAV-MAE audio front end it builds on.

Leading-silence trimming exists because FakeAVCeleb's fake clips start with a short silence
that alone separates the classes (a dataset shortcut, not a deepfake cue).
"""

from __future__ import annotations

import warnings
import wave
from pathlib import Path

import numpy as np
import torch
import torchaudio

SAMPLE_RATE = 16_000  # Hz, the rate every audio track is resampled to at preprocessing


def write_wav(path: str | Path, samples: np.ndarray, sample_rate: int = SAMPLE_RATE) -> None:
    """Write mono float samples in [-1, 1] as 16-bit PCM wav."""
    samples = np.asarray(samples, dtype=np.float32)
    if samples.ndim != 1:
        raise ValueError(f"write_wav expects mono samples of shape [N], got {samples.shape}")
    pcm = (np.clip(samples, -1.0, 1.0) * 32767.0).astype("<i2")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(sample_rate)
        handle.writeframes(pcm.tobytes())


def read_wav(path: str | Path, expected_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Read a 16-bit PCM wav as mono float32 in [-1, 1] (channels are averaged).

    Raises ``ValueError`` when the file's rate is not ``expected_rate``: preprocessing
    resamples every track to 16 kHz, so another rate means the file did not come from it.
    """
    with wave.open(str(path), "rb") as handle:
        rate, width, channels = handle.getframerate(), handle.getsampwidth(), handle.getnchannels()
        raw = handle.readframes(handle.getnframes())
    if rate != expected_rate:
        raise ValueError(f"{path}: sample rate {rate} Hz, expected {expected_rate} Hz; re-run dfd.preprocess")
    if width != 2:
        raise ValueError(f"{path}: {8 * width}-bit samples, expected 16-bit PCM; re-run dfd.preprocess")
    samples = np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0
    return samples.reshape(-1, channels).mean(axis=1)


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


def leading_silence_seconds(
    samples: np.ndarray,
    sample_rate: int = SAMPLE_RATE,
    threshold_db: float = -40.0,
    window_ms: float = 10.0,
) -> float:
    """Duration of the silence at the start of a track, in seconds.

    A window is silent when its RMS is more than ``-threshold_db`` dB below the track's
    loudest window. A fully silent track returns its whole duration.
    """
    samples = np.asarray(samples, dtype=np.float32)
    win = max(1, int(sample_rate * window_ms / 1000))
    n = len(samples) // win
    if n == 0:
        return 0.0
    rms = np.sqrt(np.mean(samples[: n * win].reshape(n, win) ** 2, axis=1) + 1e-12)
    level = 20.0 * np.log10(rms / rms.max())
    loud = np.flatnonzero(level > threshold_db)
    if rms.max() < 1e-5 or len(loud) == 0:
        return len(samples) / sample_rate
    return float(loud[0] * win / sample_rate)
