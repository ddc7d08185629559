"""Samplers: class ratios over an epoch on a 1:5 dataset, video balance, DDP disjointness, set_epoch,
resume (mid-epoch and at an epoch boundary, per rank)."""

from __future__ import annotations

import math
from functools import partial
from types import SimpleNamespace

import numpy as np
import pytest
from torch.utils.data import DistributedSampler

from dfd.data.samplers import BalancedVideoSampler, RandomSampler, WeightedClassSampler, epoch_class_counts

# 1 real : 5 fake, 6000 samples, like DFDC
LABELS = np.array([0] * 1000 + [1] * 5000)


def _ratio(counts: dict[int, int]) -> float:
    return counts[1] / counts[0]


def test_random_keeps_the_natural_1_to_5_ratio() -> None:
    sampler = RandomSampler(LABELS, seed=0)
    counts = epoch_class_counts(sampler, LABELS)
    assert sum(counts.values()) == len(LABELS)
    # a permutation: every sample exactly once, so exactly 1:5
    assert counts == {0: 1000, 1: 5000}
    assert sorted(sampler) == list(range(len(LABELS)))


def test_weighted_gives_about_1_to_1() -> None:
    sampler = WeightedClassSampler(LABELS, seed=0)
    counts = epoch_class_counts(sampler, LABELS)
    assert sum(counts.values()) == len(LABELS)
    # binomial(6000, 0.5): sd ≈ 39, so ±4 sd is 0.47..0.53 of the epoch
    assert 0.47 < counts[0] / len(LABELS) < 0.53
    assert 0.9 < _ratio(counts) < 1.1


def test_balanced_video_gives_every_video_equal_share() -> None:
    # 40 videos with 1..40 frames: frame-uniform sampling would favour the long ones 40×
    frames = np.arange(1, 41)
    video_idx = np.repeat(np.arange(40), frames)
    labels = (video_idx % 2).astype(np.int64)
    sampler = BalancedVideoSampler(labels, video_idx, num_samples=40_000, seed=1)
    per_video = np.bincount(video_idx[list(sampler)], minlength=40)
    # expected 1000 each (binomial sd ≈ 31); short and long videos alike
    assert per_video.min() > 850 and per_video.max() < 1150
    assert abs(per_video[:5].mean() - per_video[-5:].mean()) < 100


def test_balanced_video_can_also_balance_classes() -> None:
    # 10 real videos and 50 fake ones (1:5), 3 frames each
    video_idx = np.repeat(np.arange(60), 3)
    labels = (video_idx >= 10).astype(np.int64)
    plain = epoch_class_counts(BalancedVideoSampler(labels, video_idx, num_samples=12_000, seed=0), labels)
    both = epoch_class_counts(
        BalancedVideoSampler(labels, video_idx, balance_classes=True, num_samples=12_000, seed=0), labels
    )
    assert 4.5 < _ratio(plain) < 5.5
    assert 0.9 < _ratio(both) < 1.1


@pytest.mark.parametrize("cls", [RandomSampler, WeightedClassSampler, BalancedVideoSampler])
def test_two_ranks_draw_disjoint_shares_of_one_epoch(cls: type) -> None:
    video_idx = np.arange(len(LABELS)) // 10
    single = list(cls(LABELS, video_idx, seed=3, num_replicas=1, rank=0))
    ranks = [cls(LABELS, video_idx, seed=3, num_replicas=2, rank=r) for r in (0, 1)]
    draws = [list(s) for s in ranks]
    assert all(isinstance(s, DistributedSampler) for s in ranks)  # so Lightning does not wrap them again
    assert len(draws[0]) == len(draws[1]) == len(LABELS) // 2 == len(ranks[0])
    # the ranks take alternating positions of one global sequence: together they are exactly
    # the single-process epoch, so no draw is shared or lost
    interleaved = [i for pair in zip(*draws, strict=True) for i in pair]
    assert interleaved == single
    if cls is RandomSampler:
        assert not set(draws[0]) & set(draws[1])
        assert sorted(draws[0] + draws[1]) == list(range(len(LABELS)))


def test_uneven_split_pads_like_distributed_sampler() -> None:
    labels = np.array([0, 1, 1, 1, 1])
    draws = [list(RandomSampler(labels, seed=0, num_replicas=2, rank=r)) for r in (0, 1)]
    assert len(draws[0]) == len(draws[1]) == 3
    assert set(draws[0] + draws[1]) == set(range(5))


@pytest.mark.parametrize("cls", [RandomSampler, WeightedClassSampler])
def test_set_epoch_reshuffles_and_is_reproducible(cls: type) -> None:
    sampler = cls(LABELS, seed=7)
    epoch0 = list(sampler)
    assert list(sampler) == epoch0  # same epoch, same order
    sampler.set_epoch(1)
    epoch1 = list(sampler)
    assert epoch1 != epoch0
    assert list(cls(LABELS, seed=7)) == epoch0  # a new sampler with the same seed agrees


def test_bad_inputs_are_rejected() -> None:
    with pytest.raises(ValueError, match="video_idx"):
        BalancedVideoSampler(LABELS)
    with pytest.raises(ValueError, match="label"):
        RandomSampler([])
    with pytest.raises(ValueError, match="one video index per sample"):
        WeightedClassSampler(LABELS, video_idx=[0, 1])


def _rank_draws(rank: int, port: int, out: str) -> None:
    import torch.distributed as dist

    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=2)
    try:
        # no num_replicas/rank given: the sampler reads them from the process group
        sampler = WeightedClassSampler(LABELS, seed=5)
        sampler.set_epoch(2)
        np.save(f"{out}/rank{rank}.npy", np.array([sampler.num_replicas, sampler.rank, *sampler]))
    finally:
        dist.destroy_process_group()


