"""DeeperForensics-1.0 layout: perturbation level as method, official 7:1:2 lists by FF++ target,
FF++ originals as reals in their target's split."""

from __future__ import annotations

import pytest

from dfd.data.synthetic.mini import make_deeperforensics
from dfd.raw.layouts.deeperforensics import parse_deeperforensics
from tests.conftest import SPEC


def test_levels_lists_and_ffpp_reals(tmp_path):
    root = make_deeperforensics(tmp_path / "DF1", n_targets=5, spec=SPEC)
    records = parse_deeperforensics(root, ffpp_originals=root / "ffpp_originals")
    fakes = [r for r in records if r.label == 1]
    reals = [r for r in records if r.label == 0]
    assert {r.method for r in fakes} == {"end_to_end", "end_to_end_level_3"} and len(fakes) == 10
    split_of = {r.group: r.split for r in fakes}
    assert split_of == {"000": "train", "001": "train", "002": "train", "003": "val", "004": "test"}
    assert {(r.group, r.split) for r in reals} == set(split_of.items())  # each real with its target
    assert all(r.source_id == f"original/{r.group}" for r in fakes)


def test_without_the_lists_targets_are_carved_whole(tmp_path, caplog):
    root = make_deeperforensics(tmp_path / "DF1", n_targets=5, lists=False, spec=SPEC)
    with caplog.at_level("WARNING"):
        records = parse_deeperforensics(root, levels=["end_to_end"], include_source_videos=True)
    assert "has no lists/splits/*.txt" in caplog.text
    fakes = [r for r in records if r.label == 1]
    assert {r.method for r in fakes} == {"end_to_end"} and {r.split for r in fakes} <= {
        "train",
        "val",
        "test",
    }
    assert sum(r.method == "source" for r in records) == 5


def test_an_absent_level_is_an_error_unless_verify_counts_a_partial_download(tmp_path):
    root = make_deeperforensics(tmp_path / "DF1", n_targets=2, spec=SPEC)
    levels = ["end_to_end", "end_to_end_level_5"]  # level 5 was not downloaded
    with pytest.raises(FileNotFoundError, match="end_to_end_level_5"):
        parse_deeperforensics(root, levels=levels)
    records = parse_deeperforensics(root, levels=levels, absent_ok=True)
    assert {r.method for r in records} == {"end_to_end"} and len(records) == 2
