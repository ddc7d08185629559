"""Frame mode of preprocessing: the sampled frames of one video → face crops (+ its 16 kHz wav).

Each video is decoded at its sampled frames only, its faces are found and cropped by the one
:class:`~dfd.preprocessing.faces.FaceCropper`, and its files and manifest part are written:

```
out_dir/crops/<video_id>/<frame:05d>.png
out_dir/masks/<video_id>/<frame:05d>.png  # fakes with a mask video: the crop's manipulation mask
out_dir/audio/<video_id>.wav
out_dir/parts/<video_id>.csv      # the video's manifest rows; its presence means "done"
```

The faces of the sampled frames are linked into tracks by IoU (:mod:`dfd.preprocessing.tracks`),
so that a video's crops never jump between people; the manifest's ``track`` says whose face a crop
is (0: the main one, ``<frame>_t<k>.png`` for the others). A real video keeps every person. A fake
keeps every person when its mask video says which face was swapped (FF++ and DFD ``masks/``): that
track is labelled fake, the others real. Without a mask (DFDC, FakeAVCeleb) a fake keeps only its
most persistent, largest track, and the rows' ``reason`` says so when there were others.

A fake with a mask video (FF++ and DFD ``masks/videos``) gets, beside every crop, the mask frame
of the same index cut with the crop's own geometry (:meth:`FaceCropper.crop`, so aligned crops warp
it with the same matrix), binarised at ``mask_threshold`` and written as a one-channel 0/255 PNG
(manifest ``mask_path``; all zero on an untouched person of the scene). Reals and fakes without a
mask video have ``mask_path`` empty: no mask known.

FF++ fakes reuse the face boxes of their original's main track, whose footage they share (the
frames line up), which also makes them fast. With ``trim_leading_silence`` the frames are sampled after the
audio's leading silence and the wav starts there too, so both stay aligned.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

import cv2
import numpy as np

from dfd.preprocessing.faces import Face, FaceCropper, jpeg_params, resize_matrix
from dfd.preprocessing.keyframes import detect_video
from dfd.preprocessing.landmarks import landmark_json, landmarker, to_crop
from dfd.preprocessing.manifest import (
    NO_AUDIO,
    NO_FACE,
    STATUS_OK,
    UNREADABLE,
    base_row,
    read_part,
    safe_name,
    status_row,
    write_part,
)
from dfd.preprocessing.options import PreprocessOptions
from dfd.preprocessing.tracks import Track, main_track, mask_coverage, track_faces
from dfd.raw.audio import (
    SAMPLE_RATE,
    NoAudioTrack,
    UnreadableAudio,
    leading_silence_seconds,
    read_audio,
    write_wav,
)
from dfd.raw.records import VideoRecord
from dfd.raw.video import UnreadableVideo, read_frames

#: threads encoding PNGs while the next crops are cut and the next video decoded (OpenCV and
#: decord release the GIL meanwhile)
WRITE_THREADS = 2
#: with :func:`background_writes`, videos whose files may still be in writing before the next waits
MAX_UNFINISHED = 2
_pending: ContextVar[list[Future] | None] = ContextVar("dfd_pending_writes", default=None)
_unfinished: ContextVar[list[Future] | None] = ContextVar("dfd_unfinished_videos", default=None)
_pools: dict[str, ThreadPoolExecutor] = {}  # made on first use, per process


def _pool(name: str, threads: int) -> ThreadPoolExecutor:
    if name not in _pools:
        _pools[name] = ThreadPoolExecutor(threads, thread_name_prefix=f"dfd-{name}")
    return _pools[name]


@contextmanager
def background_writes() -> Iterator[None]:
    """Inside, :func:`process_video_frames` returns once a video's crops are cut: its files are
    encoded by writer threads and its part written after them in the background while the next
    video is decoded and detected (at most :data:`MAX_UNFINISHED` videos behind). Leaving waits for
    every video and raises the first write error. Outside, each video's files and part are written
    before it returns (its crops still on the writer threads while the next are cut)."""
    unfinished: list[Future] = []
    token = _unfinished.set(unfinished)
    try:
        yield
    finally:
        _unfinished.reset(token)
        wait(unfinished)
    for future in unfinished:
        future.result()


def write_image(path: Path, rgb: np.ndarray) -> None:
    """Write an RGB crop atomically (temporary name, then rename): on a writer thread while
    :func:`process_video_frames` runs, else now."""
    _submit(_write_image, path, rgb)


def write_mask(path: Path, mask: np.ndarray) -> None:
    """Write a one-channel uint8 mask as PNG, atomically (temporary name, then rename): on a writer
    thread while :func:`process_video_frames` runs, as the crops are, else now."""
    _submit(_write_mask, path, mask)


def _submit(write: Callable[[Path, np.ndarray], None], path: Path, pixels: np.ndarray) -> None:
    pending = _pending.get()
    if pending is None:
        write(path, pixels)
    else:
        pending.append(_pool("write", WRITE_THREADS).submit(write, path, pixels))


def _write_image(path: Path, rgb: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp" + path.suffix)
    if not cv2.imwrite(str(tmp), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), jpeg_params(path.suffix)):
        raise OSError(f"could not write {tmp}")
    os.replace(tmp, path)


def _write_mask(path: Path, mask: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.png")
    if not cv2.imwrite(str(tmp), mask):
        raise OSError(f"could not write {tmp}")
    os.replace(tmp, path)


def read_mask_frames(
    record: VideoRecord, indices: Sequence[int], shape: tuple[int, ...]
) -> list[np.ndarray | None] | None:
    """The frames of ``record``'s mask video at ``indices`` (RGB, resized to the video's frame
    ``shape`` where they differ), one per index, ``None`` where the mask video is shorter; ``None``
    when the record has no mask video or it does not decode (its crops then have no mask)."""
    if record.mask_path is None or not Path(record.mask_path).is_file():
        return None
    try:
        got, frames = read_frames(record.mask_path, indices=np.asarray(indices, dtype=np.int64))
    except UnreadableVideo:
        return None
    h, w = shape[:2]
    by_index = {
        int(i): f if f.shape[:2] == (h, w) else cv2.resize(f, (w, h), interpolation=cv2.INTER_NEAREST)
        for i, f in zip(got, frames, strict=True)
    }
    return [by_index.get(int(i)) for i in indices]


def binary_mask(crop: np.ndarray, threshold: int) -> np.ndarray:
    """A cropped mask frame (any channel count) as one uint8 channel: 255 where any channel exceeds
    ``threshold``, else 0."""
    grey = crop if crop.ndim == 2 else crop.max(axis=-1)
    return np.where(grey > threshold, 255, 0).astype(np.uint8)


def _landmarks(cell: object) -> tuple[tuple[float, float], ...] | None:
    """A manifest's ``landmarks`` cell back as points (None when the crop was not aligned)."""
    if not isinstance(cell, str) or not cell.strip():
        return None
    return tuple((float(x), float(y)) for x, y in json.loads(cell))


