"""UADFV layout parser (Yang, Li and Lyu, "Exposing Deep Fakes Using Inconsistent Head Poses",
ICASSP 2019): 49 real videos in ``real/`` and 49 fakes in ``fake/``, a test set only.

A fake ``0000_fake.mp4`` is made from the real ``0000.mp4``: both share the group ``0000``.
"""

from __future__ import annotations

from pathlib import Path

from dfd.raw.records import VIDEO_EXTENSIONS, VideoRecord, list_files, require_dir


def parse_uadfv(root: str | Path) -> list[VideoRecord]:
    """List UADFV's real and fake videos, all ``test``."""
    root = Path(root)
    records = []
    for label, folder in ((0, "real"), (1, "fake")):
        for path in list_files(require_dir(root / folder, f"UADFV {folder}/ folder"), VIDEO_EXTENSIONS):
            group = path.stem.removesuffix("_fake")
            records.append(
                VideoRecord(
                    path=path,
                    video_id=f"{folder}/{path.stem}",
                    label=label,
                    method="UADFV" if label else "original",
                    split="test",
                    group=group,
                    made_from=f"real/{group}" if label else "",
                )  # fmt: skip
            )
    return records
