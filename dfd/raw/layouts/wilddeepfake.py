"""WildDeepfake layout parser (Zi et al., "WildDeepfake: A Challenging Real-World Dataset for
Deepfake Detection", ACM MM 2020).

It ships face frames already extracted: ``real_train/``, ``fake_train/``, ``real_test/`` and
``fake_test/``, each holding one folder per face sequence (``<video>/<sequence>/*.png``, or
``<video>/*.png``) once its tarballs are unpacked. Train and test only: validation is carved
from train, grouped by source video, so that no video's sequences sit in both.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from dfd.raw.records import IMAGE_EXTENSIONS, VideoRecord
from dfd.raw.splits import assign_splits

FOLDERS = {
    "real_train": (0, "train"),
    "fake_train": (1, "train"),
    "real_test": (0, "test"),
    "fake_test": (1, "test"),
}


def _sequences(folder: Path) -> list[Path]:
    """Folders under ``folder`` that hold images directly, sorted."""
    return sorted(
        d
        for d in folder.rglob("*")
        if d.is_dir() and any(p.suffix.lower() in IMAGE_EXTENSIONS for p in d.iterdir())
    )


def parse_wilddeepfake(root: str | Path, val_fraction: float = 0.1, seed: int = 0) -> list[VideoRecord]:
    """List WildDeepfake's face sequences (one record per sequence, its frames in order)."""
    root = Path(root)
    present = [f for f in FOLDERS if (root / f).is_dir()]
    if not present:
        raise FileNotFoundError(f"none of {', '.join(FOLDERS)} under {root} (check data.raw_dir)")
    records = []
    for name in present:
        label, split = FOLDERS[name]
        sequences = _sequences(root / name)
        if not sequences and list((root / name).glob("*.tar*")):
            raise FileNotFoundError(
                f"{root / name} holds tarballs but no frames: unpack them first "
                f"(cd {root / name} && for t in *.tar*; do tar -xf $t; done)"
            )
        for seq in sequences:
            rel = seq.relative_to(root / name)
            frames = tuple(sorted(p for p in seq.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS))
            records.append(
                VideoRecord(
                    path=frames[0],
                    video_id=f"{name}/{rel}",
                    label=label,
                    method="WildDeepfake" if label else "original",
                    split=split,
                    group=f"{name.split('_')[0]}/{rel.parts[0]}",
                    frames=frames,
                )  # fmt: skip
            )
    train = [i for i, r in enumerate(records) if r.split == "train"]
    splits = assign_splits(
        [records[i].label for i in train], [records[i].group for i in train], val_fraction, 0.0, seed
    )
    for i, split in zip(train, splits, strict=True):
        records[i] = replace(records[i], split=split)
    return records
