"""AV-Deepfake1M and LAV-DF layout parser (Cai et al., "AV-Deepfake1M: A Large-Scale LLM-Driven
Audio-Visual Deepfake Dataset", ACM MM 2024; Cai et al., "Do You Really Mean That? Content Driven
Audio-Visual Deepfake Dataset and Multimodal Method for Temporal Forgery Localization", DICTA 2022).

Both describe every video by a JSON entry ``{file, split, n_fakes, fake_periods: [[start, end],
…], modify_video, modify_audio, video_frames, audio_frames, …}``: LAV-DF in one ``metadata.json``
(splits ``train``/``dev``/``test``), AV-Deepfake1M in ``train_metadata.json`` and
``val_metadata.json`` (its test labels are withheld: a ``test_metadata.json`` without labels is
skipped, with a line saying so). For classification a video is fake when either modality is
modified: ``label_video`` and ``label_audio`` say which, ``method`` is ``real``, ``visual``,
``audio`` or ``audio_visual``, and ``fake_periods`` stays in the manifest for localisation work.
``dev``/``val`` is validation.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from dfd.raw.records import MISSING_FILE, MetadataError, VideoRecord, read_json

log = logging.getLogger(__name__)

SPLIT_NAMES = {"train": "train", "dev": "val", "val": "val", "test": "test"}
PER_SPLIT_FILES = ("train_metadata.json", "val_metadata.json", "test_metadata.json")


def _entry_list(path: Path, what: str) -> list:
    meta = read_json(path, what)
    if not isinstance(meta, list):
        raise MetadataError(path, f"expected a list of per-video entries, got a {type(meta).__name__}")
    return meta


def _entries(root: Path) -> list[tuple[Path, dict, str]]:
    """(metadata file, entry, split from the file name or '') for every entry."""
    single = root / "metadata.json"
    if single.is_file():
        return [(single, e, "") for e in _entry_list(single, "LAV-DF metadata")]
    out = []
    for name in PER_SPLIT_FILES:
        path = root / name
        if path.is_file():
            out += [(path, e, name.split("_")[0]) for e in _entry_list(path, "AV-Deepfake1M metadata")]
    if not out:
        raise FileNotFoundError(
            f"no metadata.json (LAV-DF) or {'/'.join(PER_SPLIT_FILES)} (AV-Deepfake1M) under {root} (check data.raw_dir)"
        )
    return out


def parse_avdeepfake(root: str | Path) -> list[VideoRecord]:
    """List LAV-DF or AV-Deepfake1M videos with video/audio labels and fake segments."""
    root = Path(root)
    records, unlabelled = [], 0
    for meta_path, entry, file_split in _entries(root):
        if not isinstance(entry, dict) or "file" not in entry:
            raise MetadataError(meta_path, f"expected entries with a 'file' key, got {str(entry)[:80]}")
        if "modify_video" not in entry and "modify_audio" not in entry:
            unlabelled += 1
            continue
        split = SPLIT_NAMES.get(str(entry.get("split", file_split)))
        if split is None:
            raise MetadataError(
                meta_path, f"{entry['file']}: split {entry.get('split')!r} is not one of {list(SPLIT_NAMES)}"
            )
        fake_video, fake_audio = int(bool(entry.get("modify_video"))), int(bool(entry.get("modify_audio")))
        rel = str(entry["file"]).lstrip("/")
        path = next((p for p in (root / rel, root / split / Path(rel).name) if p.is_file()), root / rel)
        method = {(0, 0): "real", (1, 0): "visual", (0, 1): "audio", (1, 1): "audio_visual"}[
            (fake_video, fake_audio)
        ]
        original = str(entry.get("original") or "")
        records.append(
            VideoRecord(
                path=path,
                video_id=str(Path(rel).with_suffix("")),
                label=int(fake_video or fake_audio),
                label_video=fake_video,
                label_audio=fake_audio,
                method=method,
                split=split,
                group=str(Path(original).with_suffix("")) if original else str(Path(rel).with_suffix("")),
                made_from=str(Path(original.lstrip("/")).with_suffix(""))
                if original and (fake_video or fake_audio)
                else "",
                has_audio=True,
                fake_periods=json.dumps(entry.get("fake_periods") or []),
                status="ok" if path.is_file() else MISSING_FILE,
                reason="" if path.is_file() else f"in {meta_path.name} but {path} is missing",
            )  # fmt: skip
        )
    if unlabelled:
        log.warning(
            "%d entries have no labels (AV-Deepfake1M withholds its test labels): skipped", unlabelled
        )
    return records
