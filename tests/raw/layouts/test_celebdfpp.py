"""Celeb-DF++ layout: scenario/method as method, the official test list (inverted labels), and a
subset shipped as face crops used whole, without detection."""

from __future__ import annotations

from dfd.data.synthetic.mini import make_celebdfpp
from dfd.raw.layouts.celebdfpp import parse_celebdfpp
from tests.conftest import SPEC


def test_methods_splits_and_a_cropped_subset(tmp_path, cropper):
    from dfd.preprocessing.manifest import read_manifest
    from dfd.preprocessing.options import PreprocessOptions
    from dfd.preprocessing.runner import run_preprocessing

    root = make_celebdfpp(tmp_path / "Celeb-DF++", spec=SPEC)
    records = parse_celebdfpp(root, cropped_methods=["TalkingFace/SadTalker"])
    by_id = {r.video_id: r for r in records}
    assert {r.method for r in records if r.label} == {
        "FaceSwap/SimSwap",
        "FaceReenact/LivePortrait",
        "TalkingFace/SadTalker",
    }
    assert (
        by_id["Celeb-real/id1_0000"].split == "test" and by_id["Celeb-real/id1_0000"].label == 0
    )  # "1" = real
    assert by_id["Celeb-synthesis/FaceSwap/SimSwap/id0_id1_0000"].split == "train"
    talking = by_id["Celeb-synthesis/TalkingFace/SadTalker/id0_0001"]
    assert talking.precropped and talking.split == "test" and not by_id["Celeb-real/id0_0000"].precropped
    run_preprocessing([talking], tmp_path / "crops", cropper, PreprocessOptions(num_frames=3), progress=False)
    rows, _ = read_manifest(tmp_path / "crops")
    assert (rows["status"] == "ok").sum() == 3 and (rows["x1"] == 0).all()  # the whole frame, no detection
    assert rows["reason"].str.contains("shipped as face crops").all()
