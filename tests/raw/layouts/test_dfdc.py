"""DFDC layout: parts to splits, fakes follow their originals."""

from __future__ import annotations

from collections import Counter

import pytest

from dfd.raw.layouts.dfdc import parse_dfdc
from dfd.raw.records import MISSING_FILE, UNLISTED_FILE


def _bad(records):
    return {r.video_id: r.status for r in records if r.status != "ok"}


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
