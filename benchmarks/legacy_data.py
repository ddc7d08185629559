"""Frozen baseline for ``bench_data_scale.py``: the crop-manifest loading path as it was at commit
31809676ebfb78617293804170ab6cee52484beb (``git show 3180967:dfd/data/datamodule.py`` and
``git show 3180967:dfd/preprocessing/manifest.py``).

``manifest.csv`` read with pandas; every crop path and video id one Python ``str`` in a list, which
forked DataLoader workers copy page by page as they touch the reference counts. Kept here, unchanged
in behaviour, so the benchmark can compare the in-tree :class:`~dfd.data.datamodule.FaceCropDataModule`
against it after that module changes. Nothing in ``dfd.data.datamodule`` or ``dfd.preprocessing.manifest``
is imported: both are being rewritten. Helpers that are not (``carve``, the transforms) are imported.

:func:`load_datasets` does what ``FaceCropDataModule.prepare_data()`` then ``setup()`` did with its
defaults (``frames_per_video``, ``max_samples_per_class``, ``train_methods``, ``minority_strength``
and ``test_fraction`` unset, so ``cap_per_class``, ``keep_train_methods`` and the minority transforms
were no-ops and are left out); :func:`train_loader` is its ``train_dataloader()`` without a sampler.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import albumentations as A
import cv2
import lightning.pytorch  # noqa: F401  (the old module subclassed LightningDataModule: see below)
import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader, Dataset

from dfd.data.augment import check_augment
from dfd.data.transforms import (
    InputSpec,
    build_eval_transform,
    build_train_transform,
    seed_transforms,
    seed_worker_transforms,
    to_tensor,
)
from dfd.raw.splits import carve

log = logging.getLogger(__name__)

COMMIT = "31809676ebfb78617293804170ab6cee52484beb"
STATUS_OK = "ok"
MANIFEST_CSV = "manifest.csv"
MANIFEST_META = "manifest.json"
SPLITS = ("train", "val", "test")
SPLIT_SEEDS = {"train": 0, "val": 1, "test": 2}
SAMPLE_COLUMNS = ("video_id", "frame_idx", "crop_path", "method", "split", "label")

#: pandas 3 stores ``str`` columns in Arrow when pyarrow is installed, as Python objects otherwise.
#: At that commit the environment had no pyarrow, so the measured baseline (one Python object per
#: string in every frame too) is pinned here; pyarrow arriving with the Parquet manifest would
#: otherwise change the baseline under the benchmark.
STRING_STORAGE = "python"

cv2.setNumThreads(1)

# The old module imported Lightning in the main process (``LightningDataModule``). Without it here,
# each forked worker would import ``lightning.fabric`` itself in ``seed_worker_transforms`` and
# start with ~200 MB of private memory that a training run never sees.


def read_manifest(root: str | Path) -> tuple[pd.DataFrame, dict[str, Any]]:
    """``manifest.csv`` and ``manifest.json`` of ``root`` (the CSV-only reader of that commit)."""
    root = Path(root)
    path = root / MANIFEST_CSV
    if not path.is_file():
        raise FileNotFoundError(f"no crop manifest at {path}")
    rows = pd.read_csv(path, dtype={"video_id": str, "group": str, "method": str, "split": str})
    meta_path = root / MANIFEST_META
    meta = json.loads(meta_path.read_text()) if meta_path.is_file() else {}
    return rows, meta


def sample_seed(seed: int, epoch: int, index: int) -> int:
    """The augmentation seed of one sample in one epoch."""
    return int(np.random.SeedSequence([seed, epoch, index]).generate_state(1)[0])


class FrameDataset(Dataset):
    """Face crops listed by manifest rows; yields dicts ``image, label, video_idx, video_id, index``."""

    takes_epoch = True

    def __init__(
        self,
        root: str | Path,
        rows: pd.DataFrame,
        transform: Callable[..., dict[str, Any]],
        label_transforms: Mapping[int, Callable[..., dict[str, Any]]] | None = None,
    ) -> None:
        root = Path(root)
        self.table = rows.reindex(columns=list(SAMPLE_COLUMNS)).reset_index(drop=True)
        self.table["crop_path"] = [str(root / p) for p in self.table["crop_path"]]
        self.paths = [str(root / p) for p in rows["crop_path"]]
        self.labels = rows["label"].to_numpy(dtype=np.float32)
        self.video_ids = rows["video_id"].astype(str).tolist()
        self.video_names = sorted(set(self.video_ids))
        index = {v: i for i, v in enumerate(self.video_names)}
        self.video_idx = np.array([index[v] for v in self.video_ids], dtype=np.int64)
        self.transform = transform
        self.label_transforms = dict(label_transforms or {})
        self.augment_seed: int | None = None

    def __len__(self) -> int:
        return len(self.paths)

    def load_image(self, i: int) -> np.ndarray:
        """The i-th crop as an RGB uint8 HWC array."""
        img = cv2.imread(self.paths[i], cv2.IMREAD_COLOR)
        if img is None:
            raise OSError(f"cannot read face crop {self.paths[i]}: re-run preprocessing for this dataset")
        return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)

    def __getitem__(self, key: int | tuple[int, int]) -> dict[str, Any]:
        epoch, i = key if isinstance(key, tuple) else (None, key)
        transform = self.label_transforms.get(int(self.labels[i]), self.transform)
        if epoch is not None and self.augment_seed is not None and isinstance(transform, A.Compose):
            transform.set_random_seed(sample_seed(self.augment_seed, epoch, i))
        image = transform(image=self.load_image(i))["image"]
        return {
            "image": to_tensor(image),
            "label": torch.tensor(self.labels[i]),
            "video_idx": torch.tensor(self.video_idx[i]),
            "video_id": self.video_ids[i],
            "index": torch.tensor(i),
        }


def subsample_frames(rows: pd.DataFrame, frames_per_video: int | None) -> pd.DataFrame:
    """Keep at most ``frames_per_video`` evenly spaced crops of each video."""
    if not frames_per_video:
        return rows
    rows = rows.sort_values(["video_id", "frame_idx"])

    def pick(group: pd.DataFrame) -> pd.DataFrame:
        if len(group) <= frames_per_video:
            return group
        idx = np.linspace(0, len(group) - 1, frames_per_video).round().astype(int)
        return group.iloc[idx]

    return rows.groupby("video_id", group_keys=False, sort=False)[rows.columns.tolist()].apply(pick)


def carve_val_if_missing(rows: pd.DataFrame, val_fraction: float, seed: int) -> pd.DataFrame:
    """Give ``rows`` a ``val`` split carved from ``train`` (whole groups, stratified) when they have none."""
    if (rows["split"] == "val").any() or not (rows["split"] == "train").any() or val_fraction <= 0:
        return rows
    train = rows[rows["split"] == "train"]
    videos = train.drop_duplicates("video_id")
    groups = videos["group"].fillna(videos["video_id"]).astype(str)
    chosen = carve(videos["label"].astype(int).tolist(), groups.tolist(), val_fraction, seed)
    val_ids = set(videos["video_id"][chosen])
    rows = rows.copy()
    rows.loc[rows["video_id"].isin(val_ids) & (rows["split"] == "train"), "split"] = "val"
    return rows


def choose_label(rows: pd.DataFrame, which: str = "any") -> pd.DataFrame:
    """``rows`` with the chosen modality's label where the manifest has one."""
    column = {"video": "label_video", "audio": "label_audio"}.get(which)
    if column is None or column not in rows or rows[column].isna().all():
        return rows
    rows = rows.copy()
    rows["label"] = rows[column].fillna(rows["label"]).astype(int)
    return rows


