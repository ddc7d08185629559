"""Celeb-DF v1/v2 layout parser (Li et al., "Celeb-DF: A Large-scale Challenging Dataset for
DeepFake Forensics", CVPR 2020).

Test is the official ``List_of_testing_videos.txt`` (``1`` = real, ``0`` = fake). Everything
else is ``train``; the DataModule carves validation out of train grouped by identity, never
from the test list. The group of ``Celeb-real/id0_0000.mp4`` and of the fake
``Celeb-synthesis/id0_id16_0000.mp4`` is the target identity ``id0`` (the footage's person);
YouTube-real clips carry no identity and form their own groups.
"""

from __future__ import annotations

from pathlib import Path

from dfd.raw.records import MISSING_FILE, VIDEO_EXTENSIONS, VideoRecord, list_files, require_file

FOLDERS = {
    "Celeb-real": (0, "Celeb-real"),
    "YouTube-real": (0, "YouTube-real"),
    "Celeb-synthesis": (1, "Celeb-synthesis"),
}
TEST_LIST = "List_of_testing_videos.txt"


def identity_group(folder: str, stem: str) -> str:
    """The group of a Celeb-DF video: its identity ``idN``, or its own for YouTube-real clips."""
    return f"yt{stem}" if folder == "YouTube-real" else stem.split("_")[0]


def made_from(folder: str, stem: str) -> str:
    """The real video a Celeb-synthesis fake was made from: ``idA_idB_clip`` swaps idB's face into
    ``Celeb-real/idA_clip``; ``""`` for reals and names of another form."""
    parts = stem.split("_")
    return f"Celeb-real/{parts[0]}_{parts[2]}" if folder == "Celeb-synthesis" and len(parts) == 3 else ""


def read_test_list(root: Path) -> dict[str, int]:
    """``{relative path: label}`` from the test list, converting its 1 = real to our 0 = real."""
    path = require_file(root / TEST_LIST, "Celeb-DF test list")
    entries: dict[str, int] = {}
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 2 or parts[0] not in ("0", "1"):
            raise ValueError(f"{path}:{n}: expected '<1|0> <folder>/<file>.mp4', got {line!r}")
        entries[parts[1]] = 1 - int(parts[0])
    return entries


def parse_celebdf(root: str | Path) -> list[VideoRecord]:
    """List Celeb-DF videos: the test list is ``test``, every other video is ``train``."""
    root = Path(root)
    test = read_test_list(root)
    present = [f for f in FOLDERS if (root / f).is_dir()]
    if not present:
        raise FileNotFoundError(
            f"no Celeb-DF video folder ({', '.join(FOLDERS)}) under {root} (check data.raw_dir)"
        )
    records = []
    seen = set()
    for folder in present:
        label, method = FOLDERS[folder]
        for path in list_files(root / folder, VIDEO_EXTENSIONS):
            rel = f"{folder}/{path.name}"
            seen.add(rel)
            records.append(
                VideoRecord(
                    path=path,
                    video_id=f"{folder}/{path.stem}",
                    label=label,
                    method=method,
                    split="test" if rel in test else "train",
                    group=identity_group(folder, path.stem),
                    made_from=made_from(folder, path.stem),
                )
            )
    for rel, label in sorted(test.items()):
        if rel not in seen:
            folder, name = rel.split("/", 1)
            records.append(
                VideoRecord(
                    path=root / rel,
                    video_id=f"{folder}/{Path(name).stem}",
                    label=label,
                    method=FOLDERS.get(folder, (label, folder))[1],
                    split="test",
                    group=identity_group(folder, Path(name).stem),
                    status=MISSING_FILE,
                    reason=f"listed in {TEST_LIST} but {root / rel} is missing",
                )
            )
    return records
