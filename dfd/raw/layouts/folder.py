"""Generic folder layout: ``real/`` and ``fake/`` (images or videos), optionally with
``metadata.json``, or the variant ``train_real/ train_fake/ test_real/ test_fake/``.

Images are taken as they are (already face crops); videos go through preprocessing. Without
``train_*``/``test_*`` folders there is no official split: train/val is carved 80/20,
stratified by label and grouped by video (or by image file).
"""

from __future__ import annotations

from pathlib import Path

from dfd.raw.records import (
    IMAGE_EXTENSIONS,
    MISSING_FILE,
    UNLISTED_FILE,
    VIDEO_EXTENSIONS,
    VideoRecord,
    list_files,
    read_json,
)
from dfd.raw.splits import assign_splits

LABELS = {"real": 0, "fake": 1}
SPLIT_FOLDERS = {f"{s}_{c}": (s, c) for s in ("train", "test") for c in LABELS}


def parse_folder(root: str | Path, val_fraction: float = 0.2, seed: int = 0) -> list[VideoRecord]:
    """List the images and videos of a folder dataset with label and split."""
    root = Path(root)
    extensions = IMAGE_EXTENSIONS + VIDEO_EXTENSIONS
    if any((root / name).is_dir() for name in SPLIT_FOLDERS):
        items = [
            (path, split, LABELS[cls])
            for name, (split, cls) in SPLIT_FOLDERS.items()
            for path in list_files(root / name, extensions)
        ]
    elif any((root / name).is_dir() for name in LABELS):
        items = [(path, "", LABELS[cls]) for cls in LABELS for path in list_files(root / cls, extensions)]
    else:
        raise FileNotFoundError(
            f"no real/ and fake/ (or train_real/ … test_fake/) folders under {root} (check data.raw_dir)"
        )
    meta_path = root / "metadata.json"
    meta = read_json(meta_path, "folder metadata") if meta_path.is_file() else None
    records: list[VideoRecord] = []
    listed: set[str] = set()
    for path, split, label in items:
        rel = str(path.relative_to(root))
        entry = None
        if meta is not None:
            entry = meta.get(rel, meta.get(path.name))
            if entry is None:
                records.append(
                    _record(path, rel, label, split, UNLISTED_FILE, "file has no entry in metadata.json")
                )
                continue
            listed.add(rel if rel in meta else path.name)
            label = int(entry.get("label", label))
        records.append(_record(path, rel, label, split))
    for name, entry in (meta or {}).items():
        if name not in listed:
            path = root / name
            records.append(
                _record(
                    path,
                    name,
                    int(entry.get("label", 0)),
                    "",
                    MISSING_FILE,
                    f"in metadata.json but {path} is missing",
                )
            )
    usable = [i for i, r in enumerate(records) if r.status == "ok" and not r.split]
    if usable:
        splits = assign_splits(
            [records[i].label for i in usable], [records[i].group for i in usable], val_fraction, 0.0, seed
        )
        for i, split in zip(usable, splits, strict=True):
            records[i] = _record(records[i].path, records[i].video_id, records[i].label, split)
    return records


def _record(
    path: Path, rel: str, label: int, split: str, status: str = "ok", reason: str = ""
) -> VideoRecord:
    video_id = str(Path(rel).with_suffix(""))
    return VideoRecord(
        path=path,
        video_id=video_id,
        label=label,
        method="fake" if label else "real",
        split=split,
        group=video_id,
        status=status,
        reason=reason,
    )