def read_source_faces(out_dir: Path, source_id: str) -> tuple[np.ndarray, list[Face]] | None:
    """Frame indices and boxes of a finished source video, or None if it has no usable crops."""
    rows = read_part(out_dir, source_id)
    if rows is None:
        return None
    rows = rows[rows["status"] == STATUS_OK]
    if "track" in rows:  # the fakes of a source share its main person's footage
        rows = rows[rows["track"].fillna(0).astype(int) == 0]
    if rows.empty:
        return None
    faces = [
        Face(
            box=(r.x1, r.y1, r.x2, r.y2),
            score=float(r.score),
            landmarks=_landmarks(getattr(r, "landmarks", None)),
        )
        for r in rows.itertuples()
    ]
    return rows["frame_idx"].to_numpy(dtype=np.int64), faces


#: a track shorter than this fraction of the main one is a passing detection, not a person
MIN_TRACK_FRACTION = 0.5
#: a track is the swapped face when the mask marks at least this fraction of its boxes
MASK_COVERAGE = 0.1


def choose_tracks(
    record: VideoRecord,
    indices: Sequence[int],
    faces: Sequence[Sequence[Face]],
    masks: Sequence[np.ndarray | None] | None = None,
    mask_threshold: int = 127,
) -> list[tuple[int, int, list[Face | None], str]]:
    """The face tracks to crop from a video's detections, as ``(track id, label, face per sampled
    frame or None, note)``, the main track (most persistent, then largest) first as track 0.

    A real video keeps every person. A fake keeps every person too when a mask says which face was
    swapped (that track is fake, the others real); without one it keeps only its main track, and the
    note says so. ``masks``: the mask video's frames at ``indices`` when already read
    (:func:`read_mask_frames`); otherwise they are read here."""
    tracks = track_faces(faces)
    if not tracks:
        return []
    main = main_track(tracks)
    ordered = [tracks[main]] + [t for k, t in enumerate(tracks) if k != main]
    ordered = [t for t in ordered if len(t.faces) >= MIN_TRACK_FRACTION * len(ordered[0].faces)]

    def per_frame(track: Track) -> list[Face | None]:
        out: list[Face | None] = [None] * len(indices)
        for t, face in track.faces:
            out[t] = face
        return out

    if record.label == 0 or len(ordered) == 1 and record.mask_path is None:
        return [(k, record.label, per_frame(t), "") for k, t in enumerate(ordered)]
    if masks is None and record.mask_path is not None and Path(record.mask_path).is_file():
        try:
            _, read = read_frames(record.mask_path, indices=np.asarray(indices))
            masks = list(read)
        except UnreadableVideo:  # a damaged mask video: chosen as without one
            masks = None
    if masks is not None:
        labels = [int(mask_coverage(t, masks, mask_threshold) >= MASK_COVERAGE) for t in ordered]
        if any(labels):
            return [
                (k, lab, per_frame(t), "") for k, (t, lab) in enumerate(zip(ordered, labels, strict=True))
            ]
        note = "the mask marks no tracked face: kept the main face track"
    else:
        note = f"kept the main face track of {len(ordered)}: no mask says which face was swapped"
    return [(0, record.label, per_frame(ordered[0]), note)]


