"""Run preprocessing over a dataset: every video not done yet, in worker processes and shards,
then the manifest assembled from all finished parts.

Each video goes to the frame runner (:mod:`dfd.preprocessing.frames`) or, for audio-visual
data (``clip_len > 0``), the clip runner (:mod:`dfd.preprocessing.clips`). Every file is written
to a temporary name and renamed, and a video's part file is written last, so a kill never
leaves half-written output counted as done and a rerun skips exactly the finished videos.
Videos that cannot be used get a row saying why (``unreadable``, ``no_face``, ``no_audio``,
``too_short``, ``missing_file``, ``unlisted_file``).
"""

from __future__ import annotations

import multiprocessing as mp
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import pandas as pd
from tqdm import tqdm

from dfd.preprocessing.clips import process_video_clips
from dfd.preprocessing.faces import JPEG_QUALITY, FaceCropper, is_jpeg
from dfd.preprocessing.fingerprint import check_same_crops
from dfd.preprocessing.frames import background_writes, process_video_frames
from dfd.preprocessing.landmarks import landmarker
from dfd.preprocessing.manifest import COLUMNS, STATUS_OK, part_path, read_part, write_manifest
from dfd.preprocessing.options import PreprocessOptions
from dfd.raw.audio import SAMPLE_RATE
from dfd.raw.records import VideoRecord


@dataclass
class Summary:
    """Counts of one run: videos by status, and crops written."""

    statuses: Counter = field(default_factory=Counter)
    #: videos cropped by this run (the statuses count every finished video, of every shard)
    processed: int = 0
    skipped_done: int = 0
    crops: int = 0
    pending: int = 0
    seconds: float = 0.0

    @property
    def processed_ok(self) -> int:
        return self.statuses.get(STATUS_OK, 0)

    def lines(self) -> list[str]:
        done = sum(self.statuses.values())
        rate = self.processed / self.seconds if self.seconds > 0 else 0.0
        out = [
            f"this run: {self.processed} videos processed ({self.skipped_done} already done, skipped), "
            f"{self.crops} crops, {rate:.2f} videos/s",
            f"videos: {done}",
            f"usable: {self.processed_ok}",
        ]
        out += [f"{status}: {n}" for status, n in sorted(self.statuses.items()) if status != STATUS_OK]
        if self.pending:
            out.append(f"not done here (other shards or waiting): {self.pending}")
        return out


def process_video(
    record: VideoRecord, out_dir: Path, cropper: FaceCropper, options: PreprocessOptions
) -> list[dict]:
    """Process one video in frame or clip mode; write its files and part; return its rows."""
    run = process_video_clips if options.clip_len else process_video_frames
    return run(record, Path(out_dir), cropper, options)


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
    merge_only: bool = False,
) -> Summary:
    """Process every record not done yet, then (re)write the manifest from all finished parts.

    ``merge_only`` processes nothing and only writes the manifest from the parts every shard
    finished (the step after a sharded run: one write, once all shards are done).

    ``num_workers`` = 0 works in this process; n > 0 uses n worker processes, each with its own
    copy of ``cropper``. Sources (videos others reuse boxes from) run before the videos depending on them.
    """
    out_dir = Path(out_dir)
    if options.clip_len and getattr(cropper, "align", False):
        raise ValueError(
            "preprocess.cropper.align=true aligns each frame on its landmarks; clip mode (preprocess.clip_len) "
            "crops one steady box per clip: use one or the other"
        )
    if options.clip_len and options.landmarks != "none":
        raise ValueError(
            f"preprocess.landmarks={options.landmarks} stores landmarks per frame crop; clip mode "
            f"(preprocess.clip_len={options.clip_len}) writes clips: set preprocess.landmarks=none"
        )
    landmark_settings = landmarker(options.landmarks).settings()  # a missing dlib fails here, not in a worker
    settings = {
        **cropper.settings(),
        "frames_per_video": options.num_frames,
        "stride": options.stride,
        "index_rounding": options.index_rounding,
        "image_format": options.image_ext.lstrip("."),
        **({"jpeg_quality": JPEG_QUALITY} if is_jpeg(options.image_ext) else {}),
        "audio_rate_hz": SAMPLE_RATE,
        "reuse_source_boxes": options.reuse_source_boxes,
        "trim_leading_silence": options.trim_leading_silence,
        "mask_threshold": options.mask_threshold,
        **landmark_settings,
        "mode": "clip" if options.clip_len else "frames",
    }
    check_same_crops(out_dir, settings)
    out_dir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    ids = {r.video_id for r in records}
    if len(ids) != len(records):
        dup = [v for v, n in Counter(r.video_id for r in records).items() if n > 1][:5]
        raise ValueError(f"duplicate video ids from the layout parser: {dup}")
    summary = Summary()
    mine = [] if merge_only else select_shard(records, shard, num_shards)
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
                    summary.processed += 1
                    bar.update()
    elif todo:
        for phase in phases:  # a phase's files are all written before the next reads its sources' parts
            with background_writes():
                for record in phase:
                    rows = process_video(record, out_dir, cropper, options)
                    summary.crops += sum(1 for row in rows if row["status"] == STATUS_OK)
                    summary.processed += 1
                    bar.update()
    bar.close()
    summary.seconds = time.perf_counter() - start
    parts = read_parts(records, out_dir)  # every finished video, of all shards
    summary.pending, meta_extra = count_statuses(records, parts, summary)
    rows = pd.concat(parts.values(), ignore_index=True) if parts else pd.DataFrame(columns=COLUMNS)
    fps = (
        pd.to_numeric(rows.get("fps"), errors="coerce").dropna() if "fps" in rows else pd.Series(dtype=float)
    )
    write_manifest(
        out_dir,
        rows,
        {
            "dataset": dataset,
            **settings,
            **(
                {
                    "clip_len": options.clip_len,
                    "clips_per_video": options.clips_per_video,
                    # the clips' median frame rate: the AV loader sizes the audio window from it
                    "fps": float(fps.median()) if len(fps) else None,
                    "sample_rate": SAMPLE_RATE,
                }
                if options.clip_len
                else {}
            ),
            **meta_extra,
        },
    )
    return summary


def read_parts(records: list[VideoRecord], out_dir: Path) -> dict[str, pd.DataFrame]:
    """The manifest rows of each finished video, by video id."""
    parts = {r.video_id: read_part(out_dir, r.video_id) for r in records}
    return {k: v for k, v in parts.items() if v is not None}


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