def carve_test_if_missing(rows: pd.DataFrame, test_fraction: float | None, seed: int) -> pd.DataFrame:
    """Give ``rows`` a ``test`` split carved from ``train`` when they have none and ``test_fraction`` is set."""
    if not test_fraction or (rows["split"] == "test").any() or not (rows["split"] == "train").any():
        return rows
    train = rows[rows["split"] == "train"]
    videos = train.drop_duplicates("video_id")
    groups = videos["group"].fillna(videos["video_id"]).astype(str)
    chosen = carve(videos["label"].astype(int).tolist(), groups.tolist(), test_fraction, seed + 7)
    test_ids = set(videos["video_id"][chosen])
    rows = rows.copy()
    rows.loc[rows["video_id"].isin(test_ids) & (rows["split"] == "train"), "split"] = "test"
    return rows


def leaked_groups(rows: pd.DataFrame) -> dict[str, list[str]]:
    """``{group: its splits}`` for every group whose videos sit in more than one split."""
    if "group" not in rows or rows.empty:
        return {}
    groups = rows["group"].fillna(rows["video_id"]).astype(str)
    splits = rows.groupby(groups)["split"].agg(lambda s: sorted(set(s)))
    return {g: v for g, v in splits.items() if len(v) > 1}


def prepare_rows(
    rows: pd.DataFrame, label: str, val_fraction: float, test_fraction: float | None, seed: int
) -> pd.DataFrame:
    """Usable rows, the chosen label, val (and test) carved where the manifest has none."""
    ok = rows["status"].fillna(STATUS_OK) == STATUS_OK
    rows = choose_label(rows[ok], label)
    rows = carve_val_if_missing(rows, val_fraction, seed)
    return carve_test_if_missing(rows, test_fraction, seed)


