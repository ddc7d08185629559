"""The crop manifest: dfd's own on-disk format between preprocessing and training.

One folder per dataset holds the face crops, ``manifest.csv`` with one row per crop, and
``manifest.json`` recording how it was made (detector, margin, size, frames per video).
A video that could not be used gets one row with ``status`` other than ``ok`` and a
``reason``: it is never dropped silently.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd

MANIFEST_CSV = "manifest.csv"
MANIFEST_META = "manifest.json"

#: Column order of ``manifest.csv``. ``label``: 0 real, 1 fake. ``crop_path`` and
#: ``audio_path`` are relative to the manifest's folder. Box is in full-frame pixels.
COLUMNS = [
    "video_id",
    "frame_idx",
    "label",
    "method",
    "split",
    "group",
    "compression",
    "crop_path",
    "x1",
    "y1",
    "x2",
    "y2",
    "score",
    "audio_path",
    "source_path",
    "status",
    "reason",
]

STATUS_OK = "ok"


def write_manifest(root: str | Path, rows: pd.DataFrame, meta: dict[str, Any]) -> None:
    """Write ``manifest.csv`` and ``manifest.json`` atomically (temporary file, then rename)."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    frame = rows.reindex(columns=COLUMNS)
    tmp = root / (MANIFEST_CSV + ".tmp")
    frame.to_csv(tmp, index=False)
    os.replace(tmp, root / MANIFEST_CSV)
    tmp = root / (MANIFEST_META + ".tmp")
    tmp.write_text(json.dumps(meta, indent=2, sort_keys=True))
    os.replace(tmp, root / MANIFEST_META)


def read_manifest(root: str | Path) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Read a manifest folder; raise ``FileNotFoundError`` naming the file when it is absent."""
    root = Path(root)
    path = root / MANIFEST_CSV
    if not path.is_file():
        raise FileNotFoundError(f"no crop manifest at {path}")
    rows = pd.read_csv(path, dtype={"video_id": str, "group": str, "method": str, "split": str})
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
