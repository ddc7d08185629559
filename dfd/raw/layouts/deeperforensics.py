"""DeeperForensics-1.0 layout parser (Jiang et al., "DeeperForensics-1.0: A Large-Scale Dataset for
Real-World Face Forgery Detection", CVPR 2020).

Fakes are ``manipulated_videos/<level>/<target>_<actor>.mp4``: FF++ target footage ``<target>``
with the face of a DeeperForensics actor, at one perturbation ``<level>`` (``end_to_end``,
``end_to_end_level_1`` … ``_5``, ``end_to_end_mix_2_distortions`` …, ``end_to_end_random_level``,
``reenact_postprocess``), which is the record's ``method``. The official lists
(``lists/splits/{train,val,test}.txt``, one fake file name per line) split 7:1:2 by FF++ target
id; without them the same 7:1:2 is carved grouped by target id, with a warning. Reals: the FF++
youtube originals of the same target ids (``ffpp_originals``, the usual choice, each in its
target's split), and/or the actors' ``source_videos/`` (``include_source_videos``), split by actor.
"""

from __future__ import annotations

import logging
from pathlib import Path

from dfd.raw.records import VIDEO_EXTENSIONS, VideoRecord, list_files, require_dir, require_file
from dfd.raw.splits import assign_splits

log = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")


def _official_lists(root: Path) -> dict[str, str] | None:
    folder = root / "lists" / "splits"
    if not folder.is_dir():
        return None
    split_of = {}
    for split in SPLITS:
        path = require_file(folder / f"{split}.txt", f"DeeperForensics split list ({split})")
        for line in path.read_text().splitlines():
            if line.strip():
                split_of[Path(line.strip()).stem] = split
    return split_of


def parse_deeperforensics(
    root: str | Path,
    levels: list[str] | tuple[str, ...] | None = None,
    ffpp_originals: str | Path | None = None,
    include_source_videos: bool = False,
    seed: int = 0,
    absent_ok: bool = False,
) -> list[VideoRecord]:
    """List DeeperForensics fakes (of ``levels``, default all), and the chosen reals, split 7:1:2.

    A chosen level whose folder is absent is an error, except with ``absent_ok`` (``dfd.verify``
    on a partial download), where it counts as empty."""
    root = Path(root)
    manipulated = require_dir(root / "manipulated_videos", "DeeperForensics manipulated_videos/")
    have = sorted(d.name for d in manipulated.iterdir() if d.is_dir())
    chosen = list(levels) if levels else have
    absent = sorted(set(chosen) - set(have))
    if absent and not absent_ok:
        raise FileNotFoundError(f"perturbation levels {absent} not in {manipulated}; this copy has {have}")
    fakes = [
        (level, p)
        for level in chosen
        if level in have
        for p in list_files(manipulated / level, VIDEO_EXTENSIONS)
    ]
    split_of = _official_lists(root) or {}
    targets = sorted({p.stem.split("_")[0] for _, p in fakes})
    if not split_of:
        log.warning(
            "%s has no lists/splits/*.txt: carving 7:1:2 by FF++ target id instead of the official lists",
            root,
        )
        carved = assign_splits([1] * len(targets), targets, 0.1, 0.2, seed)
        target_split = dict(zip(targets, carved, strict=True))
    else:
        target_split = {stem.split("_")[0]: split for stem, split in split_of.items()}
    records = []
    for level, path in fakes:
        target = path.stem.split("_")[0]
        split = split_of.get(path.stem, target_split.get(target, ""))
        records.append(
            VideoRecord(
                path=path,
                video_id=f"{level}/{path.stem}",
                label=1,
                method=level,
                split=split,
                group=target,
                source_id=f"original/{target}" if ffpp_originals else "",
            )  # fmt: skip
        )
    if ffpp_originals:
        folder = require_dir(Path(ffpp_originals), "FF++ youtube originals (data.layout.ffpp_originals)")
        for path in list_files(folder, VIDEO_EXTENSIONS):
            if path.stem in target_split:
                records.append(
                    VideoRecord(
                        path=path,
                        video_id=f"original/{path.stem}",
                        label=0,
                        method="original",
                        split=target_split[path.stem],
                        group=path.stem,
                    )  # fmt: skip
                )
    if include_source_videos:
        sources = sorted(
            p for p in (root / "source_videos").rglob("*") if p.suffix.lower() in VIDEO_EXTENSIONS
        )
        actors = [p.relative_to(root / "source_videos").parts[0] for p in sources]
        splits = assign_splits([0] * len(sources), actors, 0.1, 0.2, seed)
        records += [
            VideoRecord(
                path=p,
                video_id=f"source/{p.relative_to(root / 'source_videos').with_suffix('')}",
                label=0,
                method="source",
                split=s,
                group=f"actor/{a}",
            )  # fmt: skip
            for p, a, s in zip(sources, actors, splits, strict=True)
        ]
    if not any(r.label == 0 for r in records):
        log.warning("DeeperForensics without reals: set data.layout.ffpp_originals=<FF++>/original_sequences/youtube/c23/videos "
                    "or data.layout.include_source_videos=true")  # fmt: skip
    return records
