"""Celeb-DF layout: the official test list, the rest train."""

from __future__ import annotations

import pytest

from dfd.raw.layouts.celebdf import parse_celebdf
from dfd.raw.records import MISSING_FILE


def _bad(records):
    return {r.video_id: r.status for r in records if r.status != "ok"}


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


def test_each_celeb_synthesis_fake_is_made_from_the_celeb_real_clip_of_its_first_identity(celebdf_tree):
    records = [r for r in parse_celebdf(celebdf_tree) if r.status == "ok"]
    reals = {r.video_id for r in records if r.label == 0}
    fakes = [r for r in records if r.label == 1]
    assert fakes and all(r.made_from in reals for r in fakes)
    for r in fakes:  # Celeb-synthesis/idA_idB_clip ← Celeb-real/idA_clip
        a, _, clip = r.video_id.split("/")[1].split("_")
        assert r.made_from == f"Celeb-real/{a}_{clip}"
    assert not any(r.made_from for r in records if r.label == 0)
