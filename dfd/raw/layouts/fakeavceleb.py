"""FakeAVCeleb v1.2 layout parser (Khalid et al., "FakeAVCeleb: A Novel Audio-Video Multimodal
Deepfake Dataset", NeurIPS Datasets and Benchmarks 2021).

Four categories: A RealVideo-RealAudio (real), B RealVideo-FakeAudio, C FakeVideo-RealAudio,
D FakeVideo-FakeAudio. A record's ``label`` is 1 when either modality is fake; ``label_video``
and ``label_audio`` say which, so a frame model can train on what it sees (category B shows a
real face). ``method`` is the category code and the generator, e.g. ``RVFA:rtvc``,
``FVFA:faceswap-wav2lip``, so results by method split the categories research reports.
``meta_data.csv`` has one row per video. There is no official split: train/val/test are carved
grouped by source identity and stratified by label.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from dfd.raw.records import (
    MISSING_FILE,
    UNLISTED_FILE,
    VIDEO_EXTENSIONS,
    MetadataError,
    VideoRecord,
    read_csv,
)
from dfd.raw.splits import assign_splits

CATEGORY_FOLDERS = {
    "A": "RealVideo-RealAudio",
    "B": "RealVideo-FakeAudio",
    "C": "FakeVideo-RealAudio",
    "D": "FakeVideo-FakeAudio",
}
#: Category → (code, fake video, fake audio).
CATEGORIES = {"A": ("RVRA", 0, 0), "B": ("RVFA", 0, 1), "C": ("FVRA", 1, 0), "D": ("FVFA", 1, 1)}
META = "meta_data.csv"
REQUIRED_COLUMNS = {"source", "method", "category", "type", "race", "gender", "path"}


def _resolve(root: Path, row: dict[str, str]) -> Path:
    """Find a row's video: ``path`` may be relative to the root, prefixed by the dataset folder
    name, or a bare file name whose folder is ``<type>/<race>/<gender>/<source>``."""
    rel = row["path"].strip().lstrip("/")
    candidates = [root / rel]
    parts = Path(rel).parts
    if len(parts) > 1:
        candidates.append(root.joinpath(*parts[1:]))  # "FakeAVCeleb/…" prefix
    # Some releases keep the folder in an unnamed column and only the file name in ``path``.
    values = [
        v for value in row.values() for v in (value if isinstance(value, list) else [value])
    ]  # extra cells → list
    for value in values:
        if value and "/" in value and not value.endswith(VIDEO_EXTENSIONS):
            folder = Path(value.strip().lstrip("/"))
            candidates += [root / folder / rel, root.joinpath(*folder.parts[1:], rel)]
    candidates.append(root / row["type"] / row["race"] / row["gender"] / row["source"] / Path(rel).name)
    return next((c for c in candidates if c.is_file()), candidates[-1])


def parse_fakeavceleb(
    root: str | Path, val_fraction: float = 0.1, test_fraction: float = 0.2, seed: int = 0
) -> list[VideoRecord]:
    """List FakeAVCeleb videos from ``meta_data.csv`` with splits grouped by source identity."""
    root = Path(root)
    meta = root / META
    found, missing = [], []
    listed = set()
    for line, row in read_csv(meta, "FakeAVCeleb metadata", REQUIRED_COLUMNS):
        category = row["category"].strip().upper()
        if category not in CATEGORY_FOLDERS:
            raise MetadataError(
                meta, f"line {line}: category {category!r} is not one of {sorted(CATEGORY_FOLDERS)}"
            )
        path = _resolve(root, row)
        listed.add(path.resolve())
        code, fake_video, fake_audio = CATEGORIES[category]
        generator = row["method"].strip()
        record = dict(
            path=path,
            video_id=str(path.relative_to(root).with_suffix("")) if path.is_relative_to(root) else path.stem,
            label=int(fake_video or fake_audio),
            label_video=fake_video,
            label_audio=fake_audio,
            method=code if category == "A" or not generator else f"{code}:{generator}",
            group=row["source"].strip(),
            has_audio=True,
        )
        (found if path.is_file() else missing).append(record)
    splits = assign_splits(
        [r["label"] for r in found], [r["group"] for r in found], val_fraction, test_fraction, seed
    )
    records = [VideoRecord(split=s, **r) for r, s in zip(found, splits, strict=True)]
    records += [
        VideoRecord(split="", status=MISSING_FILE, reason=f"in {META} but {r['path']} is missing", **r)
        for r in missing
    ]
    for folder in CATEGORY_FOLDERS.values():
        for path in sorted((root / folder).rglob("*")) if (root / folder).is_dir() else []:
            if path.suffix.lower() in VIDEO_EXTENSIONS and path.resolve() not in listed:
                category = next(c for c, f in CATEGORY_FOLDERS.items() if f == folder)
                code, fake_video, fake_audio = CATEGORIES[category]
                records.append(
                    VideoRecord(
                        path=path,
                        video_id=str(path.relative_to(root).with_suffix("")),
                        label=int(fake_video or fake_audio),
                        label_video=fake_video,
                        label_audio=fake_audio,
                        method="unknown",
                        split="",
                        group=path.parent.name,
                        has_audio=True,
                        status=UNLISTED_FILE,
                        reason=f"file has no row in {META}",
                    )
                )
    # a fake is made from its source identity's real video (category A, one per identity)
    reals: dict[str, list[str]] = {}
    for r in records:
        if r.label == 0 and r.status != UNLISTED_FILE:
            reals.setdefault(r.group, []).append(r.video_id)
    return [
        replace(r, made_from=reals[r.group][0]) if r.label == 1 and len(reals.get(r.group, ())) == 1 else r
        for r in records
    ]
