"""FaceForensics++ layout parser (Rössler et al., "FaceForensics++: Learning to Detect
Manipulated Facial Images", ICCV 2019), including the DeepFakeDetection (DFD) subset.

Official splits come from ``splits/{train,val,test}.json``: a pair ``[a, b]`` puts real videos
``a`` and ``b`` and fakes ``a_b`` and ``b_a`` of every method into that split. Fake ``a_b`` is
the footage of ``a``: its ``source_id`` is the original ``a`` so face boxes can be reused. DFD
has no official split and is returned as ``test`` when ``include_dfd`` is set. A fake's mask video
(``manipulated_sequences/<method>/masks/videos/``), where shipped, is its ``mask_path``: in DFD's
scenes with several actors it says which face was swapped.
"""

from __future__ import annotations

from pathlib import Path

from dfd.raw.records import (
    MISSING_FILE,
    UNLISTED_FILE,
    VIDEO_EXTENSIONS,
    MetadataError,
    VideoRecord,
    list_files,
    read_json,
    require_dir,
)

FFPP_METHODS = ("Deepfakes", "Face2Face", "FaceSwap", "NeuralTextures", "FaceShifter")
#: The methods FF++ ships manipulation masks for (``manipulated_sequences/<method>/masks/videos``);
#: FaceShifter, added later, has none. DFD (``DeepFakeDetection``) has them too.
FFPP_MASK_METHODS = ("Deepfakes", "Face2Face", "FaceSwap", "NeuralTextures")
#: Methods only mini trees have (``python -m dfd.generate mini=ffpp 'mini.methods=[Temporal]'``):
#: the temporal-only fakes of docs/temporal.md. Never in the default list.
MINI_METHODS = ("Temporal",)
SPLITS = ("train", "val", "test")
ORIGINAL = "original"
DFD_METHOD = "DeepFakeDetection"


def read_split_pairs(root: Path) -> dict[str, list[tuple[str, str]]]:
    """Read ``splits/<split>.json`` (lists of id pairs) for train, val and test."""
    pairs: dict[str, list[tuple[str, str]]] = {}
    for split in SPLITS:
        path = root / "splits" / f"{split}.json"
        listed = read_json(path, f"FF++ split file ({split})")
        if not isinstance(listed, list) or not all(isinstance(p, list) and len(p) == 2 for p in listed):
            raise MetadataError(path, 'expected a list of id pairs like [["953", "974"], ...]')
        pairs[split] = [(str(a), str(b)) for a, b in listed]
    return pairs


