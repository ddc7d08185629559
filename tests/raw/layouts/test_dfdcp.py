"""DFDC preview layout: dataset.json's set field is the split, target_id the group."""

from __future__ import annotations

import json

import pytest

from dfd.data.synthetic.mini import make_dfdcp
from dfd.raw.layouts.dfdcp import parse_dfdcp
from dfd.raw.records import MetadataError
from tests.conftest import SPEC


def test_dfdcp_splits_by_set_and_groups_by_target(tmp_path):
    root = make_dfdcp(tmp_path / "DFDCP", n_targets=3, spec=SPEC)
    records = parse_dfdcp(root)
    assert len(records) == 9 and all(r.status == "ok" for r in records)
    test = [r for r in records if r.split == "test"]
    assert {r.group for r in test} == {"640002"} and sorted(r.label for r in test) == [0, 1, 1]
    assert {r.method for r in records} == {"original", "method_A", "method_B"}
    # an entry whose file is gone is kept, with the reason
    meta = json.loads((root / "dataset.json").read_text())
    meta["method_A/640000/ghost.mp4"] = {"label": "fake", "set": "train", "target_id": "640000"}
    (root / "dataset.json").write_text(json.dumps(meta))
    ghost = next(r for r in parse_dfdcp(root) if r.video_id.endswith("ghost"))
    assert ghost.status == "missing_file" and "dataset.json" in ghost.reason


def test_a_dfdcp_entry_without_a_known_set_is_named(tmp_path):
    (tmp_path / "dataset.json").write_text(json.dumps({"method_A/x.mp4": {"label": "fake", "set": "dev"}}))
    with pytest.raises(
        MetadataError, match=r"dataset.json: entry 'method_A/x.mp4': expected label real\|fake"
    ):
        parse_dfdcp(tmp_path)
