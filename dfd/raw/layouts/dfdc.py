"""DFDC layout parser (Dolhansky et al., "The DeepFake Detection Challenge (DFDC) Dataset",
arXiv:2006.07397, 2020).

Training parts ``dfdc_train_part_<n>/`` each hold ``metadata.json`` and the clips (with audio).
Parts listed in ``val_parts`` are validation, the rest train; a part whose ``metadata.json`` is
missing or damaged is reported (file and line) and its videos come back with status
``bad_metadata``, while the other parts are read as usual; ``test/labels.csv`` (``1`` =
fake) is the test set when present. The group of a fake is its ``original`` so that a fake and
its original always share a split.
"""

from __future__ import annotations

import logging
import re
from dataclasses import replace
from pathlib import Path

from dfd.raw.records import (
    BAD_METADATA,
    MISSING_FILE,
    UNLISTED_FILE,
    VIDEO_EXTENSIONS,
    MetadataError,
    VideoRecord,
    list_files,
    read_csv,
    read_json,
)

log = logging.getLogger(__name__)

PART_RE = re.compile(r"dfdc_train_part_(\d+)$")


def parse_dfdc(
    root: str | Path, val_parts: tuple[int, ...] | list[int] = (45, 46, 47, 48, 49)
) -> list[VideoRecord]:
    """List DFDC training parts (train/val by part number) and the public test set if present."""
    root = Path(root)
    parts = sorted(
        ((int(m.group(1)), p) for p in root.iterdir() if p.is_dir() and (m := PART_RE.match(p.name))),
        key=lambda t: t[0],
    )
    if not parts:
        raise FileNotFoundError(f"no dfdc_train_part_<n>/ folder under {root} (check data.raw_dir)")
    records: list[VideoRecord] = []
    split_of: dict[str, str] = {}
    broken: list[Exception] = []
    for number, part in parts:
        split = "val" if number in set(val_parts) else "train"
        files = {p.name: p for p in list_files(part, VIDEO_EXTENSIONS)}
        try:
            part_records = _parse_part(part, split, files)
        except (MetadataError, FileNotFoundError) as err:
            # one damaged part of 50 must not stop the others: its videos are kept with the reason
            broken.append(err)
            log.warning("%s: skipping the %d videos of %s", err, len(files), part.name)
            records += [_unusable(path, BAD_METADATA, str(err)) for path in files.values()]
            continue
        records += part_records
        for r in part_records:
            if r.status != UNLISTED_FILE:
                split_of.setdefault(r.group, split)
    if len(broken) == len(parts):
        raise broken[0]  # nothing readable: the first part's problem, with its file and line
    # A fake whose original sits in another part follows its original's split.
    records = [
        r
        if r.status != "ok" or split_of.get(r.group, r.split) == r.split
        else replace(r, split=split_of[r.group])
        for r in records
    ]
    test_dir = root / "test"
    if test_dir.is_dir():
        records += _parse_test(test_dir)
    return records


def _parse_part(part: Path, split: str, files: dict[str, Path]) -> list[VideoRecord]:
    """The records of one training part; a ``metadata.json`` that is missing, not JSON, not an
    object of entries, or has an entry without a REAL/FAKE label raises naming the file."""
    meta_path = part / "metadata.json"
    meta = read_json(meta_path, "DFDC part metadata")
    if not isinstance(meta, dict):
        raise MetadataError(
            meta_path,
            f"expected an object mapping file names to {{label, original}}, got a {type(meta).__name__}",
        )
    records = []
    for name, entry in sorted(meta.items()):
        label_name = str(entry.get("label", "")).upper() if isinstance(entry, dict) else ""
        if label_name not in ("REAL", "FAKE"):
            raise MetadataError(
                meta_path,
                f"line {_line_of(meta_path, name)}: entry {name!r} has no label REAL or FAKE ({str(entry)[:80]})",
            )
        original = entry.get("original") or name
        path = files.get(name, part / name)
        present = name in files
        records.append(
            VideoRecord(
                path=path,
                video_id=Path(name).stem,
                label=int(label_name == "FAKE"),
                method="DFDC" if label_name == "FAKE" else "original",
                split=split,
                group=Path(str(original)).stem,
                made_from=Path(str(entry["original"])).stem
                if label_name == "FAKE" and entry.get("original")
                else "",
                has_audio=True,
                status="ok" if present else MISSING_FILE,
                reason="" if present else f"in {part.name}/metadata.json but {path} is missing",
            )
        )
    records += [
        _unusable(path, UNLISTED_FILE, f"file has no entry in {part.name}/metadata.json")
        for name, path in sorted(files.items())
        if name not in meta
    ]
    return records


def _line_of(path: Path, key: str) -> int:
    """The line where ``"key"`` first appears in the JSON file ``path`` (1 for one-line files)."""
    text = path.read_text(encoding="utf-8", errors="replace")
    return text.count("\n", 0, max(text.find(f'"{key}"'), 0)) + 1


def _unusable(path: Path, status: str, reason: str) -> VideoRecord:
    """A training-part file that cannot be used (no entry, damaged metadata): kept with its reason."""
    return VideoRecord(path=path, video_id=path.stem, label=0, method="unknown", split="", group=path.stem,
                       has_audio=True, status=status, reason=reason)  # fmt: skip


def _parse_test(test_dir: Path) -> list[VideoRecord]:
    labels_path = test_dir / "labels.csv"
    rows = read_csv(labels_path, "DFDC test labels (test/labels.csv)", {"filename", "label"})
    files = {p.name: p for p in list_files(test_dir, VIDEO_EXTENSIONS)}
    records = []
    listed = set()
    for line, row in rows:
        name = row["filename"]
        try:
            label = float(row["label"])
        except ValueError:
            label = -1.0
        if label not in (0.0, 1.0):
            raise MetadataError(labels_path, f"line {line}: label {row['label']!r} of {name!r} is not 0 or 1")
        listed.add(name)
        present = name in files
        records.append(
            VideoRecord(
                path=files.get(name, test_dir / name),
                video_id=f"test/{Path(name).stem}",
                label=int(label),
                method="DFDC" if label else "original",
                split="test",
                group=f"test/{Path(name).stem}",
                has_audio=True,
                status="ok" if present else MISSING_FILE,
                reason="" if present else f"in test/labels.csv but {test_dir / name} is missing",
            )
        )
    for name, path in sorted(files.items()):
        if name not in listed:
            records.append(
                VideoRecord(
                    path=path,
                    video_id=f"test/{path.stem}",
                    label=0,
                    method="unknown",
                    split="",
                    group=f"test/{path.stem}",
                    has_audio=True,
                    status=UNLISTED_FILE,
                    reason="file has no row in test/labels.csv",
                )
            )
    return records
