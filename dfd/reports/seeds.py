"""Multi-seed summaries: runs that differ only in ``seed``, each metric as mean ± std with a Student-t
interval.

The interval is ``mean ± t_{(1+c)/2, n-1} · s / √n`` with ``s`` the sample standard deviation
(``ddof=1``): the confidence interval of the mean over seeds when the per-seed results are
roughly normal (Student, "The probable error of a mean", Biometrika 6(1), 1908). With 3 seeds
the t quantile is 4.30, so the interval is wide: that is the honest width of 3 seeds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from dfd.reports.run_dirs import Run, describe, key_overrides

#: The columns of ``seeds.csv``.
COLUMNS = ["group", "metric", "n", "excluded", "seeds", "mean", "std", "ci_low", "ci_high"]


@dataclass(frozen=True)
class Interval:
    """Mean, sample standard deviation (ddof=1) and the Student-t interval of ``n`` values."""

    n: int
    mean: float
    std: float
    low: float
    high: float


def t_interval(values: Sequence[float], confidence: float = 0.95) -> Interval:
    """The Student-t interval of the mean of ``values`` (NaN std and bounds below 2 values)."""
    x = np.asarray(values, dtype=float)
    n = len(x)
    if n == 0:
        return Interval(0, math.nan, math.nan, math.nan, math.nan)
    mean = float(x.mean())
    if n < 2:
        return Interval(1, mean, math.nan, math.nan, math.nan)
    std = float(x.std(ddof=1))
    half = float(stats.t.ppf((1 + confidence) / 2, n - 1)) * std / math.sqrt(n)
    return Interval(n, mean, std, mean - half, mean + half)


def seed_groups(runs: Sequence[Run]) -> list[tuple[str, list[Run]]]:
    """Runs whose overrides are equal once ``seed`` is removed, as ``(label, runs)`` for each group of
    two or more, in first-seen order. The label is the group's overrides that differ between runs."""
    groups: dict[tuple, list[Run]] = {}
    for run in runs:
        rest = tuple(sorted((k, v) for k, v in run.overrides.items() if k != "seed"))
        groups.setdefault(rest, []).append(run)
    shown = [k for k in key_overrides(runs) if k != "seed"]
    return [
        (describe(members[0].overrides, shown) or "(common overrides)", members)
        for members in groups.values()
        if len(members) >= 2
    ]


def _seed_of(run: Run) -> str:
    return str(run.seed if run.seed is not None else run.overrides.get("seed", "?"))


def seeds_frame(runs: Sequence[Run], metrics: Sequence[str], confidence: float = 0.95) -> pd.DataFrame:
    """One row per seed group × metric (:data:`COLUMNS`): the finished runs with a finite value count
    (``n``); the failed, unfinished or NaN ones are ``excluded``."""
    rows = []
    for label, members in seed_groups(runs):
        for metric in metrics:
            used = [r for r in members if r.done and math.isfinite(r.metrics.get(metric, math.nan))]
            ci = t_interval([r.metrics[metric] for r in used], confidence)
            rows.append({
                "group": label, "metric": metric, "n": ci.n, "excluded": len(members) - ci.n,
                "seeds": ",".join(_seed_of(r) for r in used), "mean": ci.mean, "std": ci.std,
                "ci_low": ci.low, "ci_high": ci.high,
            })  # fmt: skip
    return pd.DataFrame(rows, columns=COLUMNS)
