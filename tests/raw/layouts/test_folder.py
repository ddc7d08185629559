"""Folder layout: flat and split variants, metadata.json."""

from __future__ import annotations

from collections import Counter

from dfd.raw.layouts.folder import parse_folder
from dfd.raw.records import MISSING_FILE, UNLISTED_FILE


def _bad(records):
    return {r.video_id: r.status for r in records if r.status != "ok"}


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
    from tests.conftest import SPEC

    root = mini.make_folder(tmp_path / "f", n_images=2, n_videos=0, variant="split", spec=SPEC)
    records = parse_folder(root)
    assert Counter((r.split, r.label) for r in records) == {
        ("train", 0): 2,
        ("train", 1): 2,
        ("test", 0): 2,
        ("test", 1): 2,
    }
