"""The crop manifest: dfd's own on-disk format between preprocessing and training.

One folder per dataset holds the face crops, the manifest with one row per crop, and
``manifest.json`` recording how it was made (detector, margin, size, frames per video). The
manifest is ``manifest.parquet`` (columnar: millions of rows load in about a second, strings
shared) with ``manifest.csv`` beside it as a readable export; folders written by dfd before 0.3
have only the CSV, which still loads. A CSV edited after the Parquet was written wins, with a
log line, so a hand fix is never ignored.
A video that could not be used gets one row with ``status`` other than ``ok`` and a
``reason``: it is never dropped silently.

While preprocessing runs, each finished video's rows are a *part file*
(``parts/<video_id>.csv``); its presence means "done", so a rerun skips exactly the finished
videos, and the manifest is assembled from all parts at the end.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dfd.preprocessing.landmarks import landmark_array, landmark_json
from dfd.raw.records import BAD_METADATA, MISSING_FILE, STATUS_OK, UNLISTED_FILE, VideoRecord

log = logging.getLogger(__name__)

MANIFEST_CSV = "manifest.csv"
MANIFEST_PARQUET = "manifest.parquet"
MANIFEST_META = "manifest.json"

#: Column order of ``manifest.csv``. ``label``: 0 real, 1 fake (either modality); ``label_video``
#: and ``label_audio`` say which modality is fake where the dataset tells (FakeAVCeleb), empty
#: elsewhere. ``crop_path`` and ``audio_path`` are relative to the manifest's folder. Box is in
#: full-frame pixels. ``fps`` is the video's frame rate (clip mode: the clip's frames and audio).
COLUMNS = [
    "video_id",
    "frame_idx",
    # the face track the crop belongs to (0: the video's main face; see dfd.preprocessing.tracks)
    "track",
    "label",
    "label_video",
    "label_audio",
    "method",
    "split",
    "group",
    # a fake's source: the video_id of the real video it was made from (FF++ fake ``Deepfakes/000_003``
    # → ``original/000``), from the layout's ``VideoRecord.made_from`` or ``source_id``; empty for
    # reals and where the layout does not know it. ``sampler=paired_source`` batches each fake with it.
    "source_video",
    "compression",
    "crop_path",
    "x1",
    "y1",
    "x2",
    "y2",
    "score",
    # with preprocess.cropper.align: the landmarks the crop was aligned on, JSON [[x, y], ...] frame px (MTCNN's
    # five; preprocess=deepfakebench: dlib's 68, aligned on five of them)
    "landmarks",
    # with preprocess.landmarks: the face's landmarks in crop px (manifest.parquet: list<float32> of the
    # flattened points; CSV: JSON [[x, y], ...]); read them with dfd.preprocessing.landmarks.landmark_array
    "crop_landmarks",
    # a fake with a manipulation mask video (FF++/DFD masks/): the crop's one-channel 0/255 mask, cut
    # like the crop (masks/<video_id>/<frame>[_t<k>].png); empty = no mask known (reals: all zero)
    "mask_path",
    "audio_path",
    "source_path",
    "fps",
    # LAV-DF / AV-Deepfake1M: the fake segments, JSON [[start, end], ...] in seconds
    "fake_periods",
    "status",
    "reason",
]

#: Manifest ``status`` values besides ``ok``: why a video gave no usable rows.
UNREADABLE = "unreadable"
NO_FACE = "no_face"
NO_AUDIO = "no_audio"
TOO_SHORT = "too_short"
STATUSES = (STATUS_OK, UNREADABLE, NO_FACE, NO_AUDIO, TOO_SHORT, MISSING_FILE, UNLISTED_FILE, BAD_METADATA)


#: Columns read as text (the rest are numbers); empty text is missing, as in a CSV.
TEXT_COLUMNS = (
    "video_id", "method", "split", "group", "source_video", "compression", "crop_path", "landmarks",
    "mask_path", "audio_path", "source_path", "fake_periods", "status", "reason",
)  # fmt: skip
#: Text columns a CSV reader must not guess numbers for (ids such as ``000``).
CSV_DTYPES = {"video_id": str, "group": str, "source_video": str, "method": str, "split": str}
#: The column of points, columnar in the Parquet and JSON text in the CSV.
LANDMARK_COLUMN = "crop_landmarks"


def landmark_text(values: pd.Series) -> pd.Series:
    """A ``crop_landmarks`` column as CSV text: JSON kept, arrays (from a Parquet) written as JSON,
    missing as None."""
    if all(isinstance(v, str) or v is None or (isinstance(v, float) and v != v) for v in values):
        return values.astype(object).where(values.notna() & (values.astype(object) != ""), None)
    points = landmark_array(values)
    return pd.Series(
        [None if np.isnan(p).all() else landmark_json(p) for p in points] if points.shape[1] else [None] * len(values),
        index=values.index, dtype=object,
    )  # fmt: skip


def landmark_arrow(values: pd.Series) -> Any:
    """A ``crop_landmarks`` column as an Arrow ``list<float32>`` of each row's flattened points
    (null for rows without): the Parquet's columnar form."""
    import pyarrow as pa

    points = landmark_array(values)
    present = ~np.isnan(points).all(axis=(1, 2)) if points.shape[1] else np.zeros(len(points), bool)
    offsets = np.concatenate([[0], np.cumsum(present * points.shape[1] * 2)]).astype(np.int32)
    flat = pa.array(points[present].ravel(), type=pa.float32())
    return pa.ListArray.from_arrays(pa.array(offsets), flat, mask=pa.array(~present))


