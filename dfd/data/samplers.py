"""Training samplers for imbalanced data, built from the ``sampler/`` config group.

- :class:`RandomSampler`: a fresh permutation every epoch (the natural class ratio).
- :class:`WeightedClassSampler`: draws with replacement with weights inversely proportional to
  class frequency, so batches come out about 50/50 real/fake (the classic remedy for class
  imbalance; He & Garcia, "Learning from Imbalanced Data", TKDE 2009).
- :class:`OncePerEpochSampler`: a fresh permutation, every sample exactly once per epoch over
  all ranks and workers (no padding): each rank gets the same number of batches, the last one
  short where the split does not divide.
- :class:`BalancedVideoSampler`: draws with replacement with weight ``1 / frames of the video``,
  so every video contributes equally whatever its frame count (long videos would otherwise
  dominate a frame-level epoch); optionally also balances the classes at the video level.
- :class:`PairedSourceSampler`: every batch holds whole (real, fake) pairs: crops of a fake video
  and of the real video it was made from, side by side, so the only difference the net can learn
  from within a pair is the manipulation (Yermakov et al., "Deepfake Detection that Generalizes
  Across Benchmarks", WACV 2026, arXiv 2508.06248, find training on real-fake pairs from the same
  source video essential against shortcut learning). Without source ids it falls back to
  class-balanced sampling, and says so once.

All of them are :class:`torch.utils.data.DistributedSampler` subclasses and are rank-aware:
every rank builds the same global sequence for an epoch from ``seed + epoch`` and keeps the
positions ``rank, rank + R, rank + 2R, …``, so the ranks draw disjoint shares of one epoch and
``set_epoch`` reshuffles. Lightning does not wrap a ``DistributedSampler`` again and calls its
``set_epoch`` at every epoch, so ``trainer.use_distributed_sampler`` can stay on for the
validation and test loaders.

The DataModule builds the sampler from a factory (``functools.partial`` from Hydra) with the
training split's ``labels`` (0 real, 1 fake) and ``video_idx`` (video of each sample); samplers
that declare ``takes_batch_size`` also get the per-rank ``batch_size``, and those that declare
``takes_source_idx`` get ``source_idx`` (each fake's source real video as a ``video_idx``, -1 where
unknown; ``None`` when the manifest names no sources) and ``dataset`` (its name, for messages).

For exact resumption, the DataModule turns on ``tag_epoch``: the sampler then yields
``(epoch, index)`` pairs, so the dataset seeds each sample's augmentation from
``(seed, epoch, index)`` whatever worker loads it; and ``skip`` (set when a run resumes in the
middle of an epoch) drops the first ``skip`` indices of this rank's share once, so the epoch
goes on where it stopped. Neither needs saved state: every epoch's order is a function of
``seed + epoch``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator, Sequence

import numpy as np
import torch
import torch.distributed as dist
from torch.utils.data import DistributedSampler

__all__ = [
    "BalancedVideoSampler",
    "OncePerEpochSampler",
    "PairedSourceSampler",
    "RandomSampler",
    "WeightedClassSampler",
    "epoch_class_counts",
]

log = logging.getLogger(__name__)


def _world(num_replicas: int | None, rank: int | None) -> tuple[int, int]:
    """Fill ``num_replicas``/``rank`` from torch.distributed when initialised, else 1 and 0."""
    initialised = dist.is_available() and dist.is_initialized()
    if num_replicas is None:
        num_replicas = dist.get_world_size() if initialised else 1
    if rank is None:
        rank = dist.get_rank() if initialised else 0
    return num_replicas, rank


class _RankSharded(DistributedSampler):
    """Base: one global index sequence per epoch, identical on every rank; each rank takes a stride.

    Subclasses implement :meth:`global_indices`, which must return ``self.total_size`` indices
    and depend only on ``generator`` (seeded with ``seed + epoch``).

    Args:
        labels: class of every sample of the split (0 real, 1 fake).
        video_idx: video of every sample; only samplers that balance videos use it.
        num_samples: samples drawn per epoch over all ranks; default: the split's size.
        seed: base seed; the epoch is added, so ``set_epoch`` reshuffles.
        num_replicas, rank: default from torch.distributed when initialised, else 1 and 0.
    """

    def __init__(
        self,
        labels: Sequence[int] | np.ndarray | torch.Tensor,
        video_idx: Sequence[int] | np.ndarray | torch.Tensor | None = None,
        *,
        num_samples: int | None = None,
        seed: int = 0,
        num_replicas: int | None = None,
        rank: int | None = None,
    ) -> None:
        labels = np.asarray(labels, dtype=np.int64)
        if labels.ndim != 1 or len(labels) == 0:
            raise ValueError(
                f"{type(self).__name__} needs a non-empty 1-D label array, got shape {labels.shape}"
            )
        num_replicas, rank = _world(num_replicas, rank)
        # DistributedSampler only uses len(dataset); the labels stand in for the dataset.
        super().__init__(labels, num_replicas=num_replicas, rank=rank, shuffle=True, seed=seed)
        self.labels = labels
        self.video_idx = None if video_idx is None else np.asarray(video_idx, dtype=np.int64)
        if self.video_idx is not None and self.video_idx.shape != labels.shape:
            raise ValueError(
                f"video_idx has shape {self.video_idx.shape}, labels {labels.shape}: one video index per sample"
            )
        epoch_size = len(labels) if num_samples is None else int(num_samples)
        if epoch_size <= 0:
            raise ValueError(f"num_samples must be positive, got {num_samples}")
        self.num_samples = math.ceil(epoch_size / self.num_replicas)
        self.total_size = self.num_samples * self.num_replicas
        #: yield ``(epoch, index)`` pairs instead of indices (see the module docstring)
        self.tag_epoch = False
        #: indices of this rank's share to drop from the next epoch's start (a mid-epoch resume)
        self.skip = 0
        #: set by the datamodule when it prepared ``skip`` for a run resumed mid-epoch
        self.resumed_mid_epoch = False
        #: when set (to the batch size), each batch's indices come in ascending order: the same
        #: batches, read forward through a pack (``data.format=packed``), where a backward
        #: jump costs milliseconds
        self.sorted_batches = 0

    def global_indices(self, generator: torch.Generator) -> torch.Tensor:
        raise NotImplementedError

    def __iter__(self) -> Iterator[int]:
        generator = torch.Generator()
        generator.manual_seed(self.seed + self.epoch)
        indices = self.global_indices(generator)
        if len(indices) != self.total_size:
            raise AssertionError(
                f"{type(self).__name__} drew {len(indices)} indices, expected {self.total_size}"
            )
        return self.emit(indices[self.rank : self.total_size : self.num_replicas].tolist())

    def emit(self, mine: list[int]) -> Iterator[int]:
        """This rank's share of the epoch as it is yielded: ``skip`` spent, batches sorted where
        asked, ``(epoch, index)`` keys with ``tag_epoch``."""
        mine, self.skip = mine[self.skip :], 0
        mine = sort_within_batches(mine, self.sorted_batches)
        if self.tag_epoch:
            return iter([(self.epoch, i) for i in mine])
        return iter(mine)

    def __len__(self) -> int:
        return self.num_samples


class RandomSampler(_RankSharded):
    """A new permutation of the split every epoch; the epoch is padded by wrapping around so that
    every rank gets the same number of samples (as :class:`DistributedSampler` does)."""

    def global_indices(self, generator: torch.Generator) -> torch.Tensor:
        n = len(self.labels)
        repeats = math.ceil(self.total_size / n)
        perms = [torch.randperm(n, generator=generator) for _ in range(repeats)]
        return torch.cat(perms)[: self.total_size]


def sort_within_batches(indices: list[int], batch_size: int) -> list[int]:
    """``indices`` with each consecutive group of ``batch_size`` in ascending order (0: as they are)."""
    if batch_size <= 1:
        return indices
    return [
        i for start in range(0, len(indices), batch_size) for i in sorted(indices[start : start + batch_size])
    ]


def once_per_epoch_sizes(n: int, num_replicas: int, batch_size: int) -> list[int]:
    """Samples per rank so that the ``n`` samples are split without repeats and every rank runs the
    same number of batches (DDP needs that: a rank with an extra batch waits forever for the others'
    gradients). Each rank gets between ``(B - 1) * batch_size + 1`` and ``B * batch_size`` samples,
    ``B = ceil(n / (num_replicas * batch_size))``; an empty list when no such split exists (a split
    only just over a multiple of ``num_replicas * batch_size``, with fewer spare samples than ranks)."""
    batches = max(1, math.ceil(n / (num_replicas * batch_size)))
    low, high = (batches - 1) * batch_size + 1, batches * batch_size
    if not num_replicas * low <= n <= num_replicas * high:
        return []
    sizes = [low] * num_replicas
    spare = n - num_replicas * low
    for r in range(num_replicas):
        take = min(spare, high - low)
        sizes[r] += take
        spare -= take
    return sizes


class OncePerEpochSampler(_RankSharded):
    """A new permutation every epoch, every sample read exactly once over all ranks and workers.

    Unlike :class:`RandomSampler` (and Lightning's ``DistributedSampler``), nothing is repeated
    to even out the ranks: the ranks take consecutive slices of one permutation, sized by
    :func:`once_per_epoch_sizes` so that each runs the same number of batches, and a rank's last
    batch may be short. In the rare split where no such sizes exist, the fewest samples needed
    (fewer than the number of ranks) are repeated, and the sampler says so in
    :attr:`repeated`.

    Args: as :class:`RandomSampler`, plus ``batch_size``: the per-rank batch size (the DataModule
    passes it).
    """

    #: the DataModule passes its batch size to samplers that declare this
    takes_batch_size = True

    def __init__(self, labels, video_idx=None, *, batch_size: int = 1, seed: int = 0,
                 num_replicas: int | None = None, rank: int | None = None) -> None:  # fmt: skip
        super().__init__(labels, video_idx, seed=seed, num_replicas=num_replicas, rank=rank)
        n = len(self.labels)
        self.batch_size = int(batch_size)
        sizes = once_per_epoch_sizes(n, self.num_replicas, self.batch_size)
        #: samples repeated per epoch to keep the ranks' batch counts equal (0 nearly always)
        self.repeated = 0
        if not sizes:
            batches = math.ceil(n / (self.num_replicas * self.batch_size))
            low = (batches - 1) * self.batch_size + 1
            self.repeated = self.num_replicas * low - n
            sizes = [low] * self.num_replicas
        self.sizes = sizes
        self.num_samples = sizes[self.rank]
        self.total_size = sum(sizes)

    def global_indices(self, generator: torch.Generator) -> torch.Tensor:
        order = torch.randperm(len(self.labels), generator=generator)
        return order.repeat(math.ceil(self.total_size / len(order)))[: self.total_size]

    def __iter__(self) -> Iterator[int]:
        generator = torch.Generator()
        generator.manual_seed(self.seed + self.epoch)
        indices = self.global_indices(generator)
        start = sum(self.sizes[: self.rank])
        return self.emit(indices[start : start + self.sizes[self.rank]].tolist())


class _WeightedSharded(_RankSharded):
    """Draws ``total_size`` indices with replacement from per-sample weights."""

    def sample_weights(self) -> np.ndarray:
        raise NotImplementedError

    def global_indices(self, generator: torch.Generator) -> torch.Tensor:
        weights = torch.as_tensor(self.sample_weights(), dtype=torch.float64)
        return torch.multinomial(weights, self.total_size, replacement=True, generator=generator)


class WeightedClassSampler(_WeightedSharded):
    """Inverse class frequency with replacement: every class gets the same expected share."""

    def sample_weights(self) -> np.ndarray:
        counts = np.bincount(self.labels)
        return 1.0 / counts[self.labels]


class BalancedVideoSampler(_WeightedSharded):
    """Every video gets the same expected number of draws, whatever its frame count.

    Args:
        balance_classes: also give real and fake videos the same total weight (weight
            ``1 / (frames of the video × videos of its class)``), for imbalanced data.
        (others as :class:`RandomSampler`; ``video_idx`` is required.)
    """

    def __init__(
        self,
        labels: Sequence[int] | np.ndarray | torch.Tensor,
        video_idx: Sequence[int] | np.ndarray | torch.Tensor | None = None,
        *,
        balance_classes: bool = False,
        num_samples: int | None = None,
        seed: int = 0,
        num_replicas: int | None = None,
        rank: int | None = None,
    ) -> None:
        if video_idx is None:
            raise ValueError("BalancedVideoSampler needs video_idx (the video of every sample)")
        super().__init__(
            labels, video_idx, num_samples=num_samples, seed=seed, num_replicas=num_replicas, rank=rank
        )
        self.balance_classes = balance_classes

    def sample_weights(self) -> np.ndarray:
        assert self.video_idx is not None
        _, inverse, frames = np.unique(self.video_idx, return_inverse=True, return_counts=True)
        weights = 1.0 / frames[inverse]
        if self.balance_classes:
            # videos per class, counting each video once (its first sample's label)
            _, first = np.unique(self.video_idx, return_index=True)
            videos_per_class = np.bincount(self.labels[first], minlength=int(self.labels.max()) + 1)
            weights = weights / videos_per_class[self.labels]
        return weights


class PairedSourceSampler(_WeightedSharded):
    """Batches of whole (real, fake) pairs: crops of a fake video beside crops of its source real.

    An epoch is a sequence of *pairs*, each ``2 * crops_per_video`` consecutive indices: that many
    crops of a real video, then as many of one fake made from it. The fake videos are visited in a
    new permutation every epoch (starting over when the epoch is longer), each with its source
    real; a pair's crops are evenly spaced through each video from one random start, so the real's
    and the fake's are the same frames where the two have the same crops. So every batch is exactly
    half real, half fake, every fake video is drawn equally often and every real video as often as it
    has fakes (FF++: once per method). GenD (Yermakov et al., WACV 2026, arXiv 2508.06248) trains
    on such real-fake pairs from the same source video and finds them essential against shortcut
    learning: within a pair, identity, scene and compression are shared, only the manipulation
    differs.

    Ranks take whole pairs (pair ``p`` goes to rank ``p mod R``), so each rank has the same number
    of pairs, and with ``batch_size`` a multiple of ``2 * crops_per_video`` every batch holds whole
    pairs. A fake whose source real is not in the split (no usable crop, another split) and a real
    without fakes are left out, counted in :attr:`unpaired` and logged. Where no fake has its source
    (``source_idx`` is None: the manifest names no sources, or the layout does not know them), the
    sampler falls back to class-balanced draws with replacement (as :class:`WeightedClassSampler`)
    and says so once.

    Args:
        labels, video_idx: as :class:`RandomSampler`; ``video_idx`` is required.
        source_idx: per sample, the ``video_idx`` of the real video its (fake) video was made from,
            -1 where unknown; ignored for reals. ``None``: no source is known.
        crops_per_video: crops of each video of a pair.
        batch_size: the per-rank batch size (the DataModule passes it); a multiple of
            ``2 * crops_per_video``.
        num_samples: samples per epoch over all ranks; default the split's size, rounded up to
            whole pairs on every rank.
        dataset: the dataset's name, for the fallback's message.
        seed, num_replicas, rank: as :class:`RandomSampler`.
    """

    #: the DataModule passes its batch size to samplers that declare this
    takes_batch_size = True
    #: ... and ``source_idx`` (with ``dataset``) to samplers that declare this
    takes_source_idx = True

    def __init__(
        self,
        labels: Sequence[int] | np.ndarray | torch.Tensor,
        video_idx: Sequence[int] | np.ndarray | torch.Tensor | None = None,
        source_idx: Sequence[int] | np.ndarray | torch.Tensor | None = None,
        *,
        crops_per_video: int = 1,
        batch_size: int | None = None,
        num_samples: int | None = None,
        dataset: str = "the training split",
        seed: int = 0,
        num_replicas: int | None = None,
        rank: int | None = None,
    ) -> None:
        if video_idx is None:
            raise ValueError("PairedSourceSampler needs video_idx (the video of every sample)")
        super().__init__(
            labels, video_idx, num_samples=num_samples, seed=seed, num_replicas=num_replicas, rank=rank
        )
        self.crops_per_video = int(crops_per_video)
        if self.crops_per_video < 1:
            raise ValueError(f"sampler.crops_per_video={crops_per_video} must be at least 1")
        unit = 2 * self.crops_per_video
        if batch_size is not None and int(batch_size) % unit:
            raise ValueError(
                f"data.batch_size={batch_size} is not a multiple of 2 × sampler.crops_per_video = {unit}: "
                "every batch holds whole (real, fake) pairs"
            )
        assert self.video_idx is not None
        # dense video numbers and each video's samples, contiguous
        videos, dense = np.unique(self.video_idx, return_inverse=True)
        self._order = np.argsort(dense, kind="stable")
        self._counts = np.bincount(dense, minlength=len(videos))
        self._starts = np.concatenate([[0], np.cumsum(self._counts)[:-1]])
        first = self._order[self._starts]  # one sample of each video
        video_label = self.labels[first]
        fake_videos = np.flatnonzero(video_label == 1)
        source = np.full(len(videos), -1, np.int64)
        if source_idx is not None:
            source_idx = np.asarray(source_idx, dtype=np.int64)
            if source_idx.shape != self.labels.shape:
                raise ValueError(
                    f"source_idx has shape {source_idx.shape}, labels {self.labels.shape}: "
                    "one source per sample"
                )
            wanted = source_idx[first[fake_videos]]
            at = np.clip(np.searchsorted(videos, wanted), 0, len(videos) - 1)
            found = (wanted >= 0) & (videos[at] == wanted) & (video_label[at] == 0)
            source[fake_videos[found]] = at[found]
        paired = fake_videos[source[fake_videos] >= 0]
        #: (real, fake) dense video numbers of every pair, by fake
        self.pairs = np.stack([source[paired], paired], axis=1)
        real_videos = np.flatnonzero(video_label == 0)
        #: videos left out of the pairs: ``{"fake": fakes without their source, "real": reals without fakes}``
        self.unpaired = {
            "fake": int(len(fake_videos) - len(paired)),
            "real": int(len(np.setdiff1d(real_videos, self.pairs[:, 0]))),
        }
        #: no pair at all: class-balanced draws instead
        self.fallback = not len(self.pairs)
        if self.fallback:
            log.warning(
                "sampler=paired_source: %s names no fake's source real video (manifest column source_video, "
                "written by dfd.preprocess where the dataset's layout knows it): class-balanced sampling instead",
                dataset,
            )
            return
        if any(self.unpaired.values()):
            log.info(
                "sampler=paired_source on %s: %d pairs; left out %d fake videos whose source real is not "
                "in the split and %d real videos without fakes",
                dataset, len(self.pairs), self.unpaired["fake"], self.unpaired["real"],
            )  # fmt: skip
        pairs_per_rank = math.ceil(self.total_size / (unit * self.num_replicas))
        self.num_samples = pairs_per_rank * unit
        self.total_size = self.num_samples * self.num_replicas

    def sample_weights(self) -> np.ndarray:
        counts = np.bincount(self.labels)
        return 1.0 / counts[self.labels]

    def pair_indices(self, generator: torch.Generator) -> torch.Tensor:
        """The epoch's pairs as sample indices, ``[pairs, 2 * crops_per_video]``: each row the real's
        crops, then the fake's."""
        k = self.crops_per_video
        n_pairs = self.total_size // (2 * k)
        laps = math.ceil(n_pairs / len(self.pairs))
        perms = [torch.randperm(len(self.pairs), generator=generator) for _ in range(laps)]
        videos = torch.as_tensor(self.pairs)[torch.cat(perms)[:n_pairs]]  # [pairs, 2]: real, fake
        counts = torch.as_tensor(self._counts)[videos][..., None]  # [pairs, 2, 1]
        # k crops evenly spaced through each video from a random start, the same relative start in
        # the real and the fake: their same frames where both have the same crops (an FF++ fake
        # and the original whose frames it reuses), distinct crops wherever a video has k
        start = torch.rand((n_pairs, 1, 1), generator=generator, dtype=torch.float64)
        offsets = ((start * counts).long() + torch.arange(k) * counts // k) % counts
        positions = torch.as_tensor(self._starts)[videos][..., None] + offsets
        return torch.as_tensor(self._order)[positions].reshape(n_pairs, 2 * k)

    def __iter__(self) -> Iterator[int]:
        if self.fallback:
            return super().__iter__()
        generator = torch.Generator()
        generator.manual_seed(self.seed + self.epoch)
        pairs = self.pair_indices(generator)
        return self.emit(pairs[self.rank :: self.num_replicas].reshape(-1).tolist())


def epoch_class_counts(sampler: Sequence[int] | DistributedSampler, labels: np.ndarray) -> dict[int, int]:
    """Class counts of the samples one pass of ``sampler`` yields (used by tests and the stats printout)."""
    drawn = labels[np.fromiter(iter(sampler), dtype=np.int64)]
    return {int(c): int(n) for c, n in zip(*np.unique(drawn, return_counts=True), strict=True)}
