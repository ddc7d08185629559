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


# -- sampler=paired_source ---------------------------------------------------------------------
def _ffpp_like() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """labels, video_idx, source_idx of FF++-shaped data: 6 originals (videos 0-5, 4 crops each)
    and 2 methods × 6 fakes (videos 6-17, 3 crops each); fake 6 + m * 6 + i is made from original i."""
    video_idx = np.concatenate([np.repeat(np.arange(6), 4), np.repeat(np.arange(6, 18), 3)])
    labels = (video_idx >= 6).astype(np.int64)
    source_idx = np.where(labels == 1, (video_idx - 6) % 6, -1)
    return labels, video_idx, source_idx


def _pairs(draws: list[int], video_idx: np.ndarray, k: int) -> list[tuple[int, int]]:
    """(real video, fake video) of each run of ``2 k`` draws, asserting each run is k + k of one video each."""
    runs = [draws[i : i + 2 * k] for i in range(0, len(draws), 2 * k)]
    assert all(len({*video_idx[run[:k]]}) == 1 and len({*video_idx[run[k:]]}) == 1 for run in runs)
    return [(int(video_idx[run[0]]), int(video_idx[run[-1]])) for run in runs]


@pytest.mark.parametrize("k", [1, 2])
def test_paired_source_puts_each_fake_beside_its_source_real_in_every_batch(k: int) -> None:
    from dfd.data.samplers import PairedSourceSampler

    labels, video_idx, source_idx = _ffpp_like()
    batch = 4 * k
    sampler = PairedSourceSampler(labels, video_idx, source_idx, crops_per_video=k, batch_size=batch, seed=2)
    draws = list(sampler)
    assert len(draws) == len(sampler) and not sampler.fallback and len(sampler.pairs) == 12
    for start in range(0, len(draws), batch):
        chunk = draws[start : start + batch]
        assert labels[chunk].sum() * 2 == len(chunk)  # half real, half fake
        for real, fake in _pairs(chunk, video_idx, k):  # whole pairs, each fake with its own source
            assert labels[video_idx == real][0] == 0 and (fake - 6) % 6 == real
    if k == 2:  # a pair's two crops of each video are distinct (every video has at least 2)
        assert all(draws[i] != draws[i + 1] for i in range(0, len(draws), 2))
    # every fake video is drawn, each equally often (60 samples / 2k per pair, over 12 fakes)
    fakes = [f for _, f in _pairs(draws, video_idx, k)]
    assert sorted(set(fakes)) == list(range(6, 18))
    assert max(np.bincount(fakes)[6:]) - min(np.bincount(fakes)[6:]) <= 1
    sampler.set_epoch(1)
    assert list(sampler) != draws and list(PairedSourceSampler(
        labels, video_idx, source_idx, crops_per_video=k, batch_size=batch, seed=2)) == draws  # fmt: skip


def test_paired_source_takes_the_same_frames_of_a_real_and_a_fake_of_equal_length() -> None:
    from dfd.data.samplers import PairedSourceSampler

    # 3 originals and 3 fakes of 8 crops each (frames 0-7 in order), fake 3 + i made from original i
    video_idx = np.repeat(np.arange(6), 8)
    labels = (video_idx >= 3).astype(np.int64)
    frame = np.tile(np.arange(8), 6)
    sampler = PairedSourceSampler(labels, video_idx, np.where(labels == 1, video_idx - 3, -1),
                                  crops_per_video=4, batch_size=8, num_samples=80, seed=5)  # fmt: skip
    draws = np.array(list(sampler)).reshape(-1, 2, 4)  # [pairs, real/fake, crops]
    assert (frame[draws[:, 0]] == frame[draws[:, 1]]).all()
    steps = np.diff(frame[draws[:, 0]], axis=1) % 8
    assert (steps == 2).all()  # evenly spaced through the video, wrapping round
    assert len(set(frame[draws[:, 0, 0]].tolist())) > 1  # from a random start


def test_paired_source_leaves_out_fakes_without_their_source_and_reals_without_fakes() -> None:
    from dfd.data.samplers import PairedSourceSampler

    labels, video_idx, source_idx = _ffpp_like()
    source_idx = np.where(video_idx == 6, 99, source_idx)  # fake 6's source is in no row
    source_idx = np.where((video_idx - 6) % 6 == 5, -1, source_idx)  # original 5's fakes name no source
    sampler = PairedSourceSampler(labels, video_idx, source_idx, batch_size=2, seed=0)
    assert sampler.unpaired == {"fake": 3, "real": 1}
    drawn = set(video_idx[list(sampler)].tolist())
    assert drawn == set(range(18)) - {5, 6, 11, 17}


