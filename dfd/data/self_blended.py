"""Fakes made on the fly from real crops: ``data.fakes=self_blended`` and ``data.fakes=blended``.

Self-blended images (Shiohara & Yamasaki, "Detecting Deepfakes with Self-Blended Images", CVPR
2022) train a detector on real faces only: each fake is a real crop blended with a transformed
copy of itself inside a mask drawn from its landmarks (:func:`dfd.data.blending.self_blend`).
Face X-ray's blended images (Li et al., CVPR 2020) blend a real face with another real face whose
landmarks are near (:func:`dfd.data.blending.xray_blend`). Both need landmarks beside the crops
(``preprocess.landmarks=dlib68``, or ``mtcnn5`` for a lower-fidelity mask).

As the SBI paper trains, every training batch pairs each real crop with its own blended version
(:class:`BlendedPairs`, collated by :func:`flatten_pairs`): ``data.batch_size`` crops are
``batch_size / 2`` reals and their blends. Both crops of a pair get the same augmentation, so the
blend is all that tells them apart; the blend mask follows the geometric augmentation and comes
with the batch as ``mask`` (the pixel labels of a localisation head). Each pair is drawn from a
generator seeded with ``(seed, epoch, index)`` (:func:`pair_rng`), so a run
resumed from a checkpoint sees the very crops the uninterrupted one saw.

A split with no fakes of its own (validation of a real-only folder) is evaluated on its reals and
one fixed blend of each (:class:`BlendedEvalSet`); a split with the dataset's fakes keeps them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import albumentations as A
import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset, default_collate

from dfd.data.blending import LandmarkIndex, self_blend, xray_blend
from dfd.data.transforms import to_tensor

#: ``data.fakes`` choices: the dataset's own fakes, SBI's self-blended fakes, Face X-ray's blended fakes.
FAKES = ("dataset", "self_blended", "blended")
#: the ``method`` of blended samples in reports
BLENDED_METHOD = {"self_blended": "self_blended", "blended": "blended"}
#: the suffix that keeps a blended crop's video apart from its real video in video-level metrics
BLENDED_SUFFIX = "#blended"


def pair_rng(seed: int, epoch: int, index: int) -> np.random.Generator:
    """The one random generator of a pair: blend and augmentation both draw from it."""
    return np.random.default_rng(np.random.SeedSequence([seed, epoch, index, 0x5B1]))


def mask_tensor(mask: np.ndarray) -> torch.Tensor:
    """A float HxW mask as a ``[1, H, W]`` float32 tensor."""
    return torch.from_numpy(np.ascontiguousarray(mask, dtype=np.float32))[None]


def with_fake_target(transform: A.Compose) -> A.Compose:
    """``transform`` also applied, with the same random parameters, to a second image ``fake``
    (the mask follows through albumentations' own ``mask`` target)."""
    transform.add_targets({"fake": "image"})
    return transform


class Blender:
    """Makes the blended version of real crop ``i`` of a dataset: ``self_blended`` (SBI) or
    ``blended`` (Face X-ray, with the nearest-landmark crop of another video as the source).

    Args:
        load_image: crop ``i`` as RGB uint8 HWC.
        landmarks: float32 ``[N, K, 2]``, crop px.
        video_idx: video of every crop (Face X-ray never blends a video with itself).
        mode: ``self_blended`` or ``blended``.
    """

    def __init__(
        self,
        load_image: Callable[[int], np.ndarray],
        landmarks: np.ndarray,
        video_idx: np.ndarray,
        mode: str,
    ) -> None:
        if mode not in FAKES[1:]:
            raise ValueError(f"data.fakes={mode!r}: expected one of {list(FAKES)}")
        self.load_image = load_image
        self.landmarks = np.asarray(landmarks, dtype=np.float32)
        self.mode = mode
        self.index = LandmarkIndex(self.landmarks, np.asarray(video_idx)) if mode == "blended" else None

    def __call__(self, i: int, image: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """``(fake, mask)`` of crop ``i`` (its pixels ``image``), drawn from ``rng``."""
        if self.index is None:
            return self_blend(image, self.landmarks[i], rng)
        j = self.index.nearest(i, rng)
        return xray_blend(image, self.landmarks[i], self.load_image(j), self.landmarks[j], rng)


class BlendedPairs(Dataset):
    """Training pairs: item ``i`` (or ``(epoch, i)``) is real crop ``i`` and its blend, as two samples.

    ``labels`` (all real) and ``video_idx`` describe the real crops, which samplers draw; the
    DataLoader collates items with :func:`flatten_pairs`. ``augment_seed`` is set by the datamodule
    with the run's seed (as for :class:`~dfd.data.datamodule.FrameDataset`).
    """

    takes_epoch = True

    def __init__(self, base: Any, blender: Blender, transform: A.Compose, method: str) -> None:
        self.base = base
        self.blender = blender
        self.transform = with_fake_target(transform)
        self.method = method
        self.labels = np.zeros(len(base), dtype=np.float32)
        self.video_idx = base.video_idx
        self.video_ids = base.video_ids
        self.video_names = base.video_names
        self.augment_seed: int | None = None

    def __len__(self) -> int:
        return len(self.base)

    def class_counts(self) -> dict[int, int]:
        """Crops per label in an epoch: every real and as many blends."""
        return {0: len(self), 1: len(self)}

    def load_image(self, i: int) -> np.ndarray:
        return self.base.load_image(i)

    def sample_table(self) -> pd.DataFrame:
        return self.base.sample_table()

    def pair(self, epoch: int, i: int) -> dict[str, Any]:
        """Real crop ``i`` and its blend of ``epoch``, augmented alike, as numpy arrays."""
        rng = pair_rng(self.augment_seed or 0, epoch, i)
        real = self.base.load_image(i)
        fake, mask = self.blender(i, real, rng)
        self.transform.set_random_seed(int(rng.integers(2**31)))
        out = self.transform(image=real, fake=fake, mask=mask)
        return out

    def __getitem__(self, key: int | tuple[int, int]) -> list[dict[str, Any]]:
        epoch, i = (int(key[0]), int(key[1])) if isinstance(key, tuple) else (0, int(key))
        out = self.pair(epoch, i)
        common = {
            "video_idx": torch.tensor(self.video_idx[i]),
            "video_id": self.video_ids[i],
            "index": torch.tensor(i),
        }
        mask = mask_tensor(out["mask"])
        return [
            {"image": to_tensor(out["image"]), "label": torch.tensor(0.0), "mask": torch.zeros_like(mask), **common},
            {"image": to_tensor(out["fake"]), "label": torch.tensor(1.0), "mask": mask, **common},
        ]  # fmt: skip


def flatten_pairs(items: Sequence[list[dict[str, Any]]]) -> dict[str, Any]:
    """Collate pairs into one batch: real, its blend, the next real, ... (2 × the items)."""
    return default_collate([sample for pair in items for sample in pair])


class BlendedEvalSet(Dataset):
    """An evaluation split of real crops and one fixed blend of each: ``2N`` samples.

    Sample ``2i`` is real crop ``i`` and sample ``2i + 1`` its blend, drawn from ``(seed, 0, i)``
    and filed under the video ``<video_id>#blended`` so that video-level metrics never mix a real
    video with its blends; interleaved, so any leading share of the split (``limit_val_batches``)
    holds both classes. Every sample carries ``mask`` (zeros for reals).
    """

    def __init__(self, base: Any, blender: Blender, transform: A.Compose, method: str, seed: int) -> None:
        self.base = base
        self.blender = blender
        self.transform = transform
        self.method = method
        self.seed = int(seed)
        n = len(base)
        self.labels = np.tile(np.array([0.0, 1.0], np.float32), n)
        self.video_names = [*base.video_names, *(v + BLENDED_SUFFIX for v in base.video_names)]
        self.video_idx = np.stack([base.video_idx, base.video_idx + len(base.video_names)], axis=1).reshape(
            -1
        )
        self._table: pd.DataFrame | None = None

    def __len__(self) -> int:
        return len(self.labels)

    def load_image(self, j: int) -> np.ndarray:
        """Sample ``j`` as RGB uint8 HWC, before the evaluation transform."""
        return self.sample(j)[0]

    def sample(self, j: int) -> tuple[np.ndarray, np.ndarray]:
        """``(image, mask)`` of sample ``j``, before the evaluation transform."""
        i = j // 2
        real = self.base.load_image(i)
        if j % 2 == 0:
            return real, np.zeros(real.shape[:2], np.float32)
        return self.blender(i, real, pair_rng(self.seed, 0, i))

    def sample_table(self) -> pd.DataFrame:
        if self._table is None:
            real = self.base.sample_table()
            fake = real.assign(
                video_id=real["video_id"].astype(str) + BLENDED_SUFFIX, method=self.method, label=1
            )
            both = pd.concat([real, fake], keys=[0, 1]).swaplevel().sort_index(kind="stable")
            self._table = both.reset_index(drop=True)
        return self._table

    def __getitem__(self, key: int | tuple[int, int]) -> dict[str, Any]:
        j = key[1] if isinstance(key, tuple) else int(key)
        image, mask = self.sample(j)
        out = self.transform(image=image, mask=mask)
        return {
            "image": to_tensor(out["image"]),
            "label": torch.tensor(self.labels[j]),
            "mask": mask_tensor(out["mask"]),
            "video_idx": torch.tensor(self.video_idx[j]),
            "video_id": self.video_names[self.video_idx[j]],
            "index": torch.tensor(j),
        }
