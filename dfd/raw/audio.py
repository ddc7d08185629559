"""The one audio API of dfd: decode a video's audio track, read and write 16 kHz mono wav, find
leading silence.

Every function speaks the same contract: mono ``float32`` samples in [-1, 1] at
:data:`SAMPLE_RATE` (16 kHz, what the audio models expect). Tracks are decoded and resampled
with PyAV; wav files are 16-bit PCM read and written with the standard library's :mod:`wave`
module, because torchaudio's ``load``/``save`` need torchcodec and a system FFmpeg.

Leading-silence detection exists because FakeAVCeleb's fakes start with a short silence that
alone separates the classes (a dataset shortcut, not a deepfake cue). A window is silent when
its RMS is more than ``-threshold_db`` dB below the track's loudest window, so the threshold
does not depend on the recording level. Preprocessing uses it in frame and clip mode alike.
"""

from __future__ import annotations

import os
import wave
from pathlib import Path

import numpy as np

from dfd.core.errors import DfdError

SAMPLE_RATE = 16_000  # Hz, the rate every audio track is resampled to at preprocessing
SILENCE_THRESHOLD_DB = -40.0  # dB below the loudest 10 ms window


class NoAudioTrack(DfdError, RuntimeError):
    """The video has no audio stream."""


class UnreadableAudio(DfdError, RuntimeError):
    """The audio stream cannot be decoded."""


def read_audio(path: str | Path, rate: int = SAMPLE_RATE) -> np.ndarray:
    """Decode a media file's first audio stream to mono float32 in [-1, 1] at ``rate`` Hz (PyAV).

    Raises :class:`NoAudioTrack` when the file has no audio stream and :class:`UnreadableAudio`
    when decoding fails.
    """
    import av

    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                raise NoAudioTrack(f"{path} has no audio stream")
            stream = container.streams.audio[0]
            resampler = av.AudioResampler(format="s16", layout="mono", rate=rate)
            chunks = []
            for frame in container.decode(stream):
                chunks += [f.to_ndarray().reshape(-1) for f in resampler.resample(frame)]
            chunks += [f.to_ndarray().reshape(-1) for f in resampler.resample(None)]
    except av.FFmpegError as err:
        raise UnreadableAudio(f"{path}: audio decode failed: {err}") from err
    pcm = np.concatenate(chunks) if chunks else np.zeros(0, np.int16)
    return pcm.astype(np.float32) / 32768.0


def write_wav(path: str | Path, samples: np.ndarray, rate: int = SAMPLE_RATE) -> None:
    """Write mono float samples in [-1, 1] as a 16-bit PCM wav, atomically (temporary file, then rename)."""
    samples = np.asarray(samples, dtype=np.float32)
    if samples.ndim != 1:
        raise ValueError(f"write_wav expects mono samples of shape [N], got {samples.shape}")
    pcm = np.round(np.clip(samples, -1.0, 32767 / 32768) * 32768.0).astype("<i2")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with wave.open(str(tmp), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(rate)
        handle.writeframes(pcm.tobytes())
    os.replace(tmp, path)


def read_wav(path: str | Path, expected_rate: int | None = SAMPLE_RATE) -> np.ndarray:
    """Read a 16-bit PCM wav as mono float32 in [-1, 1] (channels are averaged).

    Raises ``ValueError`` when the file's rate is not ``expected_rate`` (``None`` accepts any):
    preprocessing resamples every track to 16 kHz, so another rate means the file did not come
    from it.
    """
    with wave.open(str(path), "rb") as handle:
        rate, width, channels = handle.getframerate(), handle.getsampwidth(), handle.getnchannels()
        raw = handle.readframes(handle.getnframes())
    if expected_rate is not None and rate != expected_rate:
        raise ValueError(f"{path}: sample rate {rate} Hz, expected {expected_rate} Hz; re-run dfd.preprocess")
    if width != 2:
        raise ValueError(f"{path}: {8 * width}-bit samples, expected 16-bit PCM; re-run dfd.preprocess")
    samples = np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0
    return samples.reshape(-1, channels).mean(axis=1)


def wav_rate(path: str | Path) -> int:
    """The sample rate of a wav file, in Hz."""
    with wave.open(str(path), "rb") as handle:
        return handle.getframerate()


def leading_silence_seconds(
    samples: np.ndarray,
    rate: int = SAMPLE_RATE,
    threshold_db: float = SILENCE_THRESHOLD_DB,
    window_ms: float = 10.0,
) -> float:
    """Duration of the silence at the start of a track, in seconds.

    A window is silent when its RMS is more than ``-threshold_db`` dB below the track's
    loudest window. A fully silent track returns its whole duration.
    """
    samples = np.asarray(samples, dtype=np.float32)
    win = max(1, int(rate * window_ms / 1000))
    n = len(samples) // win
    if n == 0:
        return 0.0
    rms = np.sqrt(np.mean(samples[: n * win].reshape(n, win) ** 2, axis=1) + 1e-12)
    level = 20.0 * np.log10(rms / rms.max())
    loud = np.flatnonzero(level > threshold_db)
    if rms.max() < 1e-5 or len(loud) == 0:
        return len(samples) / rate
    return float(loud[0] * win / rate)