def columnar(rows: pd.DataFrame) -> pd.DataFrame:
    """``rows`` in the manifest's column order with one type per column, as a CSV round trip
    would give them: text (empty is missing) or numbers."""
    frame = rows.reindex(columns=COLUMNS)
    for column in frame.columns:
        values = frame[column]
        if column == LANDMARK_COLUMN:
            frame[column] = landmark_text(values)
        elif column in TEXT_COLUMNS:
            text = values.astype(object)
            missing = text.isna() | (text == "")
            frame[column] = text.where(missing, text.astype(str)).where(~missing, None)
        else:
            frame[column] = pd.to_numeric(values, errors="coerce")
    return frame


def write_manifest(root: str | Path, rows: pd.DataFrame, meta: dict[str, Any], csv: bool = True) -> None:
    """Write ``manifest.parquet`` (and ``manifest.csv``, the readable export, unless ``csv=False``)
    and ``manifest.json``, each atomically (temporary file, then rename); the temporary names are
    per process, so shards finishing together never write into one file. The CSV goes first, so
    a CSV newer than the Parquet is one edited by hand (see :func:`read_manifest`)."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    frame = columnar(rows)
    if csv:
        tmp = root / f"{MANIFEST_CSV}.{os.getpid()}.tmp"
        frame.to_csv(tmp, index=False)
        os.replace(tmp, root / MANIFEST_CSV)
    else:
        (root / MANIFEST_CSV).unlink(missing_ok=True)  # a stale export must not shadow the Parquet
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(frame.drop(columns=LANDMARK_COLUMN), preserve_index=False)
    table = table.add_column(
        COLUMNS.index(LANDMARK_COLUMN), LANDMARK_COLUMN, landmark_arrow(frame[LANDMARK_COLUMN])
    )
    tmp = root / f"{MANIFEST_PARQUET}.{os.getpid()}.tmp"
    pq.write_table(table, tmp)
    os.replace(tmp, root / MANIFEST_PARQUET)
    tmp = root / f"{MANIFEST_META}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(meta, indent=2, sort_keys=True))
    os.replace(tmp, root / MANIFEST_META)


def manifest_file(root: str | Path) -> Path | None:
    """The manifest file to read in ``root``: the Parquet, unless a CSV was written after it (a
    hand edit, or a tool of its own) or there is only a CSV (dfd before 0.3); ``None`` when neither."""
    root = Path(root)
    parquet, csv = root / MANIFEST_PARQUET, root / MANIFEST_CSV
    if parquet.is_file():
        if csv.is_file() and csv.stat().st_mtime_ns > parquet.stat().st_mtime_ns:
            log.info("%s is newer than %s: reading the CSV", csv, parquet.name)
            return csv
        return parquet
    return csv if csv.is_file() else None


def manifest_exists(root: str | Path) -> bool:
    """Whether ``root`` holds a crop manifest (Parquet or CSV)."""
    return manifest_file(root) is not None


def read_rows(path: Path, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """A manifest file's rows (only ``columns`` where given and present), vectorised: Parquet through
    pyarrow (repeated strings shared, missing text as NaN like the CSV reader gives it), or CSV."""
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        if columns is not None:
            present = set(pq.read_schema(path).names)
            columns = [c for c in columns if c in present]
        rows = pq.read_table(path, columns=columns).to_pandas(deduplicate_objects=True)
        for column in rows.columns.intersection([*TEXT_COLUMNS, LANDMARK_COLUMN]):
            if rows[column].dtype == object:
                rows[column] = rows[column].fillna(np.nan)
        return rows
    wanted = None if columns is None else set(columns)
    return pd.read_csv(path, dtype=CSV_DTYPES, usecols=None if wanted is None else lambda c: c in wanted)


def read_usable(
    root: str | Path, columns: Sequence[str] | None = None
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """A manifest's usable rows (``status`` ok or empty) and the others apart, and its metadata.

    For a Parquet manifest the split is made in Arrow before conversion, so millions of usable
    rows are never copied to drop a few unusable ones."""
    root = Path(root)
    path = manifest_file(root)
    if path is None or path.suffix != ".parquet":
        rows, meta = read_manifest(root, columns)
        ok = (
            (rows["status"].fillna(STATUS_OK) == STATUS_OK).to_numpy()
            if "status" in rows
            else np.ones(len(rows), bool)
        )
        return (rows if ok.all() else rows[ok]), rows[~ok], meta
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    if columns is not None:
        present = set(pq.read_schema(path).names)
        columns = [c for c in columns if c in present]
    table = pq.read_table(path, columns=columns)
    parts = [table, table.slice(0, 0)]
    if "status" in table.column_names:
        ok = pc.equal(pc.fill_null(table["status"], STATUS_OK), STATUS_OK)
        parts = [table.filter(ok), table.filter(pc.invert(ok))]
    frames = []
    for part in parts:
        frame = part.to_pandas(deduplicate_objects=True)
        for column in frame.columns.intersection([*TEXT_COLUMNS, LANDMARK_COLUMN]):
            if frame[column].dtype == object:
                frame[column] = frame[column].fillna(np.nan)
        frames.append(frame)
    meta_path = root / MANIFEST_META
    meta = json.loads(meta_path.read_text()) if meta_path.is_file() else {}
    return frames[0], frames[1], meta


def read_manifest(
    root: str | Path, columns: Sequence[str] | None = None
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Read a manifest folder (only ``columns`` where given: at DFDC scale the boxes, landmarks and
    source paths are hundreds of MB that training never reads); raise ``FileNotFoundError`` naming
    the file when it is absent."""
    root = Path(root)
    path = manifest_file(root)
    if path is None:
        raise FileNotFoundError(f"no crop manifest at {root / MANIFEST_PARQUET} (or {MANIFEST_CSV})")
    rows = read_rows(path, columns)
    meta_path = root / MANIFEST_META
    meta = json.loads(meta_path.read_text()) if meta_path.is_file() else {}
    return rows, meta


