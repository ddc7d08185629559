"""What each dataset's owners publish: the video counts a complete raw copy holds, per split and
method, with the source of every number. :mod:`dfd.raw.verify` compares a tree against them.

The official metadata and split files of each layout are listed too (:data:`OFFICIAL_FILES`).

A count matches records by split (one, several, or ``None``: any), by method (a record's ``method`` equal to one
of ``methods``, or starting with ``<method>:`` or ``<method>/``, as FakeAVCeleb's ``FVFA:wav2lip`` and Celeb-DF++'s ``FaceSwap/SimSwap``) and by label.
``approx`` marks counts that the sources give only roughly, or that vary between releases: a
shortfall there is reported but is not a failure under ``strict=true``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from dfd.raw.records import VideoRecord


@dataclass(frozen=True)
class Expect:
    """``n`` videos of ``methods`` (and ``label``) in ``split``."""

    what: str
    n: int
    split: str | tuple[str, ...] | None = None
    methods: tuple[str, ...] = ()
    label: int | None = None
    approx: bool = False

    def matches(self, r: VideoRecord) -> bool:
        splits = (self.split,) if isinstance(self.split, str) else self.split
        if splits is not None and r.split not in splits:
            return False
        if self.label is not None and r.label != self.label:
            return False
        return not self.methods or any(
            r.method == m or r.method.startswith((m + ":", m + "/")) for m in self.methods
        )


def _ffpp(methods: tuple[str, ...] | list[str] = (), include_dfd: bool = False, **_: object) -> list[Expect]:
    # Rössler et al., ICCV 2019, and the official split files of github.com/ondyari/FaceForensics
    # (dataset/splits/{train,val,test}.json: 360/70/70 id pairs). A pair [a, b] holds originals a and
    # b and fakes a_b and b_a, so every method and the originals have 720/140/140 videos per
    # compression (1,000 in all); FaceShifter, added in the 2020 release, follows the same pairs.
    out = []
    for split, n in (("train", 720), ("val", 140), ("test", 140)):
        out.append(Expect(f"original {split}", n, split, ("original",)))
        for m in methods:
            out.append(Expect(f"{m} {split}", n, split, (m,)))
    if include_dfd:
        out += _dfd()
    return out


def _dfd(**_: object) -> list[Expect]:
    # The DeepFakeDetection release inside FF++ (Google/Jigsaw, 2019; FF++ download script, DFD
    # section): 363 actor videos and 3,068 manipulated videos per compression. No official split.
    return [
        Expect("DFD originals (test)", 363, "test", ("DFD_original",)),
        Expect("DFD fakes (test)", 3068, "test", ("DeepFakeDetection",)),
    ]


def _celebdf(**_: object) -> list[Expect]:
    # Li et al., CVPR 2020 (Celeb-DF v2): 590 Celeb-real, 300 YouTube-real and 5,639
    # Celeb-synthesis videos; List_of_testing_videos.txt has 518 lines, 178 real and 340 fake.
    return [
        Expect("Celeb-real (all splits)", 590, None, ("Celeb-real",)),
        Expect("YouTube-real (all splits)", 300, None, ("YouTube-real",)),
        Expect("Celeb-synthesis (all splits)", 5639, None, ("Celeb-synthesis",)),
        Expect("test list, real", 178, "test", label=0),
        Expect("test list, fake", 340, "test", label=1),
    ]


def _dfdc(**_: object) -> list[Expect]:
    # Dolhansky et al., arXiv:2006.07397 (2020), section 4: the training set's 50 parts hold
    # 119,154 clips, 100,000 fake and 19,154 real; the public test set has 5,000 clips
    # (test/labels.csv). Which parts are validation is a config choice, so counts are over both.
    return [
        Expect("training parts, real (train + val)", 19154, ("train", "val"), ("original",), label=0),
        Expect("training parts, fake (train + val)", 100000, ("train", "val"), ("DFDC",), label=1),
        Expect("public test set", 5000, "test"),
    ]


def _dfdcp(**_: object) -> list[Expect]:
    # Dolhansky et al., "The Deepfake Detection Challenge (DFDC) Preview Dataset", arXiv:1910.08854
    # (2019): 5,214 videos (1,131 original, 4,113 fake from methods A and B). The paper gives no
    # test-set size: 276 real and 501 fake are the "set": "test" entries of the released
    # dataset.json as DeepfakeBench (Yan et al., NeurIPS 2023 Datasets and Benchmarks,
    # github.com/SCLBD/DeepfakeBench) counts its DFDCP test set; approximate.
    return [
        Expect("originals (all sets)", 1131, None, ("original",), approx=True),
        Expect("fakes, methods A and B (all sets)", 4113, None, ("method_A", "method_B"), approx=True),
        Expect("test set, real", 276, "test", label=0, approx=True),
        Expect("test set, fake", 501, "test", label=1, approx=True),
    ]


def _fakeavceleb(**_: object) -> list[Expect]:
    # Khalid et al., NeurIPS 2021 Datasets and Benchmarks, table 2 (v1.2): 500 RealVideo-RealAudio,
    # 500 RealVideo-FakeAudio, 9,000 FakeVideo-RealAudio, 10,000 FakeVideo-FakeAudio.
    return [
        Expect("A RealVideo-RealAudio", 500, None, ("RVRA",)),
        Expect("B RealVideo-FakeAudio", 500, None, ("RVFA",)),
        Expect("C FakeVideo-RealAudio", 9000, None, ("FVRA",), approx=True),
        Expect("D FakeVideo-FakeAudio", 10000, None, ("FVFA",), approx=True),
    ]


def _uadfv(**_: object) -> list[Expect]:
    # Yang, Li and Lyu, ICASSP 2019 ("Exposing deep fakes using inconsistent head poses"):
    # 49 real and 49 fake videos.
    return [
        Expect("real (test)", 49, "test", label=0),
        Expect("fake (test)", 49, "test", label=1),
    ]


#: The 11 folders of manipulated_videos/ in the official release, 1,000 videos each.
DEEPERFORENSICS_LEVELS = (
    "end_to_end",
    "reenact_postprocess",
    *(f"end_to_end_level_{i}" for i in range(1, 6)),
    "end_to_end_random_level",
    *(f"end_to_end_mix_{j}_distortions" for j in range(2, 5)),
)


def _deeperforensics(levels: list[str] | None = None, **_: object) -> list[Expect]:
    # Jiang et al., CVPR 2020, and the dataset page github.com/EndlessSora/DeeperForensics-1.0
    # (dataset/README.md, "Manipulated videos"): 11,000 manipulated videos in 11 folders
    # (end_to_end, reenact_postprocess, end_to_end_level_1..5, end_to_end_random_level,
    # end_to_end_mix_2..4_distortions), "each type of variants ... contains 1,000 videos"; the
    # official lists/splits hold them 7:1:2 by target id. levels=null (every level) expects all 11.
    return [
        Expect(f"{level} (all splits)", 1000, None, (level,)) for level in levels or DEEPERFORENSICS_LEVELS
    ]


def _wilddeepfake(**_: object) -> list[Expect]:
    # Zi et al., ACM MM 2020: 7,314 face sequences from 707 videos, 3,805 real and 3,509 fake.
    return [
        Expect("real sequences (all splits)", 3805, None, label=0, approx=True),
        Expect("fake sequences (all splits)", 3509, None, label=1, approx=True),
    ]


def _avdeepfake(root: str | None = None, **_: object) -> list[Expect]:
    # One parser reads both; the tree says which: LAV-DF ships one metadata.json, AV-Deepfake1M
    # {train,val,test}_metadata.json.
    if root is not None and not (Path(root) / "metadata.json").is_file():
        # AV-Deepfake1M (Cai et al., ACM MM 2024, arXiv:2311.15308, dataset statistics): 746,180
        # train and 57,340 validation videos; the 343,240 test videos come without labels, and the
        # parser skips them, so they are not counted here.
        return [Expect("train", 746180, "train"), Expect("val", 57340, "val")]
    # LAV-DF (Cai et al., DICTA 2022): 136,304 videos, 78,703 train, 31,501 dev, 26,100 test.
    return [Expect("train", 78703, "train"), Expect("dev (val)", 31501, "val"), Expect("test", 26100, "test")]


def _celebdfpp(**_: object) -> list[Expect]:
    # Li et al. 2025 (Celeb-DF++ README, "Training and Testing Split"): the test list holds Celeb-DF's
    # 178 real videos and 200 videos per face-swap method (8), 200 per face-reenactment method (7)
    # and 300 per talking-face method (7).
    return [
        Expect("test, real", 178, "test", label=0),
        Expect("test, FaceSwap (8 methods)", 1600, "test", ("FaceSwap",)),
        Expect("test, FaceReenact (7 methods)", 1400, "test", ("FaceReenact",)),
        Expect("test, TalkingFace (7 methods)", 2100, "test", ("TalkingFace",)),
    ]


#: layout config target (``data.layout._target_``) → the expected counts for its arguments
EXPECTED = {
    "dfd.raw.layouts.ffpp.parse_ffpp": _ffpp,
    "dfd.raw.layouts.ffpp.parse_dfd": _dfd,
    "dfd.raw.layouts.celebdf.parse_celebdf": _celebdf,
    "dfd.raw.layouts.dfdc.parse_dfdc": _dfdc,
    "dfd.raw.layouts.dfdcp.parse_dfdcp": _dfdcp,
    "dfd.raw.layouts.fakeavceleb.parse_fakeavceleb": _fakeavceleb,
    "dfd.raw.layouts.uadfv.parse_uadfv": _uadfv,
    "dfd.raw.layouts.deeperforensics.parse_deeperforensics": _deeperforensics,
    "dfd.raw.layouts.wilddeepfake.parse_wilddeepfake": _wilddeepfake,
    "dfd.raw.layouts.avdeepfake.parse_avdeepfake": _avdeepfake,
    "dfd.raw.layouts.celebdfpp.parse_celebdfpp": _celebdfpp,
}


#: layout config target → the official metadata and split files (globs, relative to the raw
#: folder) and whether the layout needs them; verify checks each is present and parseable
OFFICIAL_FILES: dict[str, list[tuple[str, bool]]] = {
    "dfd.raw.layouts.ffpp.parse_ffpp": [
        ("splits/train.json", True),
        ("splits/val.json", True),
        ("splits/test.json", True),
    ],
    "dfd.raw.layouts.celebdf.parse_celebdf": [("List_of_testing_videos.txt", True)],
    "dfd.raw.layouts.celebdfpp.parse_celebdfpp": [("List_of_testing_videos.txt", True)],
    "dfd.raw.layouts.dfdc.parse_dfdc": [
        ("dfdc_train_part_*/metadata.json", True),
        ("test/labels.csv", False),
    ],
    "dfd.raw.layouts.dfdcp.parse_dfdcp": [("dataset.json", True)],
    "dfd.raw.layouts.fakeavceleb.parse_fakeavceleb": [("meta_data.csv", True)],
    "dfd.raw.layouts.folder.parse_folder": [("metadata.json", False)],
    "dfd.raw.layouts.deeperforensics.parse_deeperforensics": [
        ("lists/splits/train.txt", True),
        ("lists/splits/val.txt", True),
        ("lists/splits/test.txt", True),
    ],
    "dfd.raw.layouts.avdeepfake.parse_avdeepfake": [("metadata.json", False), ("*_metadata.json", False)],
}


#: layout config target → what stands in for published counts, printed by verify instead of a table
NO_COUNTS_NOTE = {
    # DF40 (Yan et al., NeurIPS 2024) and DeepfakeBench's other JSONs publish no per-file video
    # counts: each dataset JSON lists its videos and frames, so it is the expectation.
    "dfd.raw.layouts.deepfakebench.parse_deepfakebench": (
        "no published video counts for DeepfakeBench-format data (DF40 among them): the dataset JSON "
        "(data.layout.json_path) is the expectation; a video whose frames are not on disk is missing"
    ),
}


def expected_counts(target: str, **layout_args: object) -> list[Expect]:
    """The published counts for the layout parser ``target`` called with ``layout_args`` ([] for
    layouts without published counts, such as generic folders)."""
    make = EXPECTED.get(target)
    return make(**layout_args) if make else []
