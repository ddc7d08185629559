"""Preprocessing: raw videos → face crops, 16 kHz mono audio and the crop manifest.

Each video is decoded at its sampled frames only (decord), its faces are found and cropped by
the one :class:`~dfd.data.faces.FaceCropper`, and its crops, audio and manifest rows are
written under ``out_dir``:

```
out_dir/crops/<video_id>/<frame:05d>.png
out_dir/audio/<video_id>.wav
out_dir/parts/<video_id>.csv      # the video's manifest rows; its presence means "done"
out_dir/manifest.csv, manifest.json
```

Every file is written to a temporary name and renamed, and a video's part file is written
last, so a kill never leaves half-written output counted as done and a rerun skips exactly the
finished videos. Videos that cannot be used get a row saying why (``unreadable``, ``no_face``,
``no_audio``, ``missing_file``, ``unlisted_file``). FF++ fakes reuse the face boxes of the
original whose footage they share (the frames line up), which also makes them fast.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
from tqdm import tqdm

from dfd.data.faces import Face, FaceCropper
from dfd.data.layouts import VideoRecord
from dfd.data.manifest import COLUMNS, STATUS_OK, write_manifest
from dfd.data.video import (
    NoAudioTrack,
    UnreadableVideo,
    read_audio,
    read_frames,
    trim_leading_silence,
    write_wav,
)

UNREADABLE = "unreadable"
NO_FACE = "no_face"
NO_AUDIO = "no_audio"


@dataclass
class PreprocessOptions:
    """How videos are sampled and what is written (see ``conf/preprocess.yaml``)."""

    num_frames: int = 32
    stride: int = 0
    audio: bool = True
    trim_leading_silence: bool = False
    reuse_source_boxes: bool = True
    image_ext: str = ".png"
    #: clip mode (audio-visual models): clips of clip_len consecutive frames; 0 = frame mode
    clip_len: int = 0
    clips_per_video: int = 4


@dataclass
class Summary:
    """Counts of one run: videos by status, and crops written."""

    statuses: Counter = field(default_factory=Counter)
    skipped_done: int = 0
    crops: int = 0
    pending: int = 0
    seconds: float = 0.0

    @property
    def processed_ok(self) -> int:
        return self.statuses.get(STATUS_OK, 0)

    def lines(self) -> list[str]:
        done = sum(self.statuses.values())
        rate = (done - self.skipped_done) / self.seconds if self.seconds > 0 else 0.0
        out = [
            f"videos: {done} ({self.skipped_done} already done, skipped), {self.crops} crops, {rate:.2f} videos/s",
            f"usable: {self.processed_ok}",
        ]
        out += [f"{status}: {n}" for status, n in sorted(self.statuses.items()) if status != STATUS_OK]
        if self.pending:
            out.append(f"not done here (other shards or waiting): {self.pending}")
        return out


def safe_name(video_id: str) -> str:
    """Video id → relative path (ids may contain '/', never '..')."""
    return "/".join(p for p in video_id.split("/") if p not in ("", ".", ".."))


def part_path(out_dir: Path, video_id: str) -> Path:
    return out_dir / "parts" / f"{safe_name(video_id)}.csv"


def _base_row(record: VideoRecord) -> dict:
    return {
        "video_id": record.video_id,
        "label": record.label,
        "method": record.method,
        "split": record.split,
        "group": record.group,
        "compression": record.compression,
        "source_path": str(record.path),
        "audio_path": "",
    }


def status_row(record: VideoRecord, status: str, reason: str) -> dict:
    """The one row of a video that could not be used."""
    return {**_base_row(record), "frame_idx": -1, "crop_path": "", "status": status, "reason": reason}


def _write_atomic_png(path: Path, rgb: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp" + path.suffix)
    if not cv2.imwrite(str(tmp), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)):
        raise OSError(f"could not write {tmp}")
    os.replace(tmp, path)


def _write_part(out_dir: Path, video_id: str, rows: list[dict]) -> None:
    path = part_path(out_dir, video_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    pd.DataFrame(rows).reindex(columns=COLUMNS).to_csv(tmp, index=False)
    os.replace(tmp, path)


def read_source_faces(out_dir: Path, source_id: str) -> tuple[np.ndarray, list[Face]] | None:
    """Frame indices and boxes of a finished source video, or None if it has no usable crops."""
    path = part_path(out_dir, source_id)
    if not path.is_file():
        return None
    rows = pd.read_csv(path)
    rows = rows[rows["status"] == STATUS_OK]
    if rows.empty:
        return None
    faces = [Face(box=(r.x1, r.y1, r.x2, r.y2), score=float(r.score)) for r in rows.itertuples()]
    return rows["frame_idx"].to_numpy(dtype=np.int64), faces


def process_video(
    record: VideoRecord, out_dir: Path, cropper: FaceCropper, options: PreprocessOptions
) -> list[dict]:
    """Crop one video (and extract its audio); write its files and part; return its rows."""
    if options.clip_len:
        from dfd.data.clip_preprocessing import process_video_clips  # imports this module

        return process_video_clips(record, Path(out_dir), cropper, options)
    out_dir = Path(out_dir)
    if record.status != STATUS_OK:
        rows = [status_row(record, record.status, record.reason)]
        _write_part(out_dir, record.video_id, rows)
        return rows
    base = _base_row(record)
    rows: list[dict] = []
    try:
        source = None
        if options.reuse_source_boxes and record.source_id:
            source = read_source_faces(out_dir, record.source_id)
        if source is not None:
            indices, frames = read_frames(record.path, indices=source[0])
            faces: Sequence[Face | None] = source[1][: len(indices)]
        else:
            indices, frames = read_frames(record.path, num_frames=options.num_frames, stride=options.stride)
            faces = cropper.detect(frames)
        name = safe_name(record.video_id)
        for idx, frame, face in zip(indices, frames, faces, strict=True):
            if face is None:
                continue
            rel = f"crops/{name}/{int(idx):05d}{options.image_ext}"
            _write_atomic_png(out_dir / rel, cropper.crop(frame, face))
            x1, y1, x2, y2 = face.box
            rows.append({**base, "frame_idx": int(idx), "crop_path": rel, "x1": x1, "y1": y1, "x2": x2, "y2": y2,
                         "score": face.score, "status": STATUS_OK, "reason": ""})  # fmt: skip
        del frames
        if not rows:
            rows = [
                status_row(
                    record,
                    NO_FACE,
                    f"no face with score >= {cropper.min_score} in {len(indices)} sampled frames",
                )
            ]
        elif record.has_audio and options.audio:
            try:
                samples = read_audio(record.path)
                if options.trim_leading_silence:
                    samples = trim_leading_silence(samples)
                rel = f"audio/{name}.wav"
                (out_dir / rel).parent.mkdir(parents=True, exist_ok=True)
                write_wav(out_dir / rel, samples)
                for row in rows:
                    row["audio_path"] = rel
            except NoAudioTrack as err:
                # The crops stay usable by image models; the extra row records why audio is absent.
                rows.append(status_row(record, NO_AUDIO, str(err)))
    except UnreadableVideo as err:
        rows = [status_row(record, UNREADABLE, str(err))]
    _write_part(out_dir, record.video_id, rows)
    return rows


# ----------------------------------------------------------------------------- workers

_worker: dict = {}


def _init_worker(cropper: FaceCropper, out_dir: str, options: PreprocessOptions) -> None:
    import torch

    torch.set_num_threads(1)  # one process per core: intra-op threads would oversubscribe
    cv2.setNumThreads(1)
    _worker.update(cropper=cropper, out_dir=Path(out_dir), options=options)


def _run_one(record: VideoRecord) -> tuple[str, list[dict]]:
    return record.video_id, process_video(record, _worker["out_dir"], _worker["cropper"], _worker["options"])


def shard_key(record: VideoRecord) -> str:
    """Videos sharing footage (an FF++ original and its fakes) land in the same shard."""
    return record.source_id or record.video_id


def select_shard(records: list[VideoRecord], shard: int, num_shards: int) -> list[VideoRecord]:
    """The records of shard ``shard`` of ``num_shards`` (stable across runs and machines)."""
    if not 0 <= shard < num_shards:
        raise ValueError(f"preprocess.shard={shard} must be in [0, preprocess.num_shards={num_shards})")
    if num_shards == 1:
        return records
    keys = sorted({shard_key(r) for r in records})
    mine = set(keys[shard::num_shards])
    return [r for r in records if shard_key(r) in mine]


def run_preprocessing(
    records: list[VideoRecord],
    out_dir: str | Path,
    cropper: FaceCropper,
    options: PreprocessOptions = PreprocessOptions(),
    num_workers: int = 0,
    shard: int = 0,
    num_shards: int = 1,
    dataset: str = "",
    progress: bool = True,
) -> Summary:
    """Process every record not done yet, then (re)write the manifest from all finished parts.

    ``num_workers`` = 0 works in this process; n > 0 uses n worker processes, each with its own
    copy of ``cropper``. Sources (videos others reuse boxes from) run before the videos depending on them.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    ids = {r.video_id for r in records}
    if len(ids) != len(records):
        dup = [v for v, n in Counter(r.video_id for r in records).items() if n > 1][:5]
        raise ValueError(f"duplicate video ids from the layout parser: {dup}")
    summary = Summary()
    mine = select_shard(records, shard, num_shards)
    todo = []
    for r in mine:
        if part_path(out_dir, r.video_id).is_file():
            summary.skipped_done += 1
        elif not r.is_image:
            todo.append(r)
    dependent = [r for r in todo if r.source_id in ids and options.reuse_source_boxes]
    phases = [[r for r in todo if not (r.source_id in ids and options.reuse_source_boxes)], dependent]
    bar = tqdm(
        total=len(todo),
        unit="video",
        desc=f"preprocess {dataset}".strip(),
        disable=not progress,
        dynamic_ncols=True,
    )
    if num_workers > 0 and todo:
        ctx = mp.get_context("spawn")  # fork after torch import is unsafe with its thread pools
        with ctx.Pool(
            num_workers, initializer=_init_worker, initargs=(cropper, str(out_dir), options)
        ) as pool:
            for phase in phases:
                for _, rows in pool.imap_unordered(_run_one, phase, chunksize=1):
                    summary.crops += sum(1 for row in rows if row["status"] == STATUS_OK)
                    bar.update()
    elif todo:
        for phase in phases:
            for record in phase:
                rows = process_video(record, out_dir, cropper, options)
                summary.crops += sum(1 for row in rows if row["status"] == STATUS_OK)
                bar.update()
    bar.close()
    summary.seconds = time.perf_counter() - start
    parts = _read_parts(records, out_dir)  # every finished video, of all shards
    summary.pending, meta_extra = count_statuses(records, parts, summary)
    write_manifest(
        out_dir,
        pd.concat(parts.values(), ignore_index=True) if parts else pd.DataFrame(columns=COLUMNS),
        {
            "dataset": dataset,
            **cropper.settings(),
            "frames_per_video": options.num_frames,
            "stride": options.stride,
            "audio_rate_hz": 16000,
            "reuse_source_boxes": options.reuse_source_boxes,
            "trim_leading_silence": options.trim_leading_silence,
            **(
                {"mode": "clip", "clip_len": options.clip_len, "clips_per_video": options.clips_per_video}
                if options.clip_len
                else {"mode": "frames"}
            ),
            **meta_extra,
        },
    )
    return summary


def _read_parts(records: list[VideoRecord], out_dir: Path) -> dict[str, pd.DataFrame]:
    """The manifest rows of each finished video, by video id."""
    return {
        r.video_id: pd.read_csv(p, dtype={"video_id": str, "group": str})
        for r in records
        if (p := part_path(out_dir, r.video_id)).is_file()
    }


def count_statuses(
    records: list[VideoRecord], parts: dict[str, pd.DataFrame], summary: Summary
) -> tuple[int, dict]:
    """Count statuses over the finished videos into ``summary``; return (pending videos, metadata)."""
    pending = 0
    for r in records:
        if r.is_image:
            continue
        if r.video_id not in parts:
            pending += 1
            continue
        statuses = list(dict.fromkeys(parts[r.video_id]["status"]))  # unique, in order
        bad = [s for s in statuses if s != STATUS_OK]
        if STATUS_OK in statuses:
            summary.statuses[STATUS_OK] += 1
            for s in bad:
                summary.statuses[s] += 1  # e.g. no_audio: counted, though its crops stay usable
        else:
            summary.statuses[bad[0]] += 1  # an unusable video has one row, with its reason
    return pending, {"videos": len([r for r in records if not r.is_image]) - pending, "pending": pending}