def _crop_track(
    record: VideoRecord,
    base: dict,
    name: str,
    out_dir: Path,
    cropper: FaceCropper,
    options: PreprocessOptions,
    indices: Sequence[int],
    frames: np.ndarray,
    faces: Sequence[Face | None],
    track_id: int,
    masks: Sequence[np.ndarray | None] | None = None,
) -> list[dict]:
    """Write one track's crops (and, with ``masks``, the mask video's frames at ``indices``, each
    crop's mask cut alike); return their rows (track 0 keeps the plain file names)."""
    rows = []
    marker = landmarker(options.landmarks)
    suffix = "" if track_id == 0 else f"_t{track_id}"
    masks = [None] * len(indices) if masks is None else masks
    for idx, frame, face, mask_frame in zip(indices, frames, faces, masks, strict=True):
        if face is None:
            continue
        rel = f"crops/{name}/{int(idx):05d}{suffix}{options.image_ext}"
        size = (cropper.crop_size, cropper.crop_size)
        if record.precropped:
            crop = cv2.resize(frame, size, interpolation=cv2.INTER_AREA)
            matrix = resize_matrix(frame.shape, cropper.crop_size)
            mask = None if mask_frame is None else cv2.resize(mask_frame, size, interpolation=cv2.INTER_AREA)
        else:
            crop, matrix = cropper.crop(frame, face), cropper.crop_matrix(frame.shape, face)
            mask = None if mask_frame is None else cropper.crop(mask_frame, face)  # the crop's own geometry
        write_image(out_dir / rel, crop)
        mask_rel = ""
        if mask is not None:
            mask_rel = f"masks/{name}/{int(idx):05d}{suffix}.png"
            write_mask(out_dir / mask_rel, binary_mask(mask, options.mask_threshold))
        x1, y1, x2, y2 = face.box
        # the five points are kept (frame px) for align, and for mtcnn5, so fakes reusing the boxes get them
        keep5 = (cropper.align or marker.provider == "mtcnn5") and face.landmarks
        landmarks = json.dumps([[round(x, 2), round(y, 2)] for x, y in face.landmarks]) if keep5 else ""
        points = marker(frame, face.box, face.landmarks)
        crop_landmarks = "" if points is None else landmark_json(to_crop(points, matrix))
        rows.append({**base, "frame_idx": int(idx), "track": track_id, "crop_path": rel, "x1": x1, "y1": y1,
                     "x2": x2, "y2": y2, "score": face.score, "landmarks": landmarks,
                     "crop_landmarks": crop_landmarks, "mask_path": mask_rel, "status": STATUS_OK,
                     "reason": ""})  # fmt: skip
    return rows


