"""FF++ layout: official pair splits, missing split files and methods named with the fix."""

from __future__ import annotations

import shutil
from collections import Counter

import pytest

from dfd.raw.layouts.ffpp import parse_ffpp
from dfd.raw.records import MISSING_FILE, UNLISTED_FILE
from tests.conftest import FFPP_METHODS


def _bad(records):
    return {r.video_id: r.status for r in records if r.status != "ok"}


def test_ffpp_pairs_put_reals_and_both_fakes_in_one_split(ffpp_tree):
    records = parse_ffpp(ffpp_tree, methods=FFPP_METHODS, include_dfd=True)
    ok = [r for r in records if r.status == "ok"]
    by_id = {r.video_id: r for r in records}
    # 3 pairs + corrupt pair (990, 991): 8 originals listed, 2 fakes per pair and method
    assert sum(r.method == "original" and bool(r.split) for r in records) == 8
    assert sum(r.label == 1 and r.method in FFPP_METHODS for r in records) == 4 * 2 * 2
    assert Counter(r.split for r in ok if r.method != "DFD_original" and r.method != "DeepFakeDetection") == {
        "train": 2 + 4 + 2 + 3,  # pair 000/001 (2 reals, 4 fakes) + corrupt pair minus 1 missing fake
        "val": 6,
        "test": 6,
    }
    assert (
        by_id["original/002"].split
        == by_id["Deepfakes/002_003"].split
        == by_id["FaceSwap/003_002"].split
        == "val"
    )
    assert by_id["Deepfakes/002_003"].source_id == "original/002"
    assert by_id["Deepfakes/002_003"].group == by_id["original/003"].group
    assert _bad(records) == {"Deepfakes/991_990": MISSING_FILE, "original/998": UNLISTED_FILE}
    dfd = [r for r in records if r.method in ("DFD_original", "DeepFakeDetection")]
    assert len(dfd) == 4 and {r.split for r in dfd} == {"test"} and sum(r.label for r in dfd) == 2


def test_ffpp_missing_split_file_is_named(ffpp_tree, tmp_path):
    root = tmp_path / "ff"
    shutil.copytree(ffpp_tree / "splits", root / "splits")
    (root / "splits" / "val.json").unlink()
    with pytest.raises(FileNotFoundError, match="val.json"):
        parse_ffpp(root)
    (root / "splits" / "val.json").write_text("[]")
    with pytest.raises(FileNotFoundError, match="original_sequences/youtube/c23/videos"):
        parse_ffpp(root)


def test_the_dfd_subset_is_read_at_the_chosen_compression(tmp_path):
    from dfd.data.synthetic import mini

    spec = mini.VideoSpec(width=96, height=72, n_frames=2, fps=4)
    root = mini.make_ffpp(tmp_path / "ff", n_pairs=3, methods=("Deepfakes",), compression="c40", include_dfd=True,
                          split_pairs=(1, 1, 1), spec=spec)  # fmt: skip
    records = parse_ffpp(root, methods=("Deepfakes",), compression="c40", include_dfd=True)
    dfd = [r for r in records if r.method in ("DFD_original", "DeepFakeDetection")]
    assert dfd and {r.compression for r in dfd} == {"c40"} and all(r.status == "ok" for r in dfd)
    assert all("/c40/" in str(r.path) for r in dfd)


def test_the_manifest_names_each_fakes_original_as_its_source_video(ffpp_tree):
    from dfd.preprocessing.manifest import base_row

    records = parse_ffpp(ffpp_tree, methods=FFPP_METHODS)
    rows = {r.video_id: (r.split, base_row(r)["source_video"]) for r in records if r.status == "ok"}
    fakes = {v: s for v, s in rows.items() if not v.startswith("original/")}
    assert fakes and all(
        source == f"original/{v.split('/')[1].split('_')[0]}" for v, (_, source) in fakes.items()
    )
    # the original is in the fake's split, and reals have no source
    assert all(rows[source][0] == split for split, source in fakes.values())
    assert all(source == "" for v, (_, source) in rows.items() if v.startswith("original/"))


def test_mini_trees_temporal_fakes_are_an_ffpp_method_and_unknown_names_are_refused(tmp_path):
    from dfd.data.synthetic import mini

    spec = mini.VideoSpec(width=96, height=72, n_frames=2, fps=4)
    root = mini.make_ffpp(tmp_path / "ff", n_pairs=3, methods=("Temporal",), split_pairs=(1, 1, 1), spec=spec)
    records = parse_ffpp(root, methods=("Temporal",))
    assert Counter((r.method, r.label) for r in records if r.status == "ok") == {
        ("original", 0): 6,
        ("Temporal", 1): 6,
    }
    with pytest.raises(ValueError, match=r"data\.layout\.methods.*Temporal"):
        parse_ffpp(root, methods=("Temporl",))
