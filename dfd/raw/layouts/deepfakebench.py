"""DeepfakeBench preprocessed-data layout (Yan et al., "DeepfakeBench: A Comprehensive Benchmark
of Deepfake Detection", NeurIPS Datasets and Benchmarks 2023).

DeepfakeBench ships already-cropped frames plus one JSON per dataset: dataset → label name →
split → [compression →] video → ``{label, frames[, masks]}``. Frame paths are often absolute
paths from another machine, so each is resolved against ``frames_root`` by dropping leading
components until the file exists. Where their ``val`` equals their ``test`` (Celeb-DF) we warn
and carve validation from train instead. A video's ``masks`` (FF++ fakes: its manipulation
masks, cut like its frames) are matched to its frames by file name, since DeepfakeBench lists
them in directory order, and become the record's ``mask_frames`` (the manifest's ``mask_path``).
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import replace
from pathlib import Path, PurePath

from dfd.raw.records import MISSING_FILE, MetadataError, VideoRecord, read_json
from dfd.raw.splits import assign_splits

log = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")


def is_real(label_name: str) -> bool:
    """DeepfakeBench label names ending in real/Real (``FF-real``, ``DFD_real``, ``DFDC_Real``) are real."""
    return label_name.lower().endswith("real")


def resolve_frames(frames: list[str], frames_root: Path) -> tuple[Path, ...] | None:
    """Resolve a video's frame paths under ``frames_root``; None when the first cannot be found.

    The number of leading components to drop is found once per video (on its first frame) and
    applied to all its frames, so resolution costs a few ``stat`` calls per video.
    """
    if not frames:
        return ()
    first = PurePath(frames[0])
    parts = first.parts[1:] if first.is_absolute() else first.parts
    for skip in range(len(parts)):
        if (frames_root.joinpath(*parts[skip:])).is_file():
            return tuple(
                frames_root.joinpath(*(p.parts[1:] if p.is_absolute() else p.parts)[skip:])
                for p in map(PurePath, frames)
            )
    return None


def match_masks(
    frames: tuple[Path, ...] | None, masks: list[str], frames_root: Path
) -> tuple[Path | None, ...]:
    """Each frame's mask (same file name, resolved under ``frames_root``), None where it has none;
    empty when the video lists no mask or none resolves."""
    resolved = resolve_frames(sorted(masks), frames_root) if masks and frames else None
    if not resolved:
        return ()
    by_name = {p.name: p for p in resolved}
    matched = tuple(by_name.get(f.name) for f in frames or ())
    return matched if any(m is not None and m.is_file() for m in matched) else ()


def parse_deepfakebench(
    json_path: str | Path,
    frames_root: str | Path,
    compression: str = "c23",
    val_fraction: float = 0.1,
    seed: int = 0,
) -> list[VideoRecord]:
    """List the videos of one DeepfakeBench dataset JSON with their (resolved) frame paths."""
    json_path = Path(json_path)
    frames_root = Path(frames_root)
    data = read_json(json_path, "DeepfakeBench dataset JSON (data.layout.json_path)")
    if not isinstance(data, dict) or len(data) != 1:
        raise MetadataError(
            json_path,
            f"expected one top-level dataset key, got {list(data) if isinstance(data, dict) else type(data).__name__}",
        )
    dataset, labels = next(iter(data.items()))
    records: list[VideoRecord] = []
    split_videos: dict[str, set[str]] = {s: set() for s in SPLITS}
    for label_name, by_split in labels.items():
        for split, node in by_split.items():
            if split not in SPLITS:
                raise ValueError(
                    f"{json_path}: {dataset}/{label_name} has split {split!r}, expected {SPLITS}"
                )
            # FF++ and DFD nest a compression level; other datasets go straight to the videos.
            videos = node.get(compression, {}) if _has_compression_level(node) else node
            for name, video in videos.items():
                video_id = f"{label_name}/{name}"
                split_videos[split].add(video_id)
                frames = resolve_frames(video.get("frames", []), frames_root)
                masks = match_masks(frames, video.get("masks") or [], frames_root)
                label = 0 if is_real(str(video.get("label", label_name))) else 1
                records.append(
                    VideoRecord(
                        path=frames[0] if frames else frames_root / name,
                        video_id=video_id,
                        label=label,
                        method=label_name,
                        split=split,
                        group=name.split("_")[0],
                        compression=compression if _has_compression_level(node) else "",
                        frames=frames or (),
                        mask_frames=masks,
                        status="ok" if frames else MISSING_FILE,
                        reason=""
                        if frames
                        else f"frame {video.get('frames', ['?'])[0]!r} not found under {frames_root} (data.layout.frames_root)",
                    )
                )
    if split_videos["val"] and split_videos["val"] != split_videos["test"]:
        both = split_videos["val"] & split_videos["test"]
        if both:
            log.warning("%s: %d videos are in both val and test (val %d, test %d)", json_path.name, len(both),
                        len(split_videos["val"]), len(split_videos["test"]))  # fmt: skip
    if split_videos["val"] and split_videos["val"] == split_videos["test"]:
        log.warning(
            "%s: DeepfakeBench's val split equals its test split (%d videos); carving validation from "
            "train instead so that checkpoints are never selected on test data",
            json_path.name,
            len(split_videos["val"]),
        )
        records = [r for r in records if r.split != "val"]
        train = [i for i, r in enumerate(records) if r.split == "train" and r.status == "ok"]
        splits = assign_splits(
            [records[i].label for i in train], [records[i].group for i in train], val_fraction, 0.0, seed
        )
        for i, split in zip(train, splits, strict=True):
            records[i] = replace(records[i], split=split)
    _warn_shared_frames(records, json_path)
    return with_sources(records)


def with_sources(records: list[VideoRecord]) -> list[VideoRecord]:
    """``records`` with each fake's ``made_from``, read off the names as the datasets name them: FF++
    fake ``a_b`` is made from real ``a``, Celeb-DF fake ``idA_idB_clip`` from real ``idA_clip``. A
    fake whose name fits neither, or names a real that no record or several records hold, has none."""
    reals: dict[str, list[str]] = {}
    for r in records:
        if r.label == 0:
            reals.setdefault(r.video_id.split("/", 1)[1], []).append(r.video_id)

    def source(video_id: str) -> str:
        parts = video_id.split("/", 1)[1].split("_")
        name = {2: parts[0], 3: f"{parts[0]}_{parts[-1]}"}.get(len(parts), "")
        return reals[name][0] if len(reals.get(name, ())) == 1 else ""

    return [replace(r, made_from=source(r.video_id)) if r.label == 1 else r for r in records]


def _warn_shared_frames(records: list[VideoRecord], json_path: Path) -> int:
    """Warn, with counts, when one frame file sits in two splits (DF40 ships such leaks); return
    how many frames do."""
    splits_of: dict[Path, set[str]] = {}
    for r in records:
        for frame in r.frames:
            splits_of.setdefault(frame, set()).add(r.split)
    shared = [f for f, s in splits_of.items() if len(s) > 1]
    if shared:
        pairs = Counter("+".join(sorted(splits_of[f])) for f in shared)
        log.warning(
            "%s: %d of %d frames sit in two splits (%s): scores on those splits are not independent",
            json_path.name, len(shared), len(splits_of), ", ".join(f"{k}: {v}" for k, v in sorted(pairs.items())),
        )  # fmt: skip
    return len(shared)


def _has_compression_level(node: dict) -> bool:
    return any(key in ("raw", "c23", "c40") for key in node)
