"""Video decoding: only the sampled frames (decord), and a video's length and frame rate.

Decoding only the sampled frames keeps preprocessing and inference time and memory independent
of video length: decord seeks to each requested frame instead of decoding the whole stream.
:func:`read_frame_chunks` also bounds memory by frame size: ``dfd.predict`` and ``dfd.serve``
refuse a video whose header claims frames above their pixel budget before any frame is decoded
(:func:`check_frame_size`) and hold the sampled frames a few at a time. Audio tracks are decoded
by :mod:`dfd.raw.audio`.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from dfd.core.errors import DfdError


class UnreadableVideo(DfdError, RuntimeError):
    """The file cannot be decoded (zero bytes, truncated, not a video)."""


class OversizedVideo(UnreadableVideo):
    """A video whose frames hold more pixels than the decoding budget (``max_pixels``)."""


@contextmanager
def _decodable_name(path: Path) -> Iterator[str]:
    """A name of ``path`` that decord can open: decord passes names to C as UTF-8, so a name that
    is not valid UTF-8 (surrogate-escaped by Python) is reached through a symlink with a plain name."""
    name = str(path)
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        with tempfile.TemporaryDirectory(prefix="dfd-video-") as tmp:
            link = Path(tmp) / f"video{path.suffix.encode('ascii', 'ignore').decode()}"
            os.symlink(path.resolve(), link)
            yield str(link)
        return
    yield name


#: How evenly spaced frame positions become indices: ``nearest`` (dfd) rounds them, ``floor``
#: truncates them as ``np.linspace(..., dtype=int)`` does (DeepfakeBench's ``preprocessing/preprocess.py``).
ROUNDINGS = ("nearest", "floor")


def sample_indices(
    n_frames: int, num_frames: int = 32, stride: int = 0, start: int = 0, rounding: str = "nearest"
) -> np.ndarray:
    """Frame indices to decode, from frame ``start`` on.

    ``stride > 0`` takes every ``stride``-th frame (at most ``num_frames`` of them when
    ``num_frames > 0``); otherwise ``num_frames`` indices evenly spaced over ``[start, n_frames)``,
    rounded as ``rounding`` says (:data:`ROUNDINGS`), each index once.
    """
    if rounding not in ROUNDINGS:
        raise ValueError(
            f"rounding={rounding!r}: expected one of {list(ROUNDINGS)} (preprocess.index_rounding)"
        )
    start = max(0, int(start))
    if n_frames <= start:
        return np.zeros(0, dtype=np.int64)
    if stride > 0:
        idx = np.arange(start, n_frames, stride, dtype=np.int64)
        return idx[:num_frames] if num_frames > 0 else idx
    if num_frames <= 0 or num_frames >= n_frames - start:
        return np.arange(start, n_frames, dtype=np.int64)
    if rounding == "floor":
        return np.unique(np.linspace(start, n_frames - 1, num_frames, dtype=np.int64))
    return np.unique(np.linspace(start, n_frames - 1, num_frames).round().astype(np.int64))


def read_frames(
    path: str | Path,
    indices: np.ndarray | None = None,
    num_frames: int = 32,
    stride: int = 0,
    start_s: float = 0.0,
    rounding: str = "nearest",
) -> tuple[np.ndarray, np.ndarray]:
    """Decode the sampled frames of a video: ``(indices int[N], frames uint8[N,H,W,3] RGB)``.

    ``indices`` (when given) are decoded as they are, clipped to the video's length; otherwise
    they come from :func:`sample_indices` (with ``rounding``), from ``start_s`` seconds on. Raises
    :class:`UnreadableVideo` on any decode error.
    """
    chunks = list(read_frame_chunks(path, indices, num_frames, stride, start_s, rounding=rounding))
    if len(chunks) == 1:
        return chunks[0]
    return np.concatenate([c[0] for c in chunks]), np.concatenate([c[1] for c in chunks])


def read_frame_chunks(
    path: str | Path,
    indices: np.ndarray | None = None,
    num_frames: int = 32,
    stride: int = 0,
    start_s: float = 0.0,
    chunk_pixels: int | None = None,
    max_chunk: int | None = None,
    rounding: str = "nearest",
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """The frames :func:`read_frames` decodes, as ``(indices, frames)`` chunks in order: each chunk
    holds at most ``chunk_pixels`` pixels (and ``max_chunk`` frames), at least one frame; ``None``
    gives one chunk. Only one chunk is held at a time. Raises :class:`UnreadableVideo` on any
    decode error, possibly after some chunks were given."""
    from decord import DECORDError, VideoReader, cpu

    path = Path(path)
    if not path.is_file() or path.stat().st_size == 0:
        raise UnreadableVideo(f"{path} is missing or empty (0 bytes)")
    with _decodable_name(path) as name:
        try:
            reader = VideoReader(name, ctx=cpu(0), num_threads=1)
            n = len(reader)
            if indices is None:
                start = int(np.ceil(start_s * reader.get_avg_fps() - 1e-6)) if start_s > 0 else 0
                indices = sample_indices(n, num_frames, stride, start, rounding)
            else:
                indices = np.asarray(indices, dtype=np.int64)
                indices = indices[indices < n]
            if len(indices) == 0:
                raise UnreadableVideo(f"{path} has no decodable frames")
            step = len(indices)
            size = frame_size(path) if chunk_pixels is not None else None
            if size is not None and chunk_pixels is not None:
                step = max(1, int(chunk_pixels) // max(1, size[0] * size[1]))
            step = min(step, max_chunk or step)
            for at in range(0, len(indices), step):
                part = indices[at : at + step]
                if len(part) == 1 and chunk_pixels is not None:
                    # one large frame at a time: decord's get_batch keeps memory per call (about 7 MB per
                    # 4K frame read), its single-frame read does not; the frames are the same
                    yield part, reader[int(part[0])].asnumpy()[None]
                else:
                    yield part, reader.get_batch(part.tolist()).asnumpy()
        except (DECORDError, RuntimeError, ValueError, IndexError) as err:
            if isinstance(err, UnreadableVideo):
                raise
            raise UnreadableVideo(
                f"{path}: {type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
            ) from err


def read_decodable_frames(path: str | Path, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The frames of ``indices`` that decode, ``(indices, frames)`` as :func:`read_frames` returns
    them, possibly fewer: the fallback for a video that opens but whose batch decode fails (some
    frames corrupt). Decoded in order with PyAV, since decord's threaded decoder gives another set
    of frames on each try over corrupt data; a frame's index is its timestamp times the average
    frame rate. :class:`UnreadableVideo` when the file does not open."""
    kept = dict(iter_decodable_frames(path, indices))
    order = sorted(kept)
    frames = np.stack([kept[i] for i in order]) if order else np.zeros((0, 1, 1, 3), np.uint8)
    return np.asarray(order, dtype=np.int64), frames


