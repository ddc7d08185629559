"""Split carving: whole groups, both labels, no group in two splits; the generated datasets' random splits."""

from __future__ import annotations

import numpy as np
import pytest

from dfd.data.datamodule import carve_val_if_missing
from dfd.raw.splits import assign_splits, carve, random_splits
from tests.conftest import manifest_rows


def test_carved_val_keeps_groups_whole_and_both_labels():
    rows = carve_val_if_missing(manifest_rows(), val_fraction=0.25, seed=3)
    splits_per_group = rows.groupby("group")["split"].nunique()
    assert (splits_per_group == 1).all()
    val = rows[rows["split"] == "val"]
    assert set(val["label"]) == {0, 1} and 2 <= val["group"].nunique() <= 4
    assert (rows[rows["group"] == "id0"]["split"] == "test").all()  # test is never touched


@pytest.mark.parametrize("seed", range(5))
def test_assign_splits_no_group_crosses_two_splits(seed):
    rng = np.random.default_rng(seed)
    groups = [f"id{g}" for g in rng.integers(0, 15, size=80)]
    labels = rng.integers(0, 2, size=80).tolist()
    splits = assign_splits(labels, groups, val_fraction=0.15, test_fraction=0.2, seed=seed)
    seen: dict[str, set[str]] = {}
    for g, s in zip(groups, splits, strict=True):
        seen.setdefault(g, set()).add(s)
    assert all(len(s) == 1 for s in seen.values())
    assert set(splits) == {"train", "val", "test"}


def test_too_few_members_to_stratify_still_carves_whole_groups():
    # one real and one fake: StratifiedGroupKFold refuses; a random whole group is taken instead
    labels, groups = [0, 1, 1], ["a", "b", "b"]
    mask = carve(labels, groups, 0.3, seed=0)
    assert 0 < mask.sum() < 3 and mask[1] == mask[2]


def test_random_splits_give_the_rounded_counts_at_least_one_each_and_repeat_with_the_seed():
    split = random_splits(np.random.default_rng(3), 120, val_fraction=0.2, test_fraction=0.1)
    assert (split.count("val"), split.count("test"), split.count("train")) == (24, 12, 84)
    assert split == random_splits(np.random.default_rng(3), 120, 0.2, 0.1)
    assert split != random_splits(np.random.default_rng(4), 120, 0.2, 0.1)
    assert split[:24] != ["val"] * 24  # shuffled, not the first items
    tiny = random_splits(np.random.default_rng(0), 3, val_fraction=0.01, test_fraction=0.01)
    assert sorted(tiny) == ["test", "train", "val"]
