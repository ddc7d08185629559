"""Video decoding: only the sampled frames (decord), and a video's length and frame rate.

Decoding only the sampled frames keeps preprocessing and inference time and memory independent
of video length: decord seeks to each requested frame instead of decoding the whole stream.
Audio tracks are decoded by :mod:`dfd.raw.audio`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dfd.errors import DfdError


class UnreadableVideo(DfdError, RuntimeError):
    """The file cannot be decoded (zero bytes, truncated, not a video)."""


def sample_indices(n_frames: int, num_frames: int = 32, stride: int = 0, start: int = 0) -> np.ndarray:
    """Frame indices to decode, from frame ``start`` on.

    ``stride > 0`` takes every ``stride``-th frame (at most ``num_frames`` of them when
    ``num_frames > 0``); otherwise ``num_frames`` indices evenly spaced over ``[start, n_frames)``.
    """
    start = max(0, int(start))
    if n_frames <= start:
        return np.zeros(0, dtype=np.int64)
    if stride > 0:
        idx = np.arange(start, n_frames, stride, dtype=np.int64)
        return idx[:num_frames] if num_frames > 0 else idx
    if num_frames <= 0 or num_frames >= n_frames - start:
        return np.arange(start, n_frames, dtype=np.int64)
    return np.unique(np.linspace(start, n_frames - 1, num_frames).round().astype(np.int64))


def read_frames(
    path: str | Path,
    indices: np.ndarray | None = None,
    num_frames: int = 32,
    stride: int = 0,
    start_s: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Decode the sampled frames of a video: ``(indices int[N], frames uint8[N,H,W,3] RGB)``.

    ``indices`` (when given) are decoded as they are, clipped to the video's length; otherwise
    they come from :func:`sample_indices`, from ``start_s`` seconds on. Raises
    :class:`UnreadableVideo` on any decode error.
    """
    from decord import DECORDError, VideoReader, cpu

    path = Path(path)
    if not path.is_file() or path.stat().st_size == 0:
        raise UnreadableVideo(f"{path} is missing or empty (0 bytes)")
    try:
        reader = VideoReader(str(path), ctx=cpu(0), num_threads=1)
        n = len(reader)
        if indices is None:
            start = int(np.ceil(start_s * reader.get_avg_fps() - 1e-6)) if start_s > 0 else 0
            indices = sample_indices(n, num_frames, stride, start)
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


def read_decodable_frames(path: str | Path, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The frames of ``indices`` that decode, ``(indices, frames)`` as :func:`read_frames` returns
    them, possibly fewer: the fallback for a video that opens but whose batch decode fails (some
    frames corrupt). Decoded in order with PyAV, since decord's threaded decoder gives another set
    of frames on each try over corrupt data; a frame's index is its timestamp times the average
    frame rate. :class:`UnreadableVideo` when the file does not open."""
    import av

    wanted = {int(i) for i in indices}
    kept: dict[int, np.ndarray] = {}
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            rate, start = stream.average_rate or stream.guessed_rate, stream.start_time or 0
            for packet in container.demux(stream):
                try:
                    decoded = packet.decode()
                except av.error.FFmpegError:  # a corrupt packet: the frames after it may still decode
                    continue
                for frame in decoded:
                    if frame.pts is None or rate is None:
                        continue
                    idx = round(float((frame.pts - start) * stream.time_base * rate))
                    if idx in wanted and idx not in kept:
                        kept[idx] = frame.to_ndarray(format="rgb24")
                if len(kept) == len(wanted):
                    break
    except (av.error.FFmpegError, IndexError) as err:  # IndexError: no video stream
        raise UnreadableVideo(f"{path}: {type(err).__name__}: {err}") from err
    order = sorted(kept)
    frames = np.stack([kept[i] for i in order]) if order else np.zeros((0, 1, 1, 3), np.uint8)
    return np.asarray(order, dtype=np.int64), frames


def frame_size(path: str | Path) -> tuple[int, int] | None:
    """``(height, width)`` of a video's frames from its stream header (OpenCV), without decoding;
    None when it cannot be read."""
    import cv2

    cap = cv2.VideoCapture(str(path))
    try:
        h, w = int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)), int(cap.get(cv2.CAP_PROP_FRAME_WIDTH))
    finally:
        cap.release()
    return (h, w) if h > 0 and w > 0 else None


def video_timing(path: str | Path) -> tuple[int, float]:
    """Frame count and average frame rate (frames/s) of a video; :class:`UnreadableVideo` on failure."""
    from decord import DECORDError, VideoReader, cpu

    path = Path(path)
    if not path.is_file() or path.stat().st_size == 0:
        raise UnreadableVideo(f"{path} is missing or empty (0 bytes)")
    try:
        reader = VideoReader(str(path), ctx=cpu(0), num_threads=1)
        return len(reader), float(reader.get_avg_fps())
    except (DECORDError, RuntimeError) as err:
        raise UnreadableVideo(
            f"{path}: {type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
        ) from err
