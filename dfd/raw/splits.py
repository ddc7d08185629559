"""Split carving for datasets without an official validation (or any) split.

Splits are stratified by label and grouped by identity or pair with scikit-learn's
``StratifiedGroupKFold``, so no identity appears in two splits (a model that has seen a
person in training would otherwise be validated on that same person).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.model_selection import StratifiedGroupKFold


def carve(labels: Sequence[int], groups: Sequence[str], fraction: float, seed: int = 0) -> np.ndarray:
    """Boolean mask choosing about ``fraction`` of the items, stratified by label, whole groups only.

    With fewer groups than folds it still returns whole groups: at least one group is chosen
    whenever there are two or more groups.
    """
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"split fraction must be in (0, 1), got {fraction}")
    labels = np.asarray(labels)
    groups = np.asarray(groups, dtype=object)
    n_groups = len(set(groups.tolist()))
    mask = np.zeros(len(labels), dtype=bool)
    if n_groups < 2:
        return mask
    n_splits = int(min(max(2, round(1.0 / fraction)), n_groups))
    if np.unique(labels, return_counts=True)[1].min() < n_splits:
        # too few members of a class to stratify (StratifiedGroupKFold refuses): whole groups at random
        order = np.random.default_rng(seed).permutation(sorted(set(groups.tolist())))
        take = max(1, min(len(order) - 1, round(fraction * len(order))))
        return np.isin(groups, order[:take])
    # StratifiedGroupKFold only warns when a class has fewer groups than folds, which is fine here
    folds = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    _, chosen = next(folds.split(np.zeros(len(labels)), labels, groups))
    mask[chosen] = True
    return mask


def random_splits(rng: np.random.Generator, n: int, val_fraction: float, test_fraction: float) -> list[str]:
    """``train``/``val``/``test`` for items ``0 … n-1`` (one generated video each, no groups): in a
    random order drawn from ``rng``, the first ``max(1, round(n * val_fraction))`` are val, the next
    ``max(1, round(n * test_fraction))`` test, the rest train."""
    order = rng.permutation(n)
    n_val, n_test = max(1, round(n * val_fraction)), max(1, round(n * test_fraction))
    split = ["train"] * n
    for rank, item in enumerate(order):
        split[int(item)] = "val" if rank < n_val else "test" if rank < n_val + n_test else "train"
    return split


def assign_splits(
    labels: Sequence[int],
    groups: Sequence[str],
    val_fraction: float,
    test_fraction: float = 0.0,
    seed: int = 0,
) -> list[str]:
    """``train``/``val``/``test`` per item: test carved first (if asked), then val from the rest."""
    labels = np.asarray(labels)
    groups = np.asarray(groups, dtype=object)
    split = np.array(["train"] * len(labels), dtype=object)
    if test_fraction > 0:
        split[carve(labels, groups, test_fraction, seed)] = "test"
    rest = np.flatnonzero(split == "train")
    if val_fraction > 0 and len(rest):
        frac = val_fraction / (1.0 - test_fraction)
        split[rest[carve(labels[rest], groups[rest], frac, seed + 1)]] = "val"
    return split.tolist()
