"""The Student-t interval against hand-computed values; seed groups and what they exclude."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from dfd.reports.run_dirs import Run
from dfd.reports.seeds import COLUMNS, seed_groups, seeds_frame, t_interval


def test_three_seeds_give_the_hand_computed_interval() -> None:
    # mean 0.84, std (ddof=1) 0.04, t(0.975, 2) = 4.302653 → half-width 4.302653 · 0.04 / √3 = 0.099366
    ci = t_interval([0.80, 0.84, 0.88])
    assert ci.n == 3
    assert ci.mean == pytest.approx(0.84, abs=1e-12) and ci.std == pytest.approx(0.04, abs=1e-12)
    assert ci.low == pytest.approx(0.84 - 0.0993655, abs=1e-6) and ci.high == pytest.approx(
        0.84 + 0.0993655, abs=1e-6
    )


def test_two_seeds_use_t_with_one_degree_of_freedom_and_the_level_is_a_parameter() -> None:
    # std of (0.7, 0.9) = 0.141421; t(0.975, 1) = 12.706205 → half-width 12.706205 · 0.141421 / √2 = 1.270621
    ci = t_interval([0.7, 0.9])
    assert (ci.low, ci.high) == pytest.approx((0.8 - 1.2706205, 0.8 + 1.2706205), abs=1e-6)
    # 90%: t(0.95, 1) = 6.313752
    ci90 = t_interval([0.7, 0.9], confidence=0.90)
    assert (ci90.low, ci90.high) == pytest.approx((0.8 - 0.6313752, 0.8 + 0.6313752), abs=1e-6)


def test_fewer_than_two_values_have_no_spread() -> None:
    one = t_interval([0.9])
    assert one.n == 1 and one.mean == 0.9 and math.isnan(one.std) and math.isnan(one.low)
    assert t_interval([]).n == 0 and math.isnan(t_interval([]).mean)


def _run(name: str, overrides: dict[str, str], auc: float | None, status: str = "done") -> Run:
    metrics = {} if auc is None else {"test/auc": auc}
    seed = int(overrides.get("seed", 42))
    return Run(Path(f"/runs/{name}"), overrides, metrics, {}, status, "", seed)


def test_groups_are_runs_equal_but_for_seed_and_singletons_get_none() -> None:
    runs = [
        _run("a1", {"seed": "1", "lr": "0.1"}, 0.80),
        _run("b1", {"seed": "1", "lr": "0.01"}, 0.70),
        _run("a2", {"seed": "2", "lr": "0.1"}, 0.84),
        _run("c", {"seed": "1", "lr": "0.1", "loss": "focal"}, 0.99),  # differs by more than seed
        _run("a3", {"lr": "0.1", "seed": "3"}, 0.88),  # order of the overrides does not matter
    ]
    groups = seed_groups(runs)
    assert [(label, [r.path.name for r in members]) for label, members in groups] == [
        ("lr=0.1", ["a1", "a2", "a3"])
    ]


def test_failed_and_unfinished_runs_are_excluded_from_the_statistics() -> None:
    runs = [
        _run("1", {"seed": "1"}, 0.80),
        _run("2", {"seed": "2"}, 0.84),
        _run("3", {"seed": "3"}, 0.88),
        _run("4", {"seed": "4"}, None, status="failed"),
        _run("5", {"seed": "5"}, 0.10, status="incomplete"),  # a value, but not final
        _run("6", {"seed": "6"}, math.nan),  # finished with a NaN metric
    ]
    frame = seeds_frame(runs, ["test/auc"])
    assert list(frame.columns) == COLUMNS and len(frame) == 1
    row = frame.iloc[0]
    assert (row["group"], row["n"], row["excluded"], row["seeds"]) == ("(common overrides)", 3, 3, "1,2,3")
    assert row["mean"] == pytest.approx(0.84) and row["std"] == pytest.approx(0.04)
    assert row["ci_low"] == pytest.approx(0.7406345, abs=1e-6) and row["ci_high"] == pytest.approx(
        0.9393655, abs=1e-6
    )
