"""Audio-visual clips on disk: K clips of T consecutive face crops with the aligned audio.

A clip is stored as one image *strip* (the T crops side by side, [H, T*W, 3]) plus the
16 kHz mono wav segment covering exactly those frames. One manifest row per clip:
``frame_idx`` is the clip's first frame, ``crop_path`` the strip, ``audio_path`` the segment;
``manifest.json`` records ``mode: clip``, ``clip_len``, ``clips_per_video`` and ``fps``.
Strips keep one clip in one file (one decode per sample) and stay compact as JPEG or PNG.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from dfd.data.audio import SAMPLE_RATE, leading_silence_seconds, write_wav
from dfd.data.manifest import STATUS_OK


def clip_starts(
    num_frames: int, clip_len: int, clips_per_video: int, fps: float = 25.0, min_start_s: float = 0.0
) -> list[int]:
    """First frames of up to ``clips_per_video`` evenly spaced, non-overlapping-if-possible clips.

    Clips start at or after ``min_start_s`` seconds (used to skip leading silence). Returns an
    empty list when the video is too short for one clip after that point.
    """
    first = int(math.ceil(min_start_s * fps - 1e-6))
    last = num_frames - clip_len
    if last < first:
        return []
    count = min(clips_per_video, last - first + 1)
    return sorted({int(round(x)) for x in np.linspace(first, last, count)})


def trim_start_seconds(
    audio: np.ndarray, sample_rate: int = SAMPLE_RATE, threshold_db: float = -40.0
) -> float:
    """Where clips may start when leading silence is trimmed (FakeAVCeleb's shortcut)."""
    return leading_silence_seconds(audio, sample_rate, threshold_db)


def audio_segment(
    audio: np.ndarray, start_frame: int, clip_len: int, fps: float, sample_rate: int = SAMPLE_RATE
):
    """The samples covering frames ``[start_frame, start_frame + clip_len)``, zero-padded at the end."""
    a = int(round(start_frame / fps * sample_rate))
    n = int(round(clip_len / fps * sample_rate))
    seg = np.asarray(audio[a : a + n], dtype=np.float32)
    return np.pad(seg, (0, n - len(seg))) if len(seg) < n else seg


def write_clip(
    folder: Path,
    stem: str,
    frames_rgb: np.ndarray,
    audio: np.ndarray,
    sample_rate: int = SAMPLE_RATE,
    ext: str = "png",
) -> tuple[str, str]:
    """Write one clip (strip + wav) under ``folder``; return both paths relative to ``folder``."""
    t, h, w, _ = frames_rgb.shape
    strip = np.ascontiguousarray(frames_rgb.transpose(1, 0, 2, 3).reshape(h, t * w, 3))
    crop_rel, audio_rel = f"clips/{stem}.{ext}", f"audio/{stem}.wav"
    (folder / crop_rel).parent.mkdir(parents=True, exist_ok=True)
    params = [cv2.IMWRITE_JPEG_QUALITY, 95] if ext in ("jpg", "jpeg") else []
    if not cv2.imwrite(str(folder / crop_rel), cv2.cvtColor(strip, cv2.COLOR_RGB2BGR), params):
        raise OSError(f"cannot write clip strip {folder / crop_rel}")
    write_wav(folder / audio_rel, audio, sample_rate)
    return crop_rel, audio_rel


def cut_clips(
    folder: Path,
    video_id: str,
    crops: np.ndarray,
    audio: np.ndarray,
    fps: float,
    clip_len: int,
    clips_per_video: int,
    trim_leading_silence: bool = False,
    row: dict[str, Any] | None = None,
    ext: str = "png",
) -> list[dict[str, Any]]:
    """Clip mode of preprocessing for one video: K clips of T consecutive crops + aligned audio.

    ``crops`` are the video's face crops, RGB uint8 [N, H, W, 3], one per frame at ``fps``;
    ``audio`` its 16 kHz mono track. Returns one manifest row per clip (``row`` holds the
    video's own columns: label, split, group, method, ...), or a single ``too_short`` row when
    no clip fits, so the video is never dropped silently.
    """
    row = dict(row or {}, video_id=video_id)
    start_s = trim_start_seconds(audio) if trim_leading_silence else 0.0
    starts = clip_starts(len(crops), clip_len, clips_per_video, fps, start_s)
    if not starts:
        reason = f"{len(crops)} frames leave no {clip_len}-frame clip after {start_s:.2f} s"
        return [{**row, "status": "too_short", "reason": reason}]
    rows = []
    for k, start in enumerate(starts):
        seg = audio_segment(audio, start, clip_len, fps)
        crop, wav = write_clip(folder, f"{video_id}_c{k}", crops[start : start + clip_len], seg, ext=ext)
        rows.append({**row, "frame_idx": start, "crop_path": crop, "audio_path": wav, "status": STATUS_OK})
    return rows


def read_strip(path: str | Path, clip_len: int) -> np.ndarray:
    """Read a strip written by :func:`write_clip` as RGB uint8 [T, H, W, 3]."""
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise OSError(f"cannot read clip strip {path}: re-run preprocessing (clip mode) for this dataset")
    h, tw, _ = img.shape
    if tw % clip_len:
        raise ValueError(f"{path}: strip width {tw} is not a multiple of clip_len={clip_len} (data.clip_len)")
    w = tw // clip_len
    img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    return np.ascontiguousarray(img.reshape(h, clip_len, w, 3).transpose(1, 0, 2, 3))