def parse_ffpp(
    root: str | Path,
    methods: tuple[str, ...] | list[str] = FFPP_METHODS,
    compression: str = "c23",
    include_dfd: bool = False,
    absent_ok: bool = False,
) -> list[VideoRecord]:
    """List FF++ originals and fakes of ``methods`` at ``compression`` with their official split.

    Videos named in a split file but absent on disk come back with status ``missing_file``;
    videos on disk in no split come back with status ``unlisted_file``. A method (or the
    originals) whose folder is absent is an error naming the fix, except with ``absent_ok``
    (``dfd.verify`` on a partial download), where its videos are all ``missing_file``; a tree
    with none of the folders at ``compression`` is an error either way.
    """
    root = Path(root)
    unknown = set(methods) - set(FFPP_METHODS) - set(MINI_METHODS)
    if unknown:
        raise ValueError(
            f"unknown FF++ methods {sorted(unknown)}; data.layout.methods must be a subset of {list(FFPP_METHODS)}"
            f" (mini trees also: {list(MINI_METHODS)})"
        )
    pairs = read_split_pairs(root)
    originals_dir = root / "original_sequences" / "youtube" / compression / "videos"
    folders = {ORIGINAL: originals_dir}
    for method in methods:
        folders[method] = root / "manipulated_sequences" / method / compression / "videos"
    some_present = any(folder.is_dir() for folder in folders.values())
    if not originals_dir.is_dir() and not (absent_ok and some_present):
        have = sorted(p.parent.name for p in (root / "original_sequences" / "youtube").glob("*/videos"))
        raise FileNotFoundError(
            f"FF++ originals at compression {compression!r} not found: {originals_dir}. "
            + (
                f"This copy has {have}: add data.layout.compression={have[0]}"
                if have
                else "Check data.raw_dir"
            )
        )
    # expected video ids (per method) → (split, group)
    expected: dict[tuple[str, str], tuple[str, str]] = {}
    for split, split_pairs in pairs.items():
        for a, b in split_pairs:
            group = "_".join(sorted((a, b)))
            for vid in (a, b):
                expected[(ORIGINAL, vid)] = (split, group)
            for method in methods:
                for vid in (f"{a}_{b}", f"{b}_{a}"):
                    expected[(method, vid)] = (split, group)

    absent = [m for m in methods if not folders[m].is_dir()]
    if absent and not absent_ok:
        have = [m for m in methods if m not in absent]
        fix = (
            f"To use the methods this copy has, add 'data.layout.methods=[{','.join(have)}]'"
            if have
            else "None of the requested methods is there; check data.raw_dir and data.layout.compression"
        )
        raise FileNotFoundError(
            f"FF++ {', '.join(absent)} videos at compression {compression!r} not found "
            f"(e.g. {folders[absent[0]]}). {fix}"
        )
    on_disk = {
        (m, p.stem): p
        for m, folder in folders.items()
        if folder.is_dir()
        for p in list_files(folder, VIDEO_EXTENSIONS)
    }

    records = []
    for (method, vid), (split, group) in sorted(expected.items()):
        label = 0 if method == ORIGINAL else 1
        path = on_disk.get((method, vid), folders[method] / f"{vid}.mp4")
        records.append(
            VideoRecord(
                path=path,
                video_id=f"{method}/{vid}",
                label=label,
                method=method,
                split=split,
                group=group,
                compression=compression,
                source_id="" if label == 0 else f"{ORIGINAL}/{vid.split('_')[0]}",
                mask_path=_mask(root, method, vid) if label else None,
                status="ok" if (method, vid) in on_disk else MISSING_FILE,
                reason="" if (method, vid) in on_disk else f"listed in splits/*.json but {path} is missing",
            )
        )
    for (method, vid), path in sorted(on_disk.items()):
        if (method, vid) not in expected:
            records.append(
                VideoRecord(
                    path=path,
                    video_id=f"{method}/{vid}",
                    label=0 if method == ORIGINAL else 1,
                    method=method,
                    split="",
                    group=vid,
                    compression=compression,
                    status=UNLISTED_FILE,
                    reason="file is in no FF++ split file (splits/{train,val,test}.json)",
                )
            )
    if include_dfd:
        records += parse_dfd(root, compression)
    return records


def parse_dfd(root: str | Path, compression: str = "c23") -> list[VideoRecord]:
    """List the DeepFakeDetection subset: actor originals and their fakes, all ``test``.

    Originals are ``<actor>__<scene>.mp4``; fakes ``<target>_<source>__<scene>__<code>.mp4``.
    The group is the target actor, so every clip of an actor stays together.
    """
    root = Path(root)
    real_dir = require_dir(root / "original_sequences" / "actors" / compression / "videos", "DFD originals")
    fake_dir = require_dir(root / "manipulated_sequences" / DFD_METHOD / compression / "videos", "DFD fakes")
    records = []
    for label, method, folder in ((0, "DFD_original", real_dir), (1, DFD_METHOD, fake_dir)):
        for path in list_files(folder, VIDEO_EXTENSIONS):
            actor = path.stem.split("__")[0].split("_")[0]
            records.append(
                VideoRecord(
                    path=path,
                    video_id=f"{method}/{path.stem}",
                    label=label,
                    method=method,
                    split="test",
                    group=f"actor{actor}",
                    compression=compression,
                    # several actors share a scene: the mask says whose face was swapped
                    mask_path=_mask(root, DFD_METHOD, path.stem) if label else None,
                )
            )
    return records


def _mask(root: Path, method: str, stem: str) -> Path | None:
    """The manipulation mask video of fake ``stem`` (``manipulated_sequences/<method>/masks/videos/``), if shipped."""
    path = root / "manipulated_sequences" / method / "masks" / "videos" / f"{stem}.mp4"
    return path if path.is_file() else None