def iter_decodable_frames(path: str | Path, indices: np.ndarray) -> Iterator[tuple[int, np.ndarray]]:
    """``(index, frame)`` for each frame of ``indices`` that decodes, one at a time as
    :func:`read_decodable_frames` finds them (each index once)."""
    import av

    wanted = {int(i) for i in indices}
    seen: set[int] = set()
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
                    if idx in wanted and idx not in seen:
                        seen.add(idx)
                        yield idx, frame.to_ndarray(format="rgb24")
                if len(seen) == len(wanted):
                    break
    except (av.error.FFmpegError, IndexError) as err:  # IndexError: no video stream
        raise UnreadableVideo(f"{path}: {type(err).__name__}: {err}") from err


def frame_size(path: str | Path) -> tuple[int, int] | None:
    """``(height, width)`` of a video's frames from its stream header (PyAV), without decoding
    them; None when it cannot be read."""
    import av

    try:
        with av.open(str(path)) as container:
            codec = container.streams.video[0].codec_context
            h, w = int(codec.height or 0), int(codec.width or 0)
    except (av.error.FFmpegError, IndexError, OSError, ValueError):  # IndexError: no video stream
        return None
    return (h, w) if h > 0 and w > 0 else None


def check_frame_size(path: str | Path, max_pixels: int | None, name: str | None = None) -> None:
    """Refuse a video whose header claims frames above ``max_pixels`` (:class:`OversizedVideo`),
    before any frame is decoded; ``name`` is what the error calls the file. ``None`` or 0: no limit."""
    if not max_pixels:
        return
    size = frame_size(path)
    if size is not None and size[0] * size[1] > max_pixels:
        h, w = size
        raise OversizedVideo(
            f"{name or path} is too large to decode: {w}x{h} px frames ({w * h / 1e6:.1f} MP), above "
            f"max_pixels={max_pixels} "
            f"({max_pixels / 1e6:.1f} MP): scale the video down, or raise max_pixels"
        )


def video_timing(path: str | Path) -> tuple[int, float]:
    """Frame count and average frame rate (frames/s) of a video; :class:`UnreadableVideo` on failure."""
    from decord import DECORDError, VideoReader, cpu

    path = Path(path)
    if not path.is_file() or path.stat().st_size == 0:
        raise UnreadableVideo(f"{path} is missing or empty (0 bytes)")
    try:
        with _decodable_name(path) as name:
            reader = VideoReader(name, ctx=cpu(0), num_threads=1)
            return len(reader), float(reader.get_avg_fps())
    except (DECORDError, RuntimeError) as err:
        raise UnreadableVideo(
            f"{path}: {type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
        ) from err
