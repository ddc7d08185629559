"""DeLong's test: midrank structural components (Sun & Xu 2014, what dfd.compare uses) against
the pairwise O(m*n) kernel of DeLong et al. (1988), side by side on the same scores.

Prints the time of each and the ratio baseline / ours (higher is better for ours).
Run: python benchmarks/bench_delong.py
"""

from __future__ import annotations

import time

import numpy as np

from dfd.metrics.comparison import delong_test


def pairwise_delong_variance(a: np.ndarray, b: np.ndarray, y: np.ndarray) -> float:
    """The baseline: psi(X_i, Y_j) for every fake/real pair, then the 1988 covariance."""
    y = y.astype(bool)
    v10, v01 = [], []
    for s in (a, b):
        psi = (s[y][:, None] > s[~y][None, :]) + 0.5 * (s[y][:, None] == s[~y][None, :])
        v10.append(psi.mean(axis=1))
        v01.append(psi.mean(axis=0))
    cov = np.cov(np.stack(v10)) / y.sum() + np.cov(np.stack(v01)) / (~y).sum()
    return float(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1])


def best_of(fn, repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    rng = np.random.default_rng(0)
    for n in (2_000, 10_000):  # a test split's frames (FF++ test: ~ 140 videos x 32 frames = 4,480)
        y = rng.integers(0, 2, n)
        a, b = y + rng.normal(size=n), 0.7 * y + rng.normal(size=n)
        assert abs(delong_test(a, b, y).se ** 2 - pairwise_delong_variance(a, b, y)) < 1e-12
        ours = best_of(lambda: delong_test(a, b, y))  # noqa: B023
        base = best_of(lambda: pairwise_delong_variance(a, b, y), repeats=2)  # noqa: B023
        print(
            f"bench_delong n={n}: midrank {ours * 1e3:.2f} ms, pairwise baseline {base * 1e3:.1f} ms, ratio {base / ours:.1f}x"
        )


if __name__ == "__main__":
    main()
