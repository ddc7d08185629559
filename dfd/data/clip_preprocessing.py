"""Clip mode of preprocessing: K clips of T consecutive face crops with the aligned audio.

``python -m dfd.preprocess data=dfdc_av data.raw_dir=<DFDC>`` (any data config with a
``clip_len``) runs :func:`process_video_clips` instead of the frame sampler for every video.
Per video: decode the 16 kHz audio, choose ``clips_per_video`` evenly spaced clip starts (after
the leading silence when ``trim_leading_silence`` is set: video and audio are cut together, so
they stay in sync), decode only those frames, detect faces, crop every frame of a clip with the
clip's median face box (a steady tubelet, as lip-sync models expect), and write each clip as a
strip plus its wav segment (:mod:`dfd.data.clips`). A video without audio, face or enough
frames gets one row saying why.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dfd.data.audio import SAMPLE_RATE
from dfd.data.clips import audio_segment, clip_starts, trim_start_seconds, write_clip
from dfd.data.faces import Face, FaceCropper
from dfd.data.layouts import VideoRecord
from dfd.data.manifest import STATUS_OK
from dfd.data.preprocessing import (
    NO_AUDIO,
    NO_FACE,
    UNREADABLE,
    PreprocessOptions,
    _base_row,
    _write_part,
    safe_name,
    status_row,
)
from dfd.data.video import NoAudioTrack, UnreadableVideo, read_audio, read_frames

TOO_SHORT = "too_short"


def video_timing(path: str | Path) -> tuple[int, float]:
    """Frame count and frame rate of a video (decord)."""
    from decord import DECORDError, VideoReader, cpu

    try:
        reader = VideoReader(str(path), ctx=cpu(0), num_threads=1)
        return len(reader), float(reader.get_avg_fps())
    except (DECORDError, RuntimeError) as err:
        raise UnreadableVideo(
            f"{path}: {type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
        ) from err


def clip_face(faces: list[Face | None]) -> Face | None:
    """One box for a whole clip: the median of the frames' boxes (None when no frame has a face)."""
    found = [f for f in faces if f is not None]
    if not found:
        return None
    box = np.median(np.array([f.box for f in found], dtype=np.float64), axis=0)
    return Face(box=tuple(float(v) for v in box), score=float(np.mean([f.score for f in found])))


def process_video_clips(
    record: VideoRecord, out_dir: Path, cropper: FaceCropper, options: PreprocessOptions
) -> list[dict]:
    """Write the clips of one video and its manifest part; return its rows (one per clip)."""
    out_dir = Path(out_dir)
    if record.status != STATUS_OK:
        rows = [status_row(record, record.status, record.reason)]
        _write_part(out_dir, record.video_id, rows)
        return rows
    base, name, t = _base_row(record), safe_name(record.video_id), options.clip_len
    try:
        if not record.has_audio:
            raise NoAudioTrack(
                f"{record.path}: the {record.method or 'dataset'} layout lists no audio for it"
            )
        audio = read_audio(record.path).astype(np.float32) / 32768.0
        n_frames, fps = video_timing(record.path)
        start_s = trim_start_seconds(audio, SAMPLE_RATE) if options.trim_leading_silence else 0.0
        starts = clip_starts(n_frames, t, options.clips_per_video, fps, start_s)
        if not starts:
            reason = f"{n_frames} frames at {fps:.1f} fps leave no {t}-frame clip after {start_s:.2f} s"
            rows = [status_row(record, TOO_SHORT, reason)]
        else:
            indices, frames = read_frames(
                record.path, indices=np.concatenate([np.arange(s, s + t) for s in starts])
            )
            faces = cropper.detect(frames)
            rows = []
            for k, start in enumerate(starts):
                sel = slice(k * t, (k + 1) * t)
                face = clip_face(faces[sel])
                if face is None or len(indices[sel]) < t:
                    continue
                crops = np.stack([cropper.crop(frame, face) for frame in frames[sel]])
                seg = audio_segment(audio, start, t, fps)
                crop_rel, wav_rel = write_clip(
                    out_dir, f"{name}_c{k}", crops, seg, ext=options.image_ext.lstrip(".")
                )
                x1, y1, x2, y2 = face.box
                rows.append({**base, "frame_idx": int(start), "crop_path": crop_rel, "audio_path": wav_rel,
                             "x1": x1, "y1": y1, "x2": x2, "y2": y2, "score": face.score,
                             "status": STATUS_OK, "reason": ""})  # fmt: skip
            if not rows:
                rows = [
                    status_row(
                        record, NO_FACE, f"no face with score >= {cropper.min_score} in {len(starts)} clips"
                    )
                ]
    except NoAudioTrack as err:
        rows = [status_row(record, NO_AUDIO, str(err))]
    except UnreadableVideo as err:
        rows = [status_row(record, UNREADABLE, str(err))]
    _write_part(out_dir, record.video_id, rows)
    return rows