def test_paired_source_without_sources_falls_back_to_balanced_and_says_so_once(caplog) -> None:
    from dfd.data.samplers import PairedSourceSampler

    video_idx = np.arange(len(LABELS)) // 10
    with caplog.at_level("WARNING", logger="dfd.data.samplers"):
        sampler = PairedSourceSampler(LABELS, video_idx, None, batch_size=8, dataset="DFDC", seed=0)
        counts = epoch_class_counts(sampler, LABELS)
        sampler.set_epoch(1)
        list(sampler)
    assert sampler.fallback and len(sampler) == len(LABELS)
    assert 0.47 < counts[0] / len(LABELS) < 0.53  # balanced although the data is 1:5
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1 and "DFDC" in warnings[0] and "class-balanced" in warnings[0]
    # fakes whose source is unknown (-1 everywhere) are no pairing either
    assert PairedSourceSampler(LABELS, video_idx, np.full(len(LABELS), -1), batch_size=8).fallback


def test_paired_source_two_ranks_share_one_epoch_pair_by_pair_with_equal_lengths() -> None:
    from dfd.data.samplers import PairedSourceSampler

    labels, video_idx, source_idx = _ffpp_like()

    def make(**kw):
        return PairedSourceSampler(
            labels, video_idx, source_idx, crops_per_video=2, batch_size=8, seed=4, **kw
        )

    ranks = [make(num_replicas=2, rank=r) for r in (0, 1)]
    draws = [list(s) for s in ranks]
    assert (
        len(draws[0]) == len(draws[1]) == len(ranks[0]) == len(ranks[1]) == 32
    )  # 60 samples → 15 pairs of 4, 8 per rank
    single = list(make(num_replicas=1, rank=0, num_samples=64))
    by_rank = [[d[i : i + 4] for i in range(0, 32, 4)] for d in draws]
    # pair p of the one global sequence goes to rank p mod 2: no pair is shared, lost or split
    assert sum((a + b for a, b in zip(*by_rank, strict=True)), []) == single
    assert all(_pairs(d, video_idx, 2) for d in draws)


@pytest.mark.parametrize("epoch, batches_done", [(1, 2), (2, 0)], ids=["mid_epoch", "epoch_boundary"])
def test_a_resumed_paired_source_sampler_goes_on_where_it_stopped(epoch: int, batches_done: int) -> None:
    from dfd.data.datamodule import FaceCropDataModule
    from dfd.data.samplers import PairedSourceSampler

    labels, video_idx, source_idx = _ffpp_like()
    batch_size = 4
    datamodule = FaceCropDataModule(root="unused", batch_size=batch_size)

    def make(rank):
        sampler = PairedSourceSampler(labels, video_idx, source_idx, crops_per_video=2, batch_size=batch_size,
                                      seed=11, num_replicas=2, rank=rank)  # fmt: skip
        sampler.tag_epoch = True
        return sampler

    for rank in (0, 1):
        uninterrupted = make(rank)
        epochs = []
        for e in range(3):
            uninterrupted.set_epoch(e)
            epochs.append(list(uninterrupted))
        resumed = make(rank)
        datamodule.trainer = _resumed_trainer(epoch, batches_done)
        datamodule._resume_sampler(resumed)
        assert list(resumed) == epochs[epoch][batches_done * batch_size :]
        if epoch + 1 < len(epochs):  # the skip is spent: the next epoch is whole
            resumed.set_epoch(epoch + 1)
            assert list(resumed) == epochs[epoch + 1]


def test_paired_source_refuses_a_batch_that_splits_pairs() -> None:
    from dfd.data.samplers import PairedSourceSampler

    labels, video_idx, source_idx = _ffpp_like()
    with pytest.raises(ValueError, match=r"data.batch_size=6 .* 2 × sampler.crops_per_video = 4"):
        PairedSourceSampler(labels, video_idx, source_idx, crops_per_video=2, batch_size=6)
    with pytest.raises(ValueError, match="video_idx"):
        PairedSourceSampler(labels)
