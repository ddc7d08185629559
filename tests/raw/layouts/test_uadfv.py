"""UADFV layout: real/ and fake/, all test, a fake grouped with its real."""

from __future__ import annotations

from dfd.data.synthetic.mini import make_uadfv
from dfd.raw.layouts.uadfv import parse_uadfv
from tests.conftest import SPEC


def test_uadfv_is_a_test_set_with_fakes_grouped_with_their_reals(tmp_path):
    records = parse_uadfv(make_uadfv(tmp_path / "UADFV", n_pairs=2, spec=SPEC))
    assert sorted((r.video_id, r.label, r.split, r.group) for r in records) == [
        ("fake/0000_fake", 1, "test", "0000"), ("fake/0001_fake", 1, "test", "0001"),
        ("real/0000", 0, "test", "0000"), ("real/0001", 0, "test", "0001"),
    ]  # fmt: skip
    # each fake is made from the real of its number
    assert {r.video_id: r.made_from for r in records} == {
        "fake/0000_fake": "real/0000", "fake/0001_fake": "real/0001", "real/0000": "", "real/0001": "",
    }  # fmt: skip