def audit(root: str, rows: pd.DataFrame, meta: Mapping[str, Any], leak_check: str = "refuse") -> None:
    """``verify()``'s checks: unfinished preprocessing and groups in two splits."""
    if int(meta.get("pending", 0) or 0):
        raise RuntimeError(f"{root}: preprocessing has videos still pending")
    leaks = leaked_groups(rows)
    if leaks and leak_check == "refuse":
        raise RuntimeError(f"{root}: {len(leaks)} groups have videos in more than one split")


@dataclass
class LegacyData:
    """What the old ``FaceCropDataModule`` held after ``setup()``: the prepared rows (``_rows``),
    the unusable ones (``skipped``), the manifest's metadata and one dataset per split."""

    rows: pd.DataFrame
    skipped: pd.DataFrame
    meta: dict[str, Any]
    datasets: dict[str, FrameDataset]


def load_datasets(
    root: str,
    input_spec: InputSpec,
    val_fraction: float = 0.1,
    seed: int = 0,
    label: str = "video",
    test_fraction: float | None = None,
    frames_per_video: int | None = None,
    augment: Mapping[str, Any] | None = None,
    leak_check: str = "refuse",
) -> LegacyData:
    """``prepare_data()`` (read, prepare, audit) then ``setup()``: one :class:`FrameDataset` per split,
    with pandas' strings stored as Python objects (:data:`STRING_STORAGE`)."""
    with pd.option_context("mode.string_storage", STRING_STORAGE):
        return _load_datasets(
            root, input_spec, val_fraction, seed, label, test_fraction, frames_per_video, augment, leak_check
        )


def _load_datasets(
    root: str,
    input_spec: InputSpec,
    val_fraction: float,
    seed: int,
    label: str,
    test_fraction: float | None,
    frames_per_video: int | None,
    augment: Mapping[str, Any] | None,
    leak_check: str,
) -> LegacyData:
    if not (Path(root) / MANIFEST_CSV).is_file():
        raise FileNotFoundError(f"No face-crop manifest at {Path(root) / MANIFEST_CSV}")
    manifest, meta = read_manifest(root)
    skipped = manifest[~(manifest["status"].fillna(STATUS_OK) == STATUS_OK)]
    rows = prepare_rows(manifest, label, val_fraction, test_fraction, seed)
    del manifest  # the old module kept only the prepared rows and the skipped ones
    audit(root, rows, meta, leak_check)
    selected = subsample_frames(rows, frames_per_video)
    augment = check_augment(augment)
    datasets = {}
    for split in SPLITS:
        part = selected[selected["split"] == split]
        if split == "train":
            transform = build_train_transform(input_spec, augment)
        else:
            transform = build_eval_transform(input_spec)
        datasets[split] = FrameDataset(root, part.reset_index(drop=True), transform)
        if split != "train" and len(part) and part["label"].nunique() < 2:
            log.warning("the %s split of %s has one class only", split, root)
    return LegacyData(rows=rows, skipped=skipped, meta=meta, datasets=datasets)


def train_loader(dataset: FrameDataset, batch_size: int, num_workers: int) -> DataLoader:
    """The training DataLoader that ``train_dataloader()`` built without a sampler: shuffled."""
    seed_transforms(dataset, int(torch.randint(2**31, ()).item()))
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=True,
        num_workers=num_workers,
        pin_memory=False,
        persistent_workers=num_workers > 0,
        worker_init_fn=seed_worker_transforms if num_workers > 0 else None,
        drop_last=False,
        generator=torch.Generator().manual_seed((torch.initial_seed() + SPLIT_SEEDS["train"]) % 2**63),
    )
