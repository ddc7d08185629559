"""Celeb-DF++ layout parser (Li, Zhu, Cui and Lyu, "Celeb-DF++: A Large-scale Challenging Video
DeepFake Benchmark for Generalizable Forensics", 2025; the layout of its README).

``Celeb-real/`` and ``YouTube-real/`` as in Celeb-DF v2, and 22 methods in three scenarios under
``Celeb-synthesis/<scenario>/<method>/`` (``FaceSwap``: Celeb-DF, BlendFace, GHOST, …;
``FaceReenact``: DaGAN, LivePortrait, …; ``TalkingFace``: SadTalker, EchoMimic, …). A fake's
``method`` is ``<scenario>/<method>``, so results by method and by scenario read off the manifest.
Test is ``List_of_testing_videos.txt`` (Celeb-DF's format and inverted labels: ``1`` = real);
everything else is train, val carved from it by identity. Subsets that ship already-cropped faces
are named in ``cropped_methods`` (``<scenario>/<method>`` or ``<method>``): their frames are used
whole, without face detection.
"""

from __future__ import annotations

from pathlib import Path

from dfd.raw.layouts.celebdf import FOLDERS, TEST_LIST, identity_group, read_test_list
from dfd.raw.records import MISSING_FILE, VIDEO_EXTENSIONS, VideoRecord, list_files

SYNTHESIS = "Celeb-synthesis"
SCENARIOS = ("FaceSwap", "FaceReenact", "TalkingFace")
REALS = {k: v for k, v in FOLDERS.items() if v[0] == 0}


def parse_celebdfpp(root: str | Path, cropped_methods: list[str] | tuple[str, ...] = ()) -> list[VideoRecord]:
    """List Celeb-DF++ reals and the fakes of every scenario and method, test = the official list."""
    root = Path(root)
    test = read_test_list(root)
    synthesis = root / SYNTHESIS
    methods = [
        (s, m.name)
        for s in SCENARIOS
        if (synthesis / s).is_dir()
        for m in sorted((synthesis / s).iterdir())
        if m.is_dir()
    ]
    if not methods:
        raise FileNotFoundError(
            f"no {SYNTHESIS}/<{'|'.join(SCENARIOS)}>/<method>/ folders under {root}: is this Celeb-DF++ (data=celebdf reads v1/v2)?"
        )
    cropped = set(cropped_methods)
    records, seen = [], set()
    for folder, (label, method) in REALS.items():
        for path in list_files(root / folder, VIDEO_EXTENSIONS):
            rel = f"{folder}/{path.name}"
            seen.add(rel)
            records.append(VideoRecord(path=path, video_id=f"{folder}/{path.stem}", label=label, method=method,
                                       split="test" if rel in test else "train", group=identity_group(folder, path.stem)))  # fmt: skip
    for scenario, method in methods:
        name = f"{scenario}/{method}"
        for path in sorted(
            p for p in (synthesis / scenario / method).rglob("*") if p.suffix.lower() in VIDEO_EXTENSIONS
        ):
            rel = str(path.relative_to(root))
            seen.add(rel)
            records.append(
                VideoRecord(
                    path=path,
                    video_id=str(path.relative_to(root).with_suffix("")),
                    label=1,
                    method=name,
                    split="test" if rel in test else "train",
                    group=path.stem.split("_")[0],
                    precropped=name in cropped or method in cropped,
                )  # fmt: skip
            )
    for rel, label in sorted(test.items()):
        if rel not in seen:
            records.append(
                VideoRecord(
                    path=root / rel,
                    video_id=str(Path(rel).with_suffix("")),
                    label=label,
                    method=str(Path(rel).parent.relative_to(SYNTHESIS))
                    if rel.startswith(SYNTHESIS)
                    else rel.split("/")[0],
                    split="test",
                    group=Path(rel).stem.split("_")[0],
                    status=MISSING_FILE,
                    reason=f"listed in {TEST_LIST} but {root / rel} is missing",
                )  # fmt: skip
            )
    return records
