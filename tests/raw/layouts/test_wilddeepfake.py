"""WildDeepfake layout: face sequences as frame lists, val carved from train by whole videos."""

from __future__ import annotations

import pytest

from dfd.data.synthetic.mini import make_wilddeepfake
from dfd.raw.layouts.wilddeepfake import parse_wilddeepfake
from tests.conftest import SPEC


def test_wilddeepfake_sequences_keep_their_frames_and_val_takes_whole_videos(tmp_path):
    root = make_wilddeepfake(
        tmp_path / "WildDeepfake", n_videos=4, sequences_per_video=2, frames=3, spec=SPEC
    )
    records = parse_wilddeepfake(root, val_fraction=0.3)
    assert len(records) == 16 and all(len(r.frames) == 3 and r.frames[0].suffix == ".png" for r in records)
    splits_of_group: dict[str, set[str]] = {}
    for r in records:
        splits_of_group.setdefault(r.group, set()).add(r.split)
    assert all(len(s) == 1 for s in splits_of_group.values())  # a video's sequences stay together
    assert {r.split for r in records} == {"train", "val", "test"}
    assert sum(r.split == "test" for r in records) == 4  # the shipped test folders


def test_packed_tarballs_are_named_with_the_command_that_unpacks_them(tmp_path):
    (tmp_path / "real_train").mkdir()
    (tmp_path / "real_train" / "real_train.tar.gz").write_bytes(b"")
    with pytest.raises(FileNotFoundError, match="holds tarballs but no frames: unpack them first"):
        parse_wilddeepfake(tmp_path)
