"""Image transforms built from a model's declared input contract.

A model declares its :class:`~dfd.core.input_spec.InputSpec` once (size, mean, std); the data side reads it, so the
two cannot disagree. Augmentations use albumentations, which works on uint8 HWC numpy arrays.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")  # its import otherwise calls the network

import albumentations as A  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from dfd.core.input_spec import InputSpec  # noqa: E402
from dfd.core.moved import moved_name  # noqa: E402
from dfd.data.augment import augment_pipeline  # noqa: E402


def build_eval_transform(spec: InputSpec) -> A.Compose:
    """Resize to the model's size and normalise: the one evaluation and inference transform."""
    return A.Compose([A.Resize(spec.size, spec.size), A.Normalize(mean=spec.mean, std=spec.std)])


def build_train_transform(
    spec: InputSpec, augment: Mapping[str, Any] | bool | None = None, strength: float | None = None
) -> A.Compose:
    """The training transform of an augmentation config (:mod:`dfd.data.augment`), then the
    model's normalisation. ``augment=None`` is the ``default`` preset: random resized crop, flip,
    JPEG, blur, noise and colour. ``strength`` (0 to 3) overrides ``augment.strength``; the
    minority-class pipeline uses a larger value.
    """
    ops = augment_pipeline(spec.size, augment, strength)
    return A.Compose([*ops, A.Normalize(mean=spec.mean, std=spec.std)])


def seed_transforms(dataset: Any, seed: int) -> None:
    """Seed the albumentations pipelines of ``dataset`` (``transform`` and ``label_transforms``).

    albumentations 2 keeps its own random state per ``Compose`` and ignores global seeds, so
    without this ``seed_everything`` does not reproduce the augmentations.
    """
    pipelines = [getattr(dataset, "transform", None), *getattr(dataset, "label_transforms", {}).values()]
    for k, pipeline in enumerate(p for p in pipelines if isinstance(p, A.Compose)):
        pipeline.set_random_seed((seed + k) % 2**32)


def sample_seed(seed: int, epoch: int, index: int) -> int:
    """The augmentation seed of one sample in one epoch: a hash of the three, not a sum, so that
    neighbouring samples and epochs get unrelated streams."""
    return int(np.random.SeedSequence([seed, epoch, index]).generate_state(1)[0])


def split_key(key: int | tuple[int, int]) -> tuple[int | None, int]:
    """``(epoch, index)`` of a dataset key: a sampler's ``(epoch, index)`` pair (``tag_epoch``), or
    a plain index, whose epoch is unknown (``None``)."""
    if isinstance(key, tuple):
        epoch, index = key
        return int(epoch), int(index)
    return None, int(key)


def seed_for_sample(transform: Any, augment_seed: int | None, epoch: int | None, index: int) -> Any:
    """``transform``, its random state set from :func:`sample_seed` when the epoch and the dataset's
    ``augment_seed`` are known and it is an albumentations pipeline (otherwise left as it is, drawing
    on from its own stream). Every dataset with ``takes_epoch`` seeds its samples through this."""
    if epoch is not None and augment_seed is not None and isinstance(transform, A.Compose):
        transform.set_random_seed(sample_seed(augment_seed, epoch, index))
    return transform


def seed_worker_transforms(worker_id: int) -> None:
    """DataLoader ``worker_init_fn``: each worker (and DDP rank) its own augmentation stream.

    torch seeds every worker with ``base_seed + worker_id``, where ``base_seed`` comes from the
    main process's seeded generator, so the streams are reproducible and differ between workers.
    Lightning's own worker seeding (numpy, random) still runs under ``seed_everything(workers=True)``.
    """
    from lightning.fabric.utilities.rank_zero import rank_zero_only
    from lightning.fabric.utilities.seed import pl_worker_init_function

    if os.environ.get("PL_SEED_WORKERS") == "1":
        pl_worker_init_function(worker_id)
    info = torch.utils.data.get_worker_info()
    rank = int(getattr(rank_zero_only, "rank", 0) or 0)
    seed_transforms(info.dataset, info.seed + 1_000_003 * rank)


def to_tensor(image: np.ndarray) -> torch.Tensor:
    """HWC float32 array → CHW tensor (no copy of the values beyond the transpose)."""
    return torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))


def __getattr__(name: str) -> Any:
    """Names that moved to another module answer here, with a warning (:mod:`dfd.core.moved`)."""
    return moved_name(__name__, name)
