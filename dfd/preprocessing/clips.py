"""Clip mode of preprocessing, and the clip format: K clips of T consecutive face crops with the aligned audio.

A clip is stored as one image *strip* (the T crops side by side, [H, T*W, 3]) plus the
16 kHz mono wav segment covering exactly those frames. One manifest row per clip:
``frame_idx`` is the clip's first frame, ``crop_path`` the strip, ``audio_path`` the segment;
``manifest.json`` records ``mode: clip``, ``clip_len``, ``clips_per_video`` and ``fps``.
Strips keep one clip in one file (one decode per sample) and stay compact as JPEG or PNG.

Clips are planned and written in one place (:func:`plan_clips`, :func:`write_clips`) for
real videos (:func:`process_video_clips`: decode the audio, choose ``clips_per_video`` evenly
spaced starts, after the leading silence when ``trim_leading_silence`` is set, decode only
those frames, link their faces into tracks (:mod:`dfd.preprocessing.tracks`, chosen as frame
mode chooses them: :func:`~dfd.preprocessing.frames.choose_tracks`) and crop every frame of a
clip from the main track with the median of that track's boxes over the clip, a steady tubelet
of one person as lip-sync models expect) and for generated ones (:func:`cut_clips`, used by
``dfd.data.synthetic.av``). A video without audio, face or enough frames gets one row saying why.

Clip mode keeps the main track only (``track`` 0; frame mode keeps every person of a real
video): a clip's audio is one speaker's, and pairing it with another person's face in real
videos only (fakes without a mask keep their main track) would teach a lip-sync model that
out-of-sync pairs are real. Videos with several people say so in ``reason``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from dfd.preprocessing.faces import Face, FaceCropper
from dfd.preprocessing.frames import choose_tracks
from dfd.preprocessing.manifest import (
    NO_AUDIO,
    NO_FACE,
    STATUS_OK,
    TOO_SHORT,
    UNREADABLE,
    base_row,
    safe_name,
    status_row,
    write_part,
)
from dfd.preprocessing.options import PreprocessOptions
from dfd.raw.audio import (
    SAMPLE_RATE,
    NoAudioTrack,
    UnreadableAudio,
    leading_silence_seconds,
    read_audio,
    write_wav,
)
from dfd.raw.records import VideoRecord
from dfd.raw.video import UnreadableVideo, read_frames, video_timing


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


def plan_clips(
    num_frames: int,
    fps: float,
    audio: np.ndarray,
    clip_len: int,
    clips_per_video: int,
    trim_leading_silence: bool = False,
) -> tuple[list[int], str]:
    """``(clip starts, "")``, or ``([], reason)`` when no clip fits after the leading silence."""
    start_s = leading_silence_seconds(audio) if trim_leading_silence else 0.0
    starts = clip_starts(num_frames, clip_len, clips_per_video, fps, start_s)
    if starts:
        return starts, ""
    return [], f"{num_frames} frames at {fps:.1f} fps leave no {clip_len}-frame clip after {start_s:.2f} s"


def audio_segment(
    audio: np.ndarray, start_frame: int, clip_len: int, fps: float, sample_rate: int = SAMPLE_RATE
) -> np.ndarray:
    """The samples covering frames ``[start_frame, start_frame + clip_len)``, zero-padded at the end."""
    a = int(round(start_frame / fps * sample_rate))
    n = int(round(clip_len / fps * sample_rate))
    seg = np.asarray(audio[a : a + n], dtype=np.float32)
    return np.pad(seg, (0, n - len(seg))) if len(seg) < n else seg


def write_clip(
    folder: Path, stem: str, frames_rgb: np.ndarray, audio: np.ndarray, ext: str = "png"
) -> tuple[str, str]:
    """Write one clip (strip + wav) under ``folder``; return both paths relative to ``folder``."""
    t, h, w, _ = frames_rgb.shape
    strip = np.ascontiguousarray(frames_rgb.transpose(1, 0, 2, 3).reshape(h, t * w, 3))
    crop_rel, audio_rel = f"clips/{stem}.{ext}", f"audio/{stem}.wav"
    (folder / crop_rel).parent.mkdir(parents=True, exist_ok=True)
    params = [cv2.IMWRITE_JPEG_QUALITY, 95] if ext in ("jpg", "jpeg") else []
    if not cv2.imwrite(str(folder / crop_rel), cv2.cvtColor(strip, cv2.COLOR_RGB2BGR), params):
        raise OSError(f"cannot write clip strip {folder / crop_rel}")
    write_wav(folder / audio_rel, audio)
    return crop_rel, audio_rel


def write_clips(
    folder: Path,
    stem: str,
    clips: Iterable[tuple[int, int, np.ndarray, dict[str, Any]]],
    audio: np.ndarray,
    fps: float,
    row: dict[str, Any],
    ext: str = "png",
) -> list[dict[str, Any]]:
    """Write clips ``(k, start frame, frames RGB uint8 [T, H, W, 3], extra columns)`` of one video
    with their audio segments; return one manifest row per clip (``row`` holds the video's columns)."""
    rows = []
    for k, start, frames, extra in clips:
        seg = audio_segment(audio, start, len(frames), fps)
        crop, wav = write_clip(folder, f"{stem}_c{k}", frames, seg, ext=ext)
        rows.append({**row, **extra, "frame_idx": int(start), "crop_path": crop, "audio_path": wav,
                     "status": STATUS_OK, "reason": ""})  # fmt: skip
    return rows


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
    """Clips of a video whose face crops are all known already (generated data).

    ``crops`` are the video's face crops, RGB uint8 [N, H, W, 3], one per frame at ``fps``;
    ``audio`` its 16 kHz mono track. Returns one manifest row per clip (``row`` holds the
    video's own columns: label, split, group, method, ...), or a single ``too_short`` row when
    no clip fits, so the video is never dropped silently.
    """
    row = dict(row or {}, video_id=video_id, fps=fps)
    starts, reason = plan_clips(len(crops), fps, audio, clip_len, clips_per_video, trim_leading_silence)
    if not starts:
        return [{**row, "frame_idx": -1, "crop_path": "", "status": TOO_SHORT, "reason": reason}]
    clips = ((k, s, crops[s : s + clip_len], {}) for k, s in enumerate(starts))
    return write_clips(folder, safe_name(video_id), clips, audio, fps, row, ext)


def clip_face(faces: list[Face | None]) -> Face | None:
    """One box for a whole clip: the median of the frames' boxes (one track's; None when no frame
    has a face)."""
    found = [f for f in faces if f is not None]
    if not found:
        return None
    box = np.median(np.array([f.box for f in found], dtype=np.float64), axis=0)
    return Face(box=tuple(float(v) for v in box), score=float(np.mean([f.score for f in found])))


def process_video_clips(
    record: VideoRecord, out_dir: Path, cropper: FaceCropper, options: PreprocessOptions
) -> list[dict]:
    """Write the clips of one real video and its manifest part; return its rows (one per clip)."""
    out_dir = Path(out_dir)
    if record.status != STATUS_OK:
        rows = [status_row(record, record.status, record.reason)]
        write_part(out_dir, record.video_id, rows)
        return rows
    t = options.clip_len
    try:
        if not record.has_audio:
            raise NoAudioTrack(
                f"{record.path}: the {record.method or 'dataset'} layout lists no audio for it"
            )
        n_frames, fps = video_timing(record.path)
        audio = read_audio(record.path)
        starts, reason = plan_clips(
            n_frames, fps, audio, t, options.clips_per_video, options.trim_leading_silence
        )
        if not starts:
            rows = [status_row(record, TOO_SHORT, reason)]
        else:
            indices, frames = read_frames(
                record.path, indices=np.concatenate([np.arange(s, s + t) for s in starts])
            )
            # the clips' frames in order: a track links a person's faces within and across clips
            picks = choose_tracks(record, indices, cropper.detect_all(frames))
            track_id, label, faces, note = picks[0] if picks else (0, record.label, [None] * len(indices), "")
            if len(picks) > 1:
                note = f"kept the main face track of {len(picks)}: a clip's audio is one speaker's"
            clips = []
            for k, start in enumerate(starts):
                sel = slice(k * t, (k + 1) * t)
                face = clip_face(faces[sel])
                if face is None or len(indices[sel]) < t:
                    continue
                x1, y1, x2, y2 = face.box
                box = {"x1": x1, "y1": y1, "x2": x2, "y2": y2, "score": face.score, "track": track_id}
                clips.append((k, start, np.stack([cropper.crop(f, face) for f in frames[sel]]), box))
            ext = options.image_ext.lstrip(".")
            row = {**base_row(record), "fps": fps, "label": label}
            if record.label_video is not None and label == 0:
                row["label_video"] = 0  # an untouched face in a fake video, as frame mode labels it
            rows = write_clips(out_dir, safe_name(record.video_id), clips, audio, fps, row, ext)
            for r in rows:
                r["reason"] = note
            if not rows:
                reason = f"no face with score >= {cropper.min_score} in {len(starts)} clips"
                rows = [status_row(record, NO_FACE, reason)]
    except NoAudioTrack as err:
        rows = [status_row(record, NO_AUDIO, str(err))]
    except (UnreadableVideo, UnreadableAudio) as err:  # no clip without its audio
        rows = [status_row(record, UNREADABLE, str(err))]
    write_part(out_dir, record.video_id, rows)
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
