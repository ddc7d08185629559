"""Each layout parser against its generated mini tree: counts, labels, splits and bad entries."""

from __future__ import annotations

import json
import logging
import shutil
from collections import Counter

import pytest

from dfd.raw.layouts.celebdf import parse_celebdf
from dfd.raw.layouts.deepfakebench import parse_deepfakebench
from dfd.raw.layouts.dfdc import parse_dfdc
from dfd.raw.layouts.fakeavceleb import parse_fakeavceleb
from dfd.raw.layouts.ffpp import parse_ffpp
from dfd.raw.layouts.folder import parse_folder
from dfd.raw.records import MISSING_FILE, UNLISTED_FILE
from tests.data.conftest import FFPP_METHODS


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


def test_celebdf_test_list_is_test_and_rest_is_train(celebdf_tree):
    records = parse_celebdf(celebdf_tree)
    ok = [r for r in records if r.status == "ok"]
    # 3 ids × (1 real + 1 fake) + 2 YouTube + the truncated id3 real
    assert len(ok) == 9
    test = {r.video_id for r in ok if r.split == "test"}
    assert test == {"Celeb-real/id2_0000", "Celeb-synthesis/id2_id0_0000", "YouTube-real/00001"}
    assert {r.split for r in ok} == {"train", "test"}  # validation is carved later, never from test
    assert {r.video_id: r.label for r in ok if r.split == "test"} == {
        "Celeb-real/id2_0000": 0, "Celeb-synthesis/id2_id0_0000": 1, "YouTube-real/00001": 0}  # fmt: skip
    assert next(r for r in ok if r.video_id == "Celeb-synthesis/id1_id2_0000").group == "id1"
    assert _bad(records) == {"Celeb-synthesis/id9_id8_0000": MISSING_FILE}


def test_celebdf_missing_test_list_is_named(tmp_path):
    (tmp_path / "Celeb-real").mkdir()
    with pytest.raises(FileNotFoundError, match="List_of_testing_videos.txt"):
        parse_celebdf(tmp_path)


def test_dfdc_parts_split_and_fakes_follow_originals(dfdc_tree):
    records = parse_dfdc(dfdc_tree, val_parts=[1])
    ok = [r for r in records if r.status == "ok"]
    by_id = {r.video_id: r for r in records}
    assert Counter((r.split, r.label) for r in ok) == {
        ("train", 0): 3,  # p0real0, silent, empty (empty is caught at decode time, not here)
        ("train", 1): 2,
        ("val", 0): 1,
        ("val", 1): 2,
        ("test", 0): 1,
        ("test", 1): 1,
    }
    assert by_id["p1fake01"].group == "p1real0" and by_id["p1fake01"].split == "val"
    assert all(r.has_audio for r in records)
    assert _bad(records) == {"ghost": MISSING_FILE, "stray": UNLISTED_FILE}


def test_dfdc_missing_metadata_is_named(dfdc_tree, tmp_path):
    (tmp_path / "dfdc_train_part_3").mkdir()
    with pytest.raises(FileNotFoundError, match="dfdc_train_part_3/metadata.json"):
        parse_dfdc(tmp_path)


def test_fakeavceleb_categories_and_identity_groups(fakeavceleb_tree):
    records = parse_fakeavceleb(fakeavceleb_tree, val_fraction=0.2, test_fraction=0.2)
    ok = [r for r in records if r.status == "ok"]
    assert len(ok) == 5 * 4 + 1  # 4 categories per identity + the silent id77777 real
    assert sum(r.label == 0 for r in ok) == 6  # only category A is real
    splits_of_group = {}
    for r in ok:
        splits_of_group.setdefault(r.group, set()).add(r.split)
    assert all(len(s) == 1 for s in splits_of_group.values()), splits_of_group
    assert {r.split for r in ok} == {"train", "val", "test"}
    bad = _bad(records)
    assert sorted(bad.values()) == [MISSING_FILE, UNLISTED_FILE]
    assert any("id88888" in v for v, s in bad.items() if s == UNLISTED_FILE)


def test_folder_flat_with_metadata(folder_tree):
    records = parse_folder(folder_tree, val_fraction=0.25)
    ok = [r for r in records if r.status == "ok"]
    assert Counter((r.label, r.is_image) for r in ok) == {
        (0, True): 4,
        (1, True): 4,
        (0, False): 1,
        (1, False): 1,
    }
    assert {r.split for r in ok} == {"train", "val"}
    assert _bad(records) == {"ghost": MISSING_FILE, "real/stray": UNLISTED_FILE}


def test_folder_split_variant(tmp_path):
    from dfd.data.synthetic import mini
    from tests.data.conftest import SPEC

    root = mini.make_folder(tmp_path / "f", n_images=2, n_videos=0, variant="split", spec=SPEC)
    records = parse_folder(root)
    assert Counter((r.split, r.label) for r in records) == {
        ("train", 0): 2,
        ("train", 1): 2,
        ("test", 0): 2,
        ("test", 1): 2,
    }


def test_deepfakebench_resolves_foreign_paths(deepfakebench_tree):
    records = parse_deepfakebench(
        deepfakebench_tree / "dataset_json" / "FaceForensics++.json", deepfakebench_tree / "rgb"
    )
    assert len(records) == 8 and all(r.status == "ok" for r in records)
    assert all(len(r.frames) == 2 and all(p.is_file() for p in r.frames) for r in records)
    assert Counter((r.split, r.label) for r in records) == {
        ("train", 0): 2,
        ("train", 1): 2,
        ("val", 0): 1,
        ("val", 1): 1,
        ("test", 0): 1,
        ("test", 1): 1,
    }
    assert {r.compression for r in records} == {"c23"}


def test_deepfakebench_val_equal_to_test_warns_and_is_carved_from_train(deepfakebench_tree, caplog):
    with caplog.at_level(logging.WARNING):
        records = parse_deepfakebench(
            deepfakebench_tree / "dataset_json" / "Celeb-DF-v2.json",
            deepfakebench_tree / "rgb",
            val_fraction=0.34,
        )
    assert "val split equals its test split" in caplog.text
    test = {r.video_id for r in records if r.split == "test"}
    val = {r.video_id for r in records if r.split == "val"}
    assert val and not (val & test)
    assert len(records) == 8  # test videos counted once, not again as val


def test_deepfakebench_unresolvable_frames_are_reported(deepfakebench_tree, tmp_path):
    data = json.loads((deepfakebench_tree / "dataset_json" / "FaceForensics++.json").read_text())
    path = tmp_path / "ff.json"
    path.write_text(json.dumps(data))
    records = parse_deepfakebench(path, tmp_path / "elsewhere")
    assert {r.status for r in records} == {MISSING_FILE}
    assert "data.frames_root" in records[0].reason


def test_shards_are_disjoint_complete_and_keep_fakes_with_their_original(ffpp_tree):
    from dfd.preprocessing.runner import select_shard

    records = parse_ffpp(ffpp_tree, methods=FFPP_METHODS)
    shards = [select_shard(records, i, 3) for i in range(3)]
    ids = [{r.video_id for r in s} for s in shards]
    assert sum(len(s) for s in ids) == len(records) and set().union(*ids) == {r.video_id for r in records}
    assert all(len(s) > 0 for s in ids)
    for s in ids:
        for vid in s:
            if vid.startswith("Deepfakes/"):
                assert f"original/{vid.split('/')[1].split('_')[0]}" in s
    with pytest.raises(ValueError, match="preprocess.shard=3"):
        select_shard(records, 3, 3)