def process_video_frames(
    record: VideoRecord, out_dir: Path, cropper: FaceCropper, options: PreprocessOptions
) -> list[dict]:
    """Crop one video (and extract its audio); write its files and part; return its rows. Its
    crops are written by a small thread pool while the next are cut, its part once all are done
    (in the background inside :func:`background_writes`)."""
    pending: list[Future] = []
    token = _pending.set(pending)
    try:
        rows = _video_rows(record, Path(out_dir), cropper, options)
    finally:
        _pending.reset(token)
    unfinished = _unfinished.get()
    if unfinished is None:
        _finish(pending, Path(out_dir), record.video_id, rows)
        return rows
    while sum(not f.done() for f in unfinished) >= MAX_UNFINISHED:
        wait([f for f in unfinished if not f.done()], return_when=FIRST_COMPLETED)
    unfinished.append(_pool("finish", 1).submit(_finish, pending, Path(out_dir), record.video_id, rows))
    return rows


def _finish(pending: list[Future], out_dir: Path, video_id: str, rows: list[dict]) -> None:
    """Wait for a video's files (raising the first error), then write its part: "done"."""
    wait(pending)
    for future in pending:
        future.result()
    write_part(out_dir, video_id, rows)


def _video_rows(
    record: VideoRecord, out_dir: Path, cropper: FaceCropper, options: PreprocessOptions
) -> list[dict]:
    """Crop one video (and extract its audio); write its files; return its rows."""
    if record.status != STATUS_OK:
        return [status_row(record, record.status, record.reason)]
    base, name = base_row(record), safe_name(record.video_id)
    rows: list[dict] = []
    try:
        samples, audio_error = None, None
        if record.has_audio and (options.audio or options.trim_leading_silence):
            try:
                samples = read_audio(record.path)
            except (NoAudioTrack, UnreadableAudio) as err:
                audio_error = str(err)
        start_s = 0.0
        if options.trim_leading_silence and samples is not None:
            start_s = leading_silence_seconds(samples)
        source = None
        if options.reuse_source_boxes and record.source_id:
            source = read_source_faces(out_dir, record.source_id)
        masks = None
        if source is not None:
            indices, frames = read_frames(record.path, indices=source[0])
            masks = read_mask_frames(record, indices, frames.shape[1:])  # the fake's own mask video
            picks = [(0, record.label, list(source[1][: len(indices)]), "")]
        else:
            indices, frames = read_frames(
                record.path,
                num_frames=options.num_frames,
                stride=options.stride,
                start_s=start_s,
                rounding=options.index_rounding,
            )
            masks = read_mask_frames(record, indices, frames.shape[1:])
            if record.precropped:  # the frames are the faces: used whole
                h, w = frames.shape[1:3]
                box = (0.0, 0.0, float(w), float(h))
                points5: list = [None] * len(indices)
                if options.landmarks == "mtcnn5":  # the five points need MTCNN even on a face crop
                    points5 = [None if f is None else f.landmarks for f in cropper.detect(frames)]
                whole = [Face(box=box, score=1.0, landmarks=p) for p in points5]
                picks = [(0, record.label, whole, "shipped as face crops: no detection")]
            else:
                picks = choose_tracks(
                    record, indices, detect_video(cropper, frames), masks, options.mask_threshold
                )
        for track_id, label, faces, note in picks:
            track_rows = _crop_track(
                record, base, name, out_dir, cropper, options, indices, frames, faces, track_id, masks
            )
            for row in track_rows:
                row["label"], row["reason"] = label, note
                if record.label_video is not None and label == 0:
                    row["label_video"] = 0  # an untouched face in a fake video
            rows += track_rows
        del frames, masks
        if not rows:
            reason = f"no face with score >= {cropper.min_score} in {len(indices)} sampled frames"
            rows = [status_row(record, NO_FACE, reason)]
        elif audio_error is not None:
            # The crops stay usable by image models; the extra row records why audio is absent.
            rows.append(status_row(record, NO_AUDIO, audio_error))
        elif samples is not None and options.audio:
            rel = f"audio/{name}.wav"
            write_wav(out_dir / rel, samples[int(round(start_s * SAMPLE_RATE)) :])
            for row in rows:
                row["audio_path"] = rel
    except UnreadableVideo as err:
        rows = [status_row(record, UNREADABLE, str(err))]
    return rows
