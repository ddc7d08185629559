"""SMOTE on imbalanced embeddings: the linear probe with and without it (docs/imbalance.md's table).

Baseline: the plain probe (standardise, logistic regression) on 1:10 Gaussian embeddings, 8-d,
overlapping clusters (fakes shifted by 0.6 sd); against the same probe fitted on SMOTE-oversampled
training embeddings. Scored on a balanced test set of 2000. Prints fake recall, real recall,
balanced accuracy and AUC at 0.5 of each, and the ratio of fake recall SMOTE/plain.

    python benchmarks/bench_smote.py [--seeds 5]
"""

from __future__ import annotations

import argparse

import numpy as np

from dfd.models.linear_probe import evaluate_probe, fit_linear_probe


def gaussians(n_real: int, n_fake: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = np.concatenate([rng.normal(0.0, 1.0, (n_real, 8)), rng.normal(0.6, 1.0, (n_fake, 8))])
    return x.astype(np.float32), np.array([0] * n_real + [1] * n_fake)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5, help="training sets drawn (the table shows means)")
    args = parser.parse_args()
    x_test, y_test = gaussians(1000, 1000, seed=10_000)
    rows = {"plain": [], "smote": []}
    for seed in range(args.seeds):
        x, y = gaussians(1000, 100, seed)
        rows["plain"].append(evaluate_probe(fit_linear_probe(x, y), x_test, y_test))
        rows["smote"].append(evaluate_probe(fit_linear_probe(x, y, smote=True, seed=seed), x_test, y_test))
    print(
        f"1:10 training embeddings (1000 real, 100 fake), balanced test of 2000, mean of {args.seeds} draws"
    )
    print("| probe | fake recall at 0.5 | real recall at 0.5 | balanced accuracy | AUC |")
    print("|---|---:|---:|---:|---:|")
    means = {}
    for name, results in rows.items():
        m = {
            k: float(np.mean([getattr(r, k) for r in results]))
            for k in ("recall_fake", "recall_real", "balanced_accuracy", "auc")
        }
        means[name] = m
        print(
            f"| {name} | {m['recall_fake']:.2f} | {m['recall_real']:.2f} | {m['balanced_accuracy']:.2f} | {m['auc']:.3f} |"
        )
    print(
        f"ratio fake recall smote/plain: {means['smote']['recall_fake'] / means['plain']['recall_fake']:.2f}"
    )


if __name__ == "__main__":
    main()
