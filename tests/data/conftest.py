"""Mini raw trees in every layout, generated once per test session (small frames, few videos)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dfd.data.synthetic import mini

#: Small but detectable: faces are ~40% of a 160 px high frame.
SPEC = mini.VideoSpec(width=192, height=144, n_frames=8, fps=8)
FFPP_METHODS = ("Deepfakes", "FaceSwap")


@pytest.fixture(scope="session")
def ffpp_tree(tmp_path_factory) -> Path:
    """FF++: 3 pairs (1 train, 1 val, 1 test) × 2 methods, plus the corrupt pair and DFD."""
    root = tmp_path_factory.mktemp("raw") / "FaceForensics++"
    return mini.make_ffpp(
        root,
        n_pairs=3,
        methods=FFPP_METHODS,
        split_pairs=(1, 1, 1),
        include_dfd=True,
        corrupt=True,
        spec=SPEC,
    )


@pytest.fixture(scope="session")
def celebdf_tree(tmp_path_factory) -> Path:
    return mini.make_celebdf(
        tmp_path_factory.mktemp("raw") / "Celeb-DF-v2",
        n_ids=3,
        videos_per_id=1,
        n_youtube=2,
        corrupt=True,
        spec=SPEC,
    )


@pytest.fixture(scope="session")
def dfdc_tree(tmp_path_factory) -> Path:
    return mini.make_dfdc(
        tmp_path_factory.mktemp("raw") / "dfdc",
        n_parts=2,
        originals_per_part=1,
        fakes_per_original=2,
        n_test=2,
        corrupt=True,
        spec=SPEC,
    )


@pytest.fixture(scope="session")
def fakeavceleb_tree(tmp_path_factory) -> Path:
    return mini.make_fakeavceleb(
        tmp_path_factory.mktemp("raw") / "FakeAVCeleb_v1.2", n_ids=5, corrupt=True, spec=SPEC
    )


@pytest.fixture(scope="session")
def folder_tree(tmp_path_factory) -> Path:
    return mini.make_folder(
        tmp_path_factory.mktemp("raw") / "folder", n_images=4, n_videos=1, corrupt=True, spec=SPEC
    )


@pytest.fixture(scope="session")
def deepfakebench_tree(tmp_path_factory) -> Path:
    return mini.make_deepfakebench(
        tmp_path_factory.mktemp("raw") / "DeepfakeBench", n_videos=4, frames_per_video=2, spec=SPEC
    )


@pytest.fixture(scope="session")
def cropper():
    from dfd.preprocessing.faces import FaceCropper

    return FaceCropper(size=96)
