"""The members table: intervals that contain the AUC, DeLong against the member best on validation."""

from __future__ import annotations

import numpy as np
import pytest

from dfd.reports.ensemble import (
    ENSEMBLE,
    by_method_markdown,
    member_rows,
    members_by_method,
    members_markdown,
)


def _scores(seed: int = 0):
    rng = np.random.default_rng(seed)
    y = np.array([0] * 150 + [1] * 150)
    good = np.clip(0.5 + 0.3 * (y - 0.5) + rng.normal(0, 0.2, 300), 0.01, 0.99)
    weak = np.clip(0.5 + 0.1 * (y - 0.5) + rng.normal(0, 0.2, 300), 0.01, 0.99)
    return {"good": good, "weak": weak, ENSEMBLE: np.clip(good + 0.05 * (y - 0.5), 0.01, 0.99)}, y


def test_rows_hold_intervals_delong_against_the_named_best_member_and_weights() -> None:
    probs, y = _scores()
    rows = member_rows(probs, y, best_member="good", weights={"good": 0.8, "weak": 0.2}, n_boot=200)
    by = {r["detector"]: r for r in rows}
    for r in rows:
        assert r["auc_low"] <= r["auc"] <= r["auc_high"]
    assert by["good"]["best_member"] and not by["weak"]["best_member"]
    assert 0 <= by[ENSEMBLE]["delong_p_vs_best"] < 0.05  # the ensemble is clearly better than "good"
    assert by["weak"]["auc"] < by["good"]["auc"] and by["good"]["weight"] == 0.8
    assert np.isnan(by[ENSEMBLE]["weight"])
    text = members_markdown({"frame": rows}, n_boot=200)
    assert "| good * |" in text and "| ensemble |" in text and "200 replicates" in text


def test_by_method_compares_each_methods_fakes_with_all_reals() -> None:
    probs, y = _scores()
    methods = np.array(["real"] * 150 + ["A"] * 75 + ["B"] * 75)
    probs["weak"][150:225] = 0.99  # "weak" finds method A perfectly
    table = members_by_method(probs, y, methods)
    assert set(table) == {"A", "B"} and table["A"]["weak"] == pytest.approx(1.0)
    assert "| A | " in by_method_markdown(table)
