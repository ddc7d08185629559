"""Sampler cost: one epoch of dfd's rank-aware WeightedClassSampler vs torch's WeightedRandomSampler.

Baseline: ``torch.utils.data.WeightedRandomSampler`` with the same inverse-frequency weights
(single process; under DDP Lightning would wrap it in a DistributedSamplerWrapper on top).
Both draw one epoch of 1,000,000 indices from a 1:5 label array; best of 5 runs each.

It also prints docs/imbalance.md's table: the class counts each sampler draws over two epochs of
a 1:5 dataset of 6000 crops (10 frames per video), seed 0, and the cost of an epoch of
PairedSourceSampler on FF++'s shape at 1,000,000 crops (each fake beside its source real).
"""

from __future__ import annotations

import time

import numpy as np
import torch
from torch.utils.data import WeightedRandomSampler

from dfd.data.samplers import (
    BalancedVideoSampler,
    PairedSourceSampler,
    RandomSampler,
    WeightedClassSampler,
    epoch_class_counts,
)

N = 1_000_000


def best_of(fn, repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def class_table() -> None:
    """Real and fake draws per epoch of each sampler on 1:5 data (6000 crops, 10 frames per video)."""
    labels = np.array([0] * 1000 + [1] * 5000)
    video_idx = np.arange(6000) // 10
    samplers = {
        "random": RandomSampler(labels, seed=0),
        "weighted": WeightedClassSampler(labels, seed=0),
        "balanced_video, 10 frames per video": BalancedVideoSampler(labels, video_idx, seed=0),
        # 100 real videos, 500 fakes: fake video v made from real (v - 100) mod 100
        "paired_source, 5 fakes per real": PairedSourceSampler(
            labels, video_idx, np.where(labels == 1, (video_idx - 100) % 100, -1), batch_size=32, seed=0
        ),
    }
    print("| sampler | real | fake | fake : real |")
    print("|---|---|---|---|")
    for name, sampler in samplers.items():
        counts = []
        for epoch in (0, 1):
            sampler.set_epoch(epoch)
            counts.append(epoch_class_counts(sampler, labels))
        real = " / ".join(str(c.get(0, 0)) for c in counts)
        fake = " / ".join(str(c.get(1, 0)) for c in counts)
        ratio = " / ".join(f"{c.get(1, 0) / max(c.get(0, 0), 1):.3g}" for c in counts)
        print(f"| {name} (epoch 0 / 1) | {real} | {fake} | {ratio} |")
    print()


def main() -> None:
    class_table()
    torch.set_num_threads(1)
    labels = np.array([0] * (N // 6) + [1] * (N - N // 6))
    ours = WeightedClassSampler(labels, seed=0)
    weights = torch.as_tensor(1.0 / np.bincount(labels)[labels])
    baseline = WeightedRandomSampler(
        weights, num_samples=N, replacement=True, generator=torch.Generator().manual_seed(0)
    )
    t_ours = best_of(lambda: sum(1 for _ in ours))
    t_base = best_of(lambda: sum(1 for _ in baseline))
    print(f"WeightedRandomSampler (baseline): {t_base:.3f} s per epoch of {N:,}")
    print(f"WeightedClassSampler  (dfd)     : {t_ours:.3f} s per epoch of {N:,}")
    print(f"ratio dfd / baseline: {t_ours / t_base:.2f}")
    # FF++'s shape: 1 original : 4 fakes (one per method), the same frames per video
    per_video = 32
    video_idx = np.arange(N) // per_video
    originals = video_idx.max() // 5 + 1
    labels = (video_idx >= originals).astype(np.int64)
    source_idx = np.where(labels == 1, (video_idx - originals) % originals, -1)
    paired = PairedSourceSampler(labels, video_idx, source_idx, batch_size=32, seed=0)
    t_paired = best_of(lambda: sum(1 for _ in paired))
    print(f"PairedSourceSampler (dfd)       : {t_paired:.3f} s per epoch of {len(paired):,} "
          f"({len(paired.pairs):,} pairs; ratio / baseline {t_paired / t_base:.2f})")  # fmt: skip


if __name__ == "__main__":
    main()
