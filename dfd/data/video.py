"""Video and audio I/O: decode only the sampled frames (decord) and the 16 kHz mono audio track
(PyAV), and write wav files with the standard library.

Decoding only the sampled frames keeps preprocessing time and memory independent of video
length: decord seeks to each requested frame instead of decoding the whole stream.
"""

from __future__ import annotations

import os
import wave
from pathlib import Path

import numpy as np

AUDIO_RATE = 16_000  # Hz, what the audio models expect


class UnreadableVideo(RuntimeError):
    """The file cannot be decoded (zero bytes, truncated, not a video)."""


class NoAudioTrack(RuntimeError):
    """The video has no audio stream."""


def sample_indices(n_frames: int, num_frames: int = 32, stride: int = 0) -> np.ndarray:
    """Frame indices to decode.

    ``stride > 0`` takes every ``stride``-th frame from the start (at most ``num_frames`` of
    them when ``num_frames > 0``); otherwise ``num_frames`` indices evenly spaced over the video.
    """
    if n_frames <= 0:
        return np.zeros(0, dtype=np.int64)
    if stride > 0:
        idx = np.arange(0, n_frames, stride, dtype=np.int64)
        return idx[:num_frames] if num_frames > 0 else idx
    if num_frames <= 0 or num_frames >= n_frames:
        return np.arange(n_frames, dtype=np.int64)
    return np.unique(np.linspace(0, n_frames - 1, num_frames).round().astype(np.int64))


def read_frames(
    path: str | Path, indices: np.ndarray | None = None, num_frames: int = 32, stride: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Decode the sampled frames of a video: ``(indices int[N], frames uint8[N,H,W,3] RGB)``.

    ``indices`` (when given) are decoded as they are, clipped to the video's length; otherwise
    they come from :func:`sample_indices`. Raises :class:`UnreadableVideo` on any decode error.
    """
    from decord import DECORDError, VideoReader, cpu

    path = Path(path)
    if not path.is_file() or path.stat().st_size == 0:
        raise UnreadableVideo(f"{path} is missing or empty (0 bytes)")
    try:
        reader = VideoReader(str(path), ctx=cpu(0), num_threads=1)
        n = len(reader)
        if indices is None:
            indices = sample_indices(n, num_frames, stride)
        else:
            indices = np.asarray(indices, dtype=np.int64)
            indices = indices[indices < n]
        if len(indices) == 0:
            raise UnreadableVideo(f"{path} has no decodable frames")
        frames = reader.get_batch(indices.tolist()).asnumpy()
    except (DECORDError, RuntimeError, ValueError, IndexError) as err:
        if isinstance(err, UnreadableVideo):
            raise
        raise UnreadableVideo(
            f"{path}: {type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
        ) from err
    return indices, frames


def read_audio(path: str | Path, rate: int = AUDIO_RATE) -> np.ndarray:
    """Decode a file's first audio stream to mono int16 at ``rate`` Hz with PyAV."""
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
        raise UnreadableVideo(f"{path}: audio decode failed: {err}") from err
    return np.concatenate(chunks).astype(np.int16) if chunks else np.zeros(0, np.int16)


def trim_leading_silence(
    samples: np.ndarray, threshold_db: float = -40.0, rate: int = AUDIO_RATE
) -> np.ndarray:
    """Drop leading samples quieter than ``threshold_db`` dBFS (10 ms windows).

    FakeAVCeleb's fakes start with a short silence that alone separates the classes
    (a shortcut a detector should not learn), so preprocessing can trim it.
    """
    win = rate // 100
    n = len(samples) // win
    if n == 0:
        return samples
    frames = samples[: n * win].astype(np.float32).reshape(n, win) / 32768.0
    db = 20 * np.log10(np.sqrt((frames**2).mean(axis=1)) + 1e-10)
    loud = np.flatnonzero(db > threshold_db)
    return samples[loud[0] * win :] if len(loud) else samples


def write_wav(path: str | Path, samples: np.ndarray, rate: int = AUDIO_RATE) -> None:
    """Write mono int16 ``samples`` as a wav, atomically (temporary file, then rename)."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    with wave.open(str(tmp), "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(rate)
        f.writeframes(np.ascontiguousarray(samples, dtype="<i2").tobytes())
    os.replace(tmp, path)


def read_wav(path: str | Path) -> tuple[np.ndarray, int]:
    """Read a mono int16 wav written by :func:`write_wav`: ``(samples, rate)``."""
    with wave.open(str(path), "rb") as f:
        return np.frombuffer(f.readframes(f.getnframes()), dtype="<i2"), f.getframerate()