def cache_tag(version: int, args: dict[str, Any]) -> str:
    """Short hash of a generator's version and arguments: the name of its cache folder, so that a
    changed argument or generator regenerates instead of reusing stale data."""
    return hashlib.sha1(repr((version, sorted(args.items()))).encode()).hexdigest()[:10]


@contextmanager
def build_atomically(root: str | Path) -> Iterator[Path]:
    """Build a dataset folder in a temporary sibling and rename it to ``root`` when done.

    A crash or kill leaves no half-written ``root``; if another process finished ``root`` first,
    its copy is kept and ours is discarded.
    """
    root = Path(root)
    root.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=root.name + ".tmp-", dir=root.parent))
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if root.exists():
        shutil.rmtree(tmp)
    else:
        tmp.rename(root)


# ----------------------------------------------------------------------------- rows and parts


def safe_name(video_id: str) -> str:
    """Video id → relative path (ids may contain '/', never '..')."""
    return "/".join(p for p in video_id.split("/") if p not in ("", ".", ".."))


def base_row(record: VideoRecord) -> dict[str, Any]:
    """The columns a video gives every one of its manifest rows."""
    return {
        "video_id": record.video_id,
        "label": record.label,
        "label_video": record.label_video,
        "label_audio": record.label_audio,
        "method": record.method,
        "split": record.split,
        "group": record.group,
        "source_video": (record.made_from or record.source_id) if record.label == 1 else "",
        "compression": record.compression,
        "fake_periods": record.fake_periods,
        "source_path": str(record.path),
        "audio_path": "",
    }


def status_row(record: VideoRecord, status: str, reason: str) -> dict[str, Any]:
    """The one row of a video that could not be used."""
    return {**base_row(record), "frame_idx": -1, "crop_path": "", "status": status, "reason": reason}


def part_path(out_dir: str | Path, video_id: str) -> Path:
    """Where a video's manifest rows are kept while preprocessing runs."""
    return Path(out_dir) / "parts" / f"{safe_name(video_id)}.csv"


def write_part(out_dir: str | Path, video_id: str, rows: list[dict[str, Any]]) -> None:
    """Write a finished video's rows, atomically: its part file marks it done."""
    path = part_path(out_dir, video_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    pd.DataFrame(rows).reindex(columns=COLUMNS).to_csv(tmp, index=False)
    os.replace(tmp, path)


def read_part(out_dir: str | Path, video_id: str) -> pd.DataFrame | None:
    """A finished video's rows, or None when it is not done."""
    path = part_path(out_dir, video_id)
    return (
        pd.read_csv(path, dtype={"video_id": str, "group": str, "source_video": str})
        if path.is_file()
        else None
    )
