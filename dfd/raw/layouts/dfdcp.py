"""DFDC preview (DFDCP) layout parser (Dolhansky et al., "The Deepfake Detection Challenge (DFDC)
Preview Dataset", arXiv:1910.08854, 2019).

``dataset.json`` maps each video's path (``method_A/…``, ``method_B/…``, ``original_videos/…``)
to ``{"label": "real"|"fake", "set": "train"|"test", "target_id": …}``. The ``set`` field is the
split: ``test`` is the test set the field reports on (about 276 real and 501 fake); validation is
carved from ``train`` by the DataModule, grouped by ``target_id`` (the filmed person). ``method``
is the top folder: ``method_A``, ``method_B`` or ``original``.
"""

from __future__ import annotations

from pathlib import Path

from dfd.raw.records import (
    MISSING_FILE,
    UNLISTED_FILE,
    VIDEO_EXTENSIONS,
    MetadataError,
    VideoRecord,
    read_json,
)

META = "dataset.json"
SETS = {"train": "train", "test": "test"}


def parse_dfdcp(root: str | Path) -> list[VideoRecord]:
    """List DFDCP's videos with the split of their ``set`` field."""
    root = Path(root)
    meta_path = root / META
    meta = read_json(meta_path, "DFDCP metadata")
    if not isinstance(meta, dict):
        raise MetadataError(meta_path, "expected an object mapping video paths to {label, set, target_id}")
    records, listed = [], set()
    for rel, entry in sorted(meta.items()):
        label = str(entry.get("label", "")).lower()
        split = SETS.get(str(entry.get("set", "")).lower())
        if label not in ("real", "fake") or split is None:
            raise MetadataError(
                meta_path, f"entry {rel!r}: expected label real|fake and set train|test, got {entry}"
            )
        path = root / rel
        listed.add(rel)
        top = Path(rel).parts[0]
        present = path.is_file()
        records.append(
            VideoRecord(
                path=path,
                video_id=str(Path(rel).with_suffix("")),
                label=int(label == "fake"),
                method="original" if top == "original_videos" else top,
                split=split,
                group=str(entry.get("target_id") or Path(rel).stem.split("_")[0]),
                status="ok" if present else MISSING_FILE,
                reason="" if present else f"in {META} but {path} is missing",
            )  # fmt: skip
        )
    for folder in ("method_A", "method_B", "original_videos"):
        for path in sorted((root / folder).rglob("*")) if (root / folder).is_dir() else []:
            rel = str(path.relative_to(root))
            if path.suffix.lower() in VIDEO_EXTENSIONS and rel not in listed:
                records.append(
                    VideoRecord(
                        path=path,
                        video_id=str(path.relative_to(root).with_suffix("")),
                        label=int(folder != "original_videos"),
                        method="unknown",
                        split="",
                        group=path.stem,
                        status=UNLISTED_FILE,
                        reason=f"file has no entry in {META}",
                    )  # fmt: skip
                )
    return records