@pytest.mark.slow
def test_real_two_process_gloo_group_draws_disjoint_shares(tmp_path) -> None:
    import socket

    import torch.multiprocessing as mp

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mp.spawn(_rank_draws, args=(port, str(tmp_path)), nprocs=2, join=True)
    draws = [np.load(tmp_path / f"rank{r}.npy") for r in (0, 1)]
    assert [d[:2].tolist() for d in draws] == [[2, 0], [2, 1]]
    single = WeightedClassSampler(LABELS, seed=5, num_replicas=1, rank=0)
    single.set_epoch(2)
    interleaved = np.stack([draws[0][2:], draws[1][2:]], axis=1).reshape(-1)
    assert interleaved.tolist() == list(single)


@pytest.mark.parametrize("n", [1, 7, 8, 9, 44, 97, 100, 1001])
@pytest.mark.parametrize("ranks", [1, 2, 3])
def test_once_per_epoch_reads_each_sample_once_with_equal_batch_counts(n, ranks):
    from dfd.data.samplers import OncePerEpochSampler

    samplers = [
        OncePerEpochSampler(np.zeros(n, int), batch_size=4, seed=1, num_replicas=ranks, rank=r)
        for r in range(ranks)
    ]
    drawn = [list(s) for s in samplers]
    batches = {math.ceil(len(d) / 4) for d in drawn}
    assert len(batches) == 1 and [len(s) for s in samplers] == [len(d) for d in drawn]
    everything = sum(drawn, [])
    repeated = samplers[0].repeated
    assert sorted(set(everything)) == list(range(n)) and len(everything) == n + repeated
    assert (
        repeated < ranks
    )  # only where no exact split exists (e.g. 9 over 3 ranks of batch 4: 3 × 4 ≥ 9 ≥ 3 × 1 holds)
    samplers[0].set_epoch(1)
    if n > 8:
        assert list(samplers[0]) != drawn[0]


def test_once_per_epoch_sizes_and_the_rare_repeat():
    from dfd.data.samplers import OncePerEpochSampler, once_per_epoch_sizes

    assert once_per_epoch_sizes(44, 2, 4) == [23, 21] and once_per_epoch_sizes(33, 2, 4) == []
    sampler = OncePerEpochSampler(np.zeros(33, int), batch_size=4, num_replicas=2, rank=0)
    assert sampler.repeated == 1 and sampler.sizes == [17, 17]  # 5 batches each needs 34 samples


def test_sorted_batches_hold_the_same_samples_in_ascending_order():
    from dfd.data.samplers import OncePerEpochSampler

    for sampler in (
        RandomSampler(np.zeros(50, int), seed=2),
        OncePerEpochSampler(np.zeros(50, int), batch_size=8, seed=2),
    ):
        plain = list(sampler)
        sampler.sorted_batches = 8
        ordered = list(sampler)
        groups = [(plain[i : i + 8], ordered[i : i + 8]) for i in range(0, 50, 8)]
        assert all(sorted(a) == b for a, b in groups)  # the same batches, each read forward
        assert ordered != plain


def _resumed_trainer(epoch: int, batches_done: int) -> SimpleNamespace:
    """What the datamodule reads of a trainer restored from a checkpoint: its epoch, and the batches
    of that epoch already done (0 at an epoch boundary)."""
    progress = SimpleNamespace(current=SimpleNamespace(completed=batches_done))
    return SimpleNamespace(
        current_epoch=epoch, fit_loop=SimpleNamespace(epoch_loop=SimpleNamespace(batch_progress=progress))
    )


@pytest.mark.parametrize(
    "make",
    [
        partial(WeightedClassSampler, num_samples=50),
        partial(BalancedVideoSampler, balance_classes=True),
    ],
    ids=["weighted", "balanced_video"],
)
@pytest.mark.parametrize("epoch, batches_done", [(1, 3), (2, 0)], ids=["mid_epoch", "epoch_boundary"])
def test_a_resumed_sampler_yields_what_the_uninterrupted_run_had_left_on_each_rank(
    make, epoch: int, batches_done: int
) -> None:
    """A new sampler in a resumed process, put in place by the datamodule (``set_epoch`` and
    ``skip``) from the restored trainer, yields exactly the ``(epoch, index)`` keys that rank had
    still to draw in an uninterrupted run, and the full epochs after it."""
    from dfd.data.datamodule import FaceCropDataModule

    labels = np.array([0] * 10 + [1] * 35)  # 1:3.5, 45 samples: odd, so the ranks pad
    video_idx = np.repeat(np.arange(9), [1, 2, 3, 4, 5, 6, 7, 8, 9])
    batch_size = 4
    datamodule = FaceCropDataModule(root="unused", batch_size=batch_size)
    for rank in (0, 1):
        uninterrupted = make(labels, video_idx, seed=11, num_replicas=2, rank=rank)
        uninterrupted.tag_epoch = True
        epochs = []
        for e in range(4):
            uninterrupted.set_epoch(e)
            epochs.append(list(uninterrupted))
        assert len({tuple(i for _, i in draws) for draws in epochs}) == 4  # every epoch draws anew

        resumed = make(labels, video_idx, seed=11, num_replicas=2, rank=rank)
        resumed.tag_epoch = True
        datamodule.trainer = _resumed_trainer(epoch, batches_done)
        datamodule._resume_sampler(resumed)
        assert list(resumed) == epochs[epoch][batches_done * batch_size :]
        assert resumed.resumed_mid_epoch == bool(batches_done)
        for e in range(epoch + 1, 4):  # the skip is spent: later epochs are whole
            resumed.set_epoch(e)
            assert list(resumed) == epochs[e]
