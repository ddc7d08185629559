"""Face-crop datasets and the :class:`FaceCropDataModule` built from a crop manifest.

Every image dataset in dfd (the synthetic one, FF++, Celeb-DF, DFDC, folders) ends up as a
manifest (see :mod:`dfd.preprocessing.manifest`); this module turns one into DataLoaders. The model's
declared :class:`~dfd.core.input_spec.InputSpec` decides size and normalisation.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pandas as pd
import torch
from lightning.pytorch import LightningDataModule
from torch.utils.data import DataLoader, Dataset, Sampler, default_collate

from dfd.data.augment import build_batch_mix, check_augment
from dfd.data.clips import TrackClipDataset, check_clip_settings, clip_span, track_column
from dfd.data.compact import Coded, PackedStrings, RootedPaths
from dfd.data.packed import PackedReader, decode_image, find_packed, read_pack_meta, samples_digest
from dfd.data.samplers import RandomSampler
from dfd.data.self_blended import FAKES, BlendedEvalSet, BlendedPairs, Blender, flatten_pairs, mask_tensor
from dfd.data.transforms import (
    InputSpec,
    build_eval_transform,
    build_train_transform,
    sample_seed,  # noqa: F401  (its home was here: still importable from here)
    seed_for_sample,
    seed_transforms,
    seed_worker_transforms,
    split_key,
    to_tensor,
)
from dfd.preprocessing.fingerprint import fingerprint
from dfd.preprocessing.landmarks import landmark_array
from dfd.preprocessing.manifest import (
    LANDMARK_COLUMN,
    MANIFEST_PARQUET,
    STATUS_OK,
    manifest_exists,
    read_usable,
)
from dfd.raw.splits import carve

log = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")

cv2.setNumThreads(1)  # DataLoader workers give the parallelism; OpenCV's own threads would fight them


#: Manifest columns that describe a sample in reports (``predictions.csv``, results by method).
SAMPLE_COLUMNS = ("video_id", "frame_idx", "crop_path", "method", "split", "label")


def normalised_paths(relative: pd.Series) -> Any:
    """A crop-path column as one Arrow string array, missing → ``""`` (vectorised)."""
    import pyarrow as pa

    array = pa.array(relative, from_pandas=True)
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if not (pa.types.is_string(array.type) or pa.types.is_large_string(array.type)):
        array = pa.array(relative.astype(object).where(relative.notna(), None), pa.string(), from_pandas=True)
    return array


class FrameDataset(Dataset):
    """Face crops listed by manifest rows; yields dicts ``image, label, video_idx, video_id, index``
    (with ``masks``: also ``mask`` and ``mask_valid``, see :meth:`load_mask`).

    ``index`` is the sample's position in the dataset: under DDP the gathered outputs are
    de-duplicated by it (Lightning's ``DistributedSampler`` pads by repeating samples) and reports
    look the sample up by it (:meth:`sample_table`). ``label_transforms`` maps a label to its own
    transform (stronger augmentation for the minority class); other labels use ``transform``.

    A key may be ``(epoch, index)`` (dfd's training samplers with ``tag_epoch``): the sample's
    augmentation is then seeded from ``(augment_seed, epoch, index)``, so it is the same whichever
    worker, rank or resumed run loads it.

    Every per-sample column is a numpy array or packed strings (:mod:`dfd.data.compact`), never
    a Python object per row, so forked DataLoader workers keep sharing its memory through the
    epoch however many crops there are.
    """

    #: keys may be ``(epoch, index)`` pairs (see the class docstring)
    takes_epoch = True

    def __init__(
        self,
        root: str | Path,
        rows: pd.DataFrame,
        transform: Callable[..., dict[str, Any]],
        label_transforms: Mapping[int, Callable[..., dict[str, Any]]] | None = None,
        masks: bool = False,
    ) -> None:
        # absolute on access (evidence to open), stored relative to the root
        self.paths = RootedPaths(str(Path(root)), PackedStrings(normalised_paths(rows["crop_path"])))
        #: with ``masks``: each sample's manipulation mask file, "" where none is known (manifest ``mask_path``)
        self.mask_paths: RootedPaths | None = None
        if masks:
            column = rows["mask_path"] if "mask_path" in rows else pd.Series([None] * len(rows), dtype=object)
            self.mask_paths = RootedPaths(str(Path(root)), PackedStrings(normalised_paths(column)))
        self.labels = rows["label"].to_numpy(dtype=np.float32)
        # a dense index per video (sorted ids), so video-level metrics can be gathered as tensors under DDP
        self.video_ids = Coded.factorize(rows["video_id"])
        self.video_ids.codes = self.video_idx = self.video_ids.codes.astype(np.int64)  # one array, shared
        self.video_names = self.video_ids.vocabulary
        frames = rows["frame_idx"] if "frame_idx" in rows else pd.Series(np.zeros(len(rows)))
        self.frame_idx = pd.to_numeric(frames, errors="coerce").fillna(-1).to_numpy(dtype=np.int32)
        self.method = Coded.factorize(rows["method"] if "method" in rows else pd.Series([""] * len(rows)))
        self.split = Coded.factorize(rows["split"] if "split" in rows else pd.Series([""] * len(rows)))
        #: each sample's source real video as a ``video_idx`` (-1: a real, or a fake whose source is
        #: unknown or not in these rows), from the manifest's ``source_video``; None without that column
        self.source_idx = (
            pd.Index(self.video_names.tolist())
            .get_indexer(rows["source_video"].fillna("").astype(str))
            .astype(np.int64)
            if "source_video" in rows
            else None
        )
        self.transform = transform
        self.label_transforms = dict(label_transforms or {})
        self.augment_seed: int | None = None
        self._table: pd.DataFrame | None = None

    def __len__(self) -> int:
        return len(self.labels)

    def sample_table(self) -> pd.DataFrame:
        """One row per sample, in dataset order: video id, frame, crop path, method, split, label
        (built on first use, for reports)."""
        if self._table is None:
            self._table = pd.DataFrame(
                {
                    "video_id": self.video_ids.tolist(),
                    "frame_idx": self.frame_idx,
                    "crop_path": self.paths.tolist(),
                    "method": self.method.tolist(),
                    "split": self.split.tolist(),
                    "label": self.labels.astype(np.int64),
                },
                columns=list(SAMPLE_COLUMNS),
            )
        return self._table

    def load_image(self, i: int) -> np.ndarray:
        """The i-th crop as an RGB uint8 HWC array."""
        path = self.paths[i]
        img = cv2.imread(path, cv2.IMREAD_COLOR)
        if img is None:
            raise OSError(f"cannot read face crop {path}: re-run preprocessing for this dataset")
        return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)

    def load_mask(self, i: int, shape: tuple[int, ...]) -> tuple[np.ndarray, bool]:
        """``(mask uint8 HxW, valid)`` of sample ``i`` at its crop's ``shape``: its manipulation mask
        (0/255, :mod:`dfd.preprocessing.frames`); all zero and valid for a real crop (nothing in it is
        forged); all zero and *not* valid for a fake whose mask is unknown, so that it never teaches
        a localisation head that a forged face is clean."""
        h, w = shape[:2]
        path = self.mask_paths[i] if self.mask_paths is not None else ""
        if not path:
            return np.zeros((h, w), np.uint8), bool(self.labels[i] == 0)
        mask = cv2.imread(path, cv2.IMREAD_GRAYSCALE)
        if mask is None:
            raise OSError(f"cannot read manipulation mask {path}: re-run preprocessing for this dataset")
        if mask.shape != (h, w):
            mask = cv2.resize(mask, (w, h), interpolation=cv2.INTER_NEAREST)
        return mask, True

    def __getitem__(self, key: int | tuple[int, int]) -> dict[str, Any]:
        epoch, i = split_key(key)
        label = self.labels[i]
        transform = seed_for_sample(
            self.label_transforms.get(int(label), self.transform), self.augment_seed, epoch, i
        )
        masked: dict[str, Any] = {}
        if self.mask_paths is None:
            image = transform(image=self.load_image(i))["image"]
        else:  # the mask follows the image's geometric transforms (albumentations' mask target)
            image = self.load_image(i)
            mask, valid = self.load_mask(i, image.shape)
            out = transform(image=image, mask=mask)
            image = out["image"]
            masked = {"mask": mask_tensor(out["mask"] > 127), "mask_valid": torch.tensor(valid)}
        return {
            "image": to_tensor(image),
            "label": torch.tensor(label),
            "video_idx": torch.tensor(self.video_idx[i]),
            "video_id": self.video_ids[i],
            "index": torch.tensor(i),
            **masked,
        }


class PackedFrameDataset(FrameDataset):
    """A :class:`FrameDataset` whose crops come from a LitData pack (``data.format=packed``) instead
    of one file each; rows, labels, transforms and sample indices are the same."""

    def __init__(
        self,
        root: str | Path,
        rows: pd.DataFrame,
        transform,
        label_transforms=None,
        *,
        packed: str | Path,
        masks: bool = False,
    ) -> None:
        super().__init__(root, rows, transform, label_transforms, masks=masks)  # masks: read from their files
        self.reader = PackedReader(packed)

    def load_image(self, i: int) -> np.ndarray:
        return decode_image(self.reader[i]["image"], f"sample {i} in {self.reader.directory}")


#: ``data.masks`` choices: manipulation masks in the samples when the model localises, always, never
MASK_CHOICES = ("auto", "true", "false")

#: ``data.format`` choices: crops read from their files, or from their pack (``dfd.pack``).
FORMATS = ("files", "packed")
#: ``data.format`` values of earlier versions (kept in their runs' config.yaml) → today's
FORMAT_ALIASES = {"shards": "packed"}


def release_arrow_memory() -> None:
    """Return the memory that Arrow's allocator and glibc's keep after large frames are freed (both
    hold on to it otherwise, and forked workers would inherit it)."""
    import ctypes
    import ctypes.util

    import pyarrow as pa

    pa.default_memory_pool().release_unused()
    libc = ctypes.util.find_library("c")
    if libc:
        try:
            ctypes.CDLL(libc).malloc_trim(0)
        except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to trim
            pass


def sampler_takes_batch_size(factory: Callable[..., Sampler]) -> bool:
    """Whether a sampler factory (a class, or a ``functools.partial`` of one) wants the batch size."""
    target = getattr(factory, "func", factory)
    return bool(getattr(target, "takes_batch_size", False))


def sampler_takes_source_idx(factory: Callable[..., Sampler]) -> bool:
    """Whether a sampler factory wants each sample's source real video (``source_idx=``, ``dataset=``)."""
    target = getattr(factory, "func", factory)
    return bool(getattr(target, "takes_source_idx", False))


def freeze_for_workers() -> None:
    """Keep forked DataLoader workers from copying the parent's memory page by page.

    A worker's cyclic garbage collector writes the header of every container object it inherited
    (the whole interpreter: modules, torch, pandas), so each worker slowly copies those pages:
    measured 139 MB per worker over one epoch of a 400k-crop dataset. ``gc.freeze()`` right
    before the fork moves those objects out of the collector's reach, as the Python docs advise
    for fork servers; they are still freed by reference counting. (The dataset's own columns are
    packed arrays, so reading them writes nothing either.)
    """
    gc.collect()
    gc.freeze()


#: Offsets of each split's DataLoader generator from the run's seed.
SPLIT_SEEDS = {"train": 0, "val": 1, "test": 2}


def subsample_frames(rows: pd.DataFrame, frames_per_video: int | None) -> pd.DataFrame:
    """Keep at most ``frames_per_video`` evenly spaced crops of each video (vectorised: one
    lookup table per distinct video length, not a Python call per video)."""
    if not frames_per_video:
        return rows
    rows = rows.sort_values(["video_id", "frame_idx"], kind="stable")
    by_video = rows.groupby("video_id", sort=False)
    position = by_video.cumcount().to_numpy()
    size = by_video["video_id"].transform("size").to_numpy()
    keep = size <= frames_per_video
    for n in np.unique(size[~keep]):
        chosen = np.zeros(n, dtype=bool)
        chosen[np.linspace(0, n - 1, frames_per_video).round().astype(int)] = True
        at = size == n
        keep[at] = chosen[position[at]]
    return rows[keep]


def cap_per_class(rows: pd.DataFrame, max_samples_per_class: int | None, seed: int) -> pd.DataFrame:
    """Keep at most ``max_samples_per_class`` crops of each label, drawn by whole videos."""
    if not max_samples_per_class:
        return rows
    rng = np.random.default_rng(seed)
    kept = []
    for _, cls in rows.groupby("label"):
        videos = cls["video_id"].unique()
        rng.shuffle(videos)
        sizes = cls.groupby("video_id").size().loc[videos].cumsum()
        keep = set(sizes.index[sizes <= max_samples_per_class]) or {videos[0]}
        kept.append(cls[cls["video_id"].isin(keep)])
    return pd.concat(kept)


def carve_val_if_missing(rows: pd.DataFrame, val_fraction: float, seed: int) -> pd.DataFrame:
    """Give ``rows`` a ``val`` split carved from ``train`` when they have none.

    Whole videos move, stratified by label and grouped by ``group`` (identity or pair), so no
    group ends up in two splits.
    """
    if (rows["split"] == "val").any() or not (rows["split"] == "train").any() or val_fraction <= 0:
        return rows
    train = rows[rows["split"] == "train"]
    videos = train.drop_duplicates("video_id")
    groups = videos["group"].fillna(videos["video_id"]).astype(str)
    chosen = carve(videos["label"].astype(int).tolist(), groups.tolist(), val_fraction, seed)
    val_ids = set(videos["video_id"][chosen])
    rows = rows.copy()
    rows.loc[rows["video_id"].isin(val_ids) & (rows["split"] == "train"), "split"] = "val"
    log.info("no val split in the manifest: carved %d of %d train videos as val", len(val_ids), len(videos))
    return rows


#: ``data.label`` choices: which modality's manipulation makes a sample fake.
LABELS = ("any", "video", "audio")


def choose_label(rows: pd.DataFrame, which: str = "any") -> pd.DataFrame:
    """``rows`` whose ``label`` is the chosen one: ``video`` or ``audio`` from the manifest's
    per-modality columns where it has them (FakeAVCeleb), else the one ``label``."""
    column = {"video": "label_video", "audio": "label_audio"}.get(which)
    if column is None or column not in rows or rows[column].isna().all():
        return rows
    rows = rows.copy()
    rows["label"] = rows[column].fillna(rows["label"]).astype(int)
    return rows


def carve_test_if_missing(rows: pd.DataFrame, test_fraction: float | None, seed: int) -> pd.DataFrame:
    """Give ``rows`` a ``test`` split carved from ``train`` (whole groups, stratified) when they have
    none and ``test_fraction`` is set."""
    if not test_fraction or (rows["split"] == "test").any() or not (rows["split"] == "train").any():
        return rows
    train = rows[rows["split"] == "train"]
    videos = train.drop_duplicates("video_id")
    groups = videos["group"].fillna(videos["video_id"]).astype(str)
    chosen = carve(videos["label"].astype(int).tolist(), groups.tolist(), test_fraction, seed + 7)
    test_ids = set(videos["video_id"][chosen])
    rows = rows.copy()
    rows.loc[rows["video_id"].isin(test_ids) & (rows["split"] == "train"), "split"] = "test"
    log.warning(
        "no test split in the manifest: carved %d of %d train videos as test (data.test_fraction=%s), "
        "whole groups only",
        len(test_ids),
        len(videos),
        test_fraction,
    )
    return rows


def leaked_groups(rows: pd.DataFrame) -> dict[str, list[str]]:
    """``{group: its splits}`` for every group whose videos sit in more than one split."""
    if "group" not in rows or rows.empty:
        return {}
    groups = rows["group"].fillna(rows["video_id"])
    group_codes, group_names = pd.factorize(groups)
    split_codes, split_names = pd.factorize(rows["split"])
    pairs = np.unique(group_codes.astype(np.int64) * (len(split_names) + 1) + split_codes + 1)
    per_group = np.bincount(pairs // (len(split_names) + 1), minlength=len(group_names))
    leaked = np.flatnonzero(per_group > 1)
    if not len(leaked):
        return {}
    inside = np.isin(group_codes, leaked)
    splits = (
        rows.loc[inside, "split"]
        .groupby(np.asarray(groups[inside]).astype(str))
        .agg(lambda s: sorted(set(s)))
    )
    return dict(splits.items())


class FaceCropDataModule(LightningDataModule):
    """DataLoaders over a crop manifest, split by its ``split`` column.

    Args:
        root: folder holding the manifest (``manifest.parquet``, or ``manifest.csv``) and the crops.
        input_spec: the model's input contract; set by ``dfd.train`` from ``model.net.input_spec``.
        batch_size: per-process batch size.
        num_workers: DataLoader worker processes.
        frames_per_video: crops used per video (evenly spaced); ``None`` uses all.
        max_samples_per_class: cap on training crops per label; ``None`` uses all.
        sampler: factory ``(labels=, video_idx=, [batch_size=], [source_idx=, dataset=]) -> Sampler``
            for the training split (the ``sampler/`` group, see :mod:`dfd.data.samplers`); ``None``
            shuffles.
        minority_strength: when set, the training class with fewer crops gets augmentation of
            this strength (``augment.strength`` for that class; 1.0 is the default).
        missing_hint: the command that creates the manifest, shown when it is absent.
        raw_dir: the raw dataset folder the manifest is made from (read by ``dfd.preprocess``).
        layout: a no-argument callable listing the raw dataset's records (a partial of a
            ``dfd.data.layouts`` parser); ``dfd.preprocess`` calls it, training does not.
        val_fraction: share of train carved out as validation, stratified by label and grouped
            by ``group``, when the manifest has no ``val`` rows (Celeb-DF, folders).
        augment: the training augmentation (the ``augment=`` config group, see
            :mod:`dfd.data.augment`); ``None`` is the ``default`` preset. Only the training split
            is augmented; ``batch_mix`` (MixUp, CutMix) mixes training batches on the device.
        format: ``files`` (each crop from its file) or ``packed`` (from the LitData chunks that
            ``python -m dfd.pack data=<name>`` writes under ``<root>/packed``; same samples).
            ``shards``, its name in earlier versions, is read as ``packed`` with a warning.
        augment_strength: deprecated spelling of ``augment.strength`` (kept so that runs saved
            by earlier versions load); overrides it when set.
        label: which label a sample carries: ``video`` (the face is fake; the default for frame
            models), ``audio`` (the voice is fake) or ``any`` (either is). Manifests without per-modality labels (every
            dataset but FakeAVCeleb) have one label, used for all three.
        test_fraction: share carved out as a test split (grouped, stratified) when the manifest
            has none; null leaves it without one (``dfd.train`` then skips testing up front).
        leak_check: ``refuse`` (training stops), ``warn`` or ``off`` when a group (an identity,
            an FF++ pair, a source video) has videos in two splits.
        allow_incomplete: train on a manifest whose preprocessing has videos still pending.
        train_methods: train on the fakes of these manipulation methods only (with every real);
            test keeps all methods. ``None`` trains on all.
        val_follows_train_methods: validation keeps only the fakes of ``train_methods`` too, so
            that a method left out of training (FF++'s FaceShifter) is unseen until test, also
            by checkpoint selection. Off: validation keeps all methods.
        test_methods: test keeps only the fakes of these methods (with every real): a test set of
            its own from one dataset's crops (``data=faceshifter``: FF++'s FaceShifter fakes and FF++'s
            test reals). ``None`` keeps all.
        fakes: where training fakes come from: ``dataset`` (its own), ``self_blended`` (SBI: each
            real crop blended with a transformed copy of itself) or ``blended`` (Face X-ray: with
            the nearest-landmark real crop of another video); see :mod:`dfd.data.self_blended`.
            The blending modes train on the real crops only, each batch pairing every real with
            its blend, and need landmarks beside the crops (``preprocess.landmarks``). Validation
            and test keep the dataset's fakes where a split has them, and are otherwise its reals
            and one fixed blend of each.
        val_fakes: with blended training fakes, ``blended`` validates (and so selects checkpoints)
            on the val split's reals and one fixed blend of each even where the split has fakes
            of its own, as the SBI paper selects: no real fake is then seen in any form before
            test. ``dataset`` (the default) keeps the split's own fakes.
        clips: samples are clips of ``clip_len`` crops of one face track (temporal models;
            :class:`~dfd.data.clips.TrackClipDataset`) instead of single crops. Samplers then draw
            clips (one label per clip); MixUp/CutMix, blended fakes and ``frames_per_video`` are
            refused with it.
        clip_len: crops per clip (T).
        clip_stride: take every ``clip_stride``-th crop of a track (1: consecutive crops).
        clips_per_track: clips cut from each track: ``None`` every non-overlapping one, N evenly
            spaced ones.
        masks: single-crop samples carry their manipulation mask (manifest ``mask_path``, FF++/DFD
            mask videos) as ``mask`` ``[1, S, S]`` in {0, 1}, transformed with the image, and
            ``mask_valid`` (reals: a zero mask, valid; fakes without a mask: not valid), the pixel
            labels of a localisation head: ``auto`` when the model localises (:meth:`set_localization`)
            and the manifest has masks, ``true`` always (refused without masks), ``false`` never.
    """

    #: keep only real samples in every split (the clip module's AVFF stage 1); one-class splits are then
    #: the design, not a warning
    real_only = False

    def __init__(
        self,
        root: str,
        input_spec: InputSpec | None = None,
        batch_size: int = 32,
        num_workers: int = 0,
        pin_memory: bool = False,
        frames_per_video: int | None = None,
        max_samples_per_class: int | None = None,
        seed: int = 0,
        sampler: Callable[..., Sampler] | None = None,
        minority_strength: float | None = None,
        missing_hint: str = "python -m dfd.preprocess data=<name> data.raw_dir=<raw dataset folder>",
        raw_dir: str | None = None,
        layout: Callable[[], list] | None = None,
        val_fraction: float = 0.1,
        augment: Mapping[str, Any] | bool | None = None,
        augment_strength: float | None = None,
        format: str = "files",
        label: str = "video",
        test_fraction: float | None = None,
        leak_check: str = "refuse",
        allow_incomplete: bool = False,
        train_methods: list[str] | None = None,
        val_follows_train_methods: bool = False,
        test_methods: list[str] | None = None,
        fakes: str = "dataset",
        val_fakes: str = "dataset",
        clips: bool = False,
        clip_len: int = 8,
        clip_stride: int = 1,
        clips_per_track: int | None = None,
        masks: str | bool = "auto",
    ) -> None:
        super().__init__()
        masks = {True: "true", False: "false"}.get(masks, masks) if isinstance(masks, bool) else str(masks)
        if masks not in MASK_CHOICES:
            raise ValueError(f"data.masks={masks!r}: expected one of {list(MASK_CHOICES)}")
        self.masks = masks
        #: whether the model trained or scored on these data localises (set by dfd.train and dfd.eval)
        self.localization = False
        if fakes not in FAKES:
            raise ValueError(f"data.fakes={fakes!r}: expected one of {list(FAKES)}")
        if val_fakes not in ("dataset", "blended"):
            raise ValueError(f"data.val_fakes={val_fakes!r}: expected dataset or blended")
        if label not in LABELS:
            raise ValueError(f"data.label={label!r}: expected one of {list(LABELS)}")
        if format in FORMAT_ALIASES:
            log.warning("data.format=%s is deprecated: use data.format=%s", format, FORMAT_ALIASES[format])
            format = FORMAT_ALIASES[format]
        if format not in FORMATS:
            raise ValueError(f"data.format={format!r}: expected one of {list(FORMATS)}")
        if leak_check not in ("refuse", "warn", "off"):
            raise ValueError(f"data.leak_check={leak_check!r}: expected refuse, warn or off")
        self.root = str(root)
        self.input_spec = input_spec
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.pin_memory = pin_memory
        self.frames_per_video = frames_per_video
        self.max_samples_per_class = max_samples_per_class
        self.seed = seed
        self.missing_hint = missing_hint
        self.sampler = sampler
        self.minority_strength = minority_strength
        self.raw_dir = raw_dir
        self.layout = layout
        self.val_fraction = val_fraction
        self.augment = check_augment(augment)
        if augment_strength is not None:
            self.augment["strength"] = float(augment_strength)
        self.batch_mix = build_batch_mix(self.augment)
        self.format = format
        self.label = label
        self.test_fraction = test_fraction
        self.leak_check = leak_check
        self.allow_incomplete = allow_incomplete
        self.train_methods = list(train_methods) if train_methods else None
        self.val_follows_train_methods = val_follows_train_methods
        self.test_methods = list(test_methods) if test_methods else None
        self.fakes = fakes
        self.val_fakes = val_fakes
        if fakes != "dataset" and format == "packed":
            raise ValueError(
                f"data.fakes={fakes} blends crops read from their files: use data.format=files (a pack "
                "holds the crops without their landmarks)"
            )
        self.clips = bool(clips)
        self.clip_len, self.clip_stride = int(clip_len), int(clip_stride)
        self.clips_per_track = None if clips_per_track is None else int(clips_per_track)
        if self.clips:
            self.check_clips()
        #: per split, the real crops blends are made from (``fakes`` other than ``dataset``)
        self.blend_sources: dict[str, tuple[FrameDataset, Blender]] = {}
        self._rows: pd.DataFrame | None = None
        self.datasets: dict[str, Dataset] = {}
        self.skipped: pd.DataFrame | None = None
        self.meta: dict[str, Any] = {}
        #: whether the single-crop datasets carry masks (decided in :meth:`setup`, :meth:`uses_masks`)
        self.with_masks = False

    # -- checks ---------------------------------------------------------------------------
    def check_clips(self) -> None:
        """Refuse, in one line each, what cannot work on clips rather than misbehave."""
        check_clip_settings(self.clip_len, self.clip_stride, self.clips_per_track)
        if self.batch_mix is not None:
            raise ValueError(
                "augment.batch_mix (MixUp/CutMix) mixes single images, not data.clips=true clips: "
                "use an augment preset without mixup/cutmix"
            )
        if self.fakes != "dataset":
            raise ValueError(
                f"data.fakes={self.fakes} blends single crops, not clips: use data.fakes=dataset with data.clips=true"
            )
        if self.frames_per_video:
            raise ValueError(
                f"data.frames_per_video={self.frames_per_video} keeps evenly spaced crops, so clips would skip "
                "frames: set data.frames_per_video=null with data.clips=true (data.clips_per_track caps the clips)"
            )

    def verify(self) -> None:
        """Fail fast, before any model is built: the crops are missing, their preprocessing is
        unfinished, or a group leaks across splits (see :meth:`audit`)."""
        if not manifest_exists(self.root):
            raise FileNotFoundError(
                f"No face-crop manifest at {(Path(self.root) / MANIFEST_PARQUET).resolve()} (or manifest.csv). "
                f"Create it with:\n    {self.missing_hint}"
            )
        self.audit(self.load_rows())

    def audit(self, rows: pd.DataFrame) -> None:
        """Refuse unfinished preprocessing and groups in two splits, naming the fix."""
        pending = int(self.meta.get("pending", 0) or 0)
        if pending and not self.allow_incomplete:
            raise RuntimeError(
                f"{self.root}: preprocessing has {pending} videos still pending (other shards, or a run that "
                f"stopped). Finish it with:\n    {self.missing_hint}\n(the same command with each "
                "preprocess.shard=i), or train on what is there with data.allow_incomplete=true"
            )
        leaks = leaked_groups(rows)
        if leaks and self.leak_check != "off":
            examples = "; ".join(f"{g} in {'+'.join(splits)}" for g, splits in list(leaks.items())[:5])
            message = (
                f"{self.root}: {len(leaks)} groups (identity, pair or source video) have videos in more than "
                f"one split, e.g. {examples}. Re-run preprocessing, whose layout parser splits by group:\n"
                f"    {self.missing_hint}\nor accept the overlap with data.leak_check=warn "
                "(python -m dfd.stats with the same data and data.leak_check=warn lists what the splits share)"
            )
            if self.leak_check == "refuse":
                raise RuntimeError(message)
            log.warning(message)

    def fingerprint(self) -> dict[str, Any]:
        """How these crops were made (:mod:`dfd.preprocessing.fingerprint`), for the checkpoint;
        crops packed as JPEG say so in ``image_format``, and track clips give their ``clip_stride``."""
        self.prepare_data()
        self.load_rows()
        out = fingerprint(self.meta, self.root)
        if self.format == "packed":
            pack = read_pack_meta(self.root, self.pack_hint)
            if pack.get("encoding") == "jpeg":
                out["image_format"] = (
                    f"jpeg q{pack.get('jpeg_quality')} (packed from {out.get('image_format')})"
                )
        if self.clips:  # how far apart a clip's crops are: dfd.predict cuts its clips alike
            out["clip_stride"] = self.clip_stride
        return out

    @property
    def pack_hint(self) -> str:
        """The command that packs this dataset's crops."""
        return self.missing_hint.replace("dfd.preprocess", "dfd.pack").split(" data.raw_dir=")[0]

    def available_splits(self) -> set[str]:
        """The splits the data has (after carving), read from the manifest without building datasets."""
        self.prepare_data()
        return set(self.load_rows()["split"].unique())

    def set_input_spec(self, spec: InputSpec) -> None:
        """Adopt the model's input contract (size, mean, std)."""
        self.input_spec = spec

    def set_localization(self, localization: bool) -> None:
        """Say whether the model localises (a mask head): with ``data.masks=auto`` its samples then
        carry the manifest's manipulation masks."""
        self.localization = bool(localization)

    def uses_masks(self, rows: pd.DataFrame) -> bool:
        """Whether single-crop samples carry masks (``data.masks``, see the class docstring)."""
        known = "mask_path" in rows and bool(rows["mask_path"].fillna("").astype(str).ne("").any())
        if self.masks == "true" and not known:
            raise ValueError(
                f"data.masks=true, and {self.root}'s manifest has no manipulation masks (column mask_path): "
                "preprocess a dataset that ships mask videos (FF++, DFD) with this version, or set data.masks=auto"
            )
        wanted = self.masks == "true" or (self.masks == "auto" and self.localization and known)
        return wanted and not self.clips and self.fakes == "dataset"

    # -- Lightning hooks ------------------------------------------------------------------
    def prepare_data(self) -> None:
        self.verify()

    #: The manifest columns this datamodule reads (None: all); what training, the leak audit and
    #: ``dfd.stats`` use, not the boxes, landmarks and source paths.
    manifest_columns: tuple[str, ...] | None = (
        "video_id", "frame_idx", "track", "label", "label_video", "label_audio", "method", "split", "group",
        "source_video", "crop_path", "mask_path", "status", "reason",
    )  # fmt: skip

    def load_rows(self) -> pd.DataFrame:
        """Usable manifest rows (read once; read again after :meth:`setup` let them go), with the
        chosen ``label`` and carved splits; unusable ones are kept in :attr:`skipped` for reports,
        the manifest's metadata in :attr:`meta`."""
        if self._rows is None:
            columns = self.manifest_columns
            if columns is not None and self.fakes != "dataset":
                columns = (*columns, LANDMARK_COLUMN)
            rows, unusable, self.meta = read_usable(self.root, columns)
            self._rows = self.prepare_rows(rows)
            self.skipped = unusable
        return self._rows

    def prepare_rows(self, rows: pd.DataFrame) -> pd.DataFrame:
        """Keep usable rows, choose the label, carve val (and test) splits where the data has none."""
        ok = (rows["status"].fillna(STATUS_OK) == STATUS_OK).to_numpy()
        self.skipped = rows[~ok]
        rows = choose_label(rows if ok.all() else rows[ok], self.label)
        rows = carve_val_if_missing(rows, self.val_fraction, self.seed)
        return carve_test_if_missing(rows, self.test_fraction, self.seed)

    def check_input_spec(self) -> None:
        """Fail with the fix when no model has declared its input contract yet."""
        if self.input_spec is None:
            raise ValueError(
                f"{type(self).__name__}.input_spec is not set: pass input_spec=net.input_spec "
                "(dfd.train does this from the model config)"
            )

    def select_rows(self, rows: pd.DataFrame) -> pd.DataFrame:
        """The rows this module trains and evaluates on (every split): ``frames_per_video`` of each video."""
        return subsample_frames(rows, self.frames_per_video)

    def keep_train_methods(self, rows: pd.DataFrame, check: bool = True) -> pd.DataFrame:
        """The rows without the fakes of methods outside ``train_methods``; ``check``: refuse a
        method that none of these fakes has (a typo), as for the training rows."""
        if not self.train_methods:
            return rows
        fake_methods = set(rows.loc[rows["label"] == 1, "method"].astype(str))
        unknown = sorted(set(self.train_methods) - fake_methods)
        if unknown and check:
            raise ValueError(
                f"data.train_methods names {unknown}, which no training fake has; the training fakes' methods "
                f"are {sorted(fake_methods)}"
            )
        return rows[(rows["label"] == 0) | rows["method"].astype(str).isin(self.train_methods)]

    def make_dataset(self, split: str, rows: pd.DataFrame) -> Dataset:
        """The dataset of one split; training gets augmentation (stronger for the minority class
        when ``minority_strength`` is set)."""
        label_transforms = self._minority_transforms(rows) if split == "train" else None
        transform = (
            build_train_transform(self.input_spec, self.augment)
            if split == "train"
            else build_eval_transform(self.input_spec)
        )
        if self.clips:
            return self.clip_dataset(split, rows, transform, label_transforms)
        if self.format == "packed":
            return self.packed_dataset(split, rows, transform, label_transforms)
        return FrameDataset(self.root, rows, transform, label_transforms, masks=self.with_masks)

    def clip_dataset(self, split: str, rows: pd.DataFrame, transform, label_transforms) -> TrackClipDataset:
        """The split's track clips, read from the crop files or the pack (the frames' pack: clips
        index into it); refused when the split has crops but no track long enough for one clip."""
        frames = (
            self.packed_dataset(split, rows, None, None)
            if self.format == "packed"
            else FrameDataset(self.root, rows, None)
        )
        dataset = TrackClipDataset(
            frames,
            track_column(rows),
            transform,
            label_transforms,
            clip_len=self.clip_len,
            clip_stride=self.clip_stride,
            clips_per_track=self.clips_per_track,
            jitter=split == "train",
        )
        span = clip_span(self.clip_len, self.clip_stride)
        if len(rows) and not len(dataset):
            raise ValueError(
                f"the {split} split of {self.root} has no face track of {span} crops for one clip (data.clip_len="
                f"{self.clip_len}, data.clip_stride={self.clip_stride}; its longest track has {dataset.longest_track}): "
                f"preprocess with denser sampling (preprocess.stride=1 preprocess.num_frames=<more>) or lower data.clip_len"
            )
        if dataset.dropped_tracks:
            log.info(
                "%s: %d of %d face tracks are shorter than one clip (%d crops) and give none",
                split, dataset.dropped_tracks, dataset.n_tracks, span,
            )  # fmt: skip
        log.info(
            "%s: %d clips of %d crops from %d face tracks",
            split,
            len(dataset),
            self.clip_len,
            dataset.n_tracks,
        )
        return dataset

    def packed_dataset(self, split: str, rows: pd.DataFrame, transform, label_transforms) -> FrameDataset:
        """The split read from its pack, refused when it was packed from other samples (its
        crops, whatever ``data.clips``: clips are read from the same pack)."""
        folder = find_packed(self.root)
        dataset = PackedFrameDataset(self.root, rows, transform, label_transforms, packed=folder / split,
                                     masks=self.with_masks and transform is not None)  # fmt: skip
        if not len(dataset):
            return dataset
        packed = read_pack_meta(self.root, self.pack_hint).get("splits", {}).get(split)
        if packed is None or packed["digest"] != samples_digest(dataset):
            counts = "not packed" if packed is None else f"{packed['samples']} packed, {len(dataset)} now"
            raise RuntimeError(
                f"the {split} split packed under {folder} holds other samples than data={Path(self.root).name} "
                f"selects now ({counts}): "
                f"the manifest or a data.* setting changed since packing. Re-pack with the same settings:\n    "
                f"{self.pack_hint}"
            )
        return dataset

    def setup(self, stage: str | None = None) -> None:
        if self.datasets:
            return
        self.check_input_spec()
        rows = self.select_rows(self.load_rows())
        self.with_masks = self.uses_masks(rows)
        if self.manifest_columns is not None:  # only what the datasets read: each split's copy is smaller
            extra = [LANDMARK_COLUMN] if self.fakes != "dataset" else []
            if self.with_masks:
                extra.append("mask_path")
            if sampler_takes_source_idx(self.sampler):
                extra.append("source_video")
            if self.clips:
                extra.append("track")
            rows = rows[[c for c in (*SAMPLE_COLUMNS, *extra) if c in rows]]
        for split in SPLITS:
            part = rows[rows["split"] == split]
            if split == "train":
                if self.fakes == "dataset":
                    part = self.keep_train_methods(part)
                part = cap_per_class(part, self.max_samples_per_class, self.seed)
            elif split == "val" and self.val_follows_train_methods and self.fakes == "dataset":
                part = self.keep_train_methods(part, check=False)
            elif split == "test" and self.test_methods:
                part = part[(part["label"] == 0) | part["method"].astype(str).isin(self.test_methods)]
            part = part.reset_index(drop=True)
            if self.fakes != "dataset" and len(part):
                self.datasets[split] = self.make_blended_dataset(split, part)
                continue
            self.datasets[split] = self.make_dataset(split, part)
            if split != "train" and len(part) and part["label"].nunique() < 2 and not self.real_only:
                log.warning(
                    "the %s split of %s has only %s samples: its AUC is undefined (NaN), so nothing can be "
                    "selected or calibrated on it; use more data or another split",
                    split, self.root, "fake" if int(part["label"].iloc[0]) else "real",
                )  # fmt: skip
        # the datasets hold what training needs, packed: let the manifest's frame go (load_rows
        # reads it again if asked), and hand Arrow's freed buffers back to the system
        del rows, part
        self._rows = None
        release_arrow_memory()

    # -- blended fakes (data.fakes=self_blended | blended) ------------------------------------
    def blend_source(self, split: str, rows: pd.DataFrame) -> tuple[FrameDataset, Blender] | None:
        """The real crops of ``rows`` that have landmarks, and the blender that fakes them (None: no such crop)."""
        real = rows[rows["label"] == 0]
        has_column = LANDMARK_COLUMN in real and len(real)
        points = (
            landmark_array(real[LANDMARK_COLUMN]) if has_column else np.zeros((len(real), 0, 2), np.float32)
        )
        usable = np.isfinite(points).all(axis=(1, 2)) if points.size else np.zeros(len(real), bool)
        if not usable.all():
            log.info(
                "%s: %d of %d real crops have no landmarks and are not blended",
                split,
                int((~usable).sum()),
                len(real),
            )
        if not usable.any():
            return None
        real = real[usable].reset_index(drop=True)
        base = FrameDataset(self.root, real, transform=None)
        blender = Blender(base.load_image, points[usable], base.video_idx, self.fakes)
        return base, blender

    def make_blended_dataset(self, split: str, rows: pd.DataFrame) -> Dataset:
        """Training: each real crop paired with its blend. Validation and test: the dataset's own
        rows when they hold fakes, else the reals and one fixed blend of each."""
        source = self.blend_source(split, rows)
        if source is not None:
            self.blend_sources[split] = source
        if split == "train":
            if source is None:
                raise ValueError(
                    f"data.fakes={self.fakes} needs face landmarks beside the real training crops, and {self.root} "
                    f"has none (landmarks: {self.meta.get('landmarks') or 'none'}): preprocess again with "
                    f"preprocess.landmarks=dlib68 (or mtcnn5):\n    {self.missing_hint} preprocess.landmarks=dlib68"
                )
            dropped = int((rows["label"] == 1).sum())
            if dropped:
                log.info(
                    "data.fakes=%s: training leaves out the dataset's %d fake crops", self.fakes, dropped
                )
            return BlendedPairs(*source, build_train_transform(self.input_spec, self.augment), self.fakes)
        own_fakes = rows["label"].nunique() > 1 and not (split == "val" and self.val_fakes == "blended")
        if own_fakes or source is None:
            return self.make_dataset(split, rows)
        log.info("the %s split is evaluated on its reals and one fixed %s blend of each", split, self.fakes)
        return BlendedEvalSet(*source, build_eval_transform(self.input_spec), self.fakes, self.seed)

    def blended_examples(self, split: str = "val", n: int = 32) -> dict[str, Any] | None:
        """A fixed batch of ``n`` samples of ``split``: real crops and their blends, alternating, with
        their blend masks (``image`` normalised ``[n, 3, S, S]``, ``mask`` ``[n, 1, S, S]``, ``label``
        ``[n]``); the same batch every call, for pixel metrics and galleries. None when the data
        blends no fakes or ``split`` has no real crop with landmarks."""
        if split not in self.blend_sources:
            return None
        base, blender = self.blend_sources[split]
        examples = BlendedEvalSet(base, blender, build_eval_transform(self.input_spec), self.fakes, self.seed)
        real = np.unique(np.linspace(0, len(base) - 1, max(1, n // 2)).round().astype(int))
        order = np.stack([2 * real, 2 * real + 1], axis=1).reshape(-1)[:n]
        batch = default_collate([examples[int(j)] for j in order])
        return {k: batch[k] for k in ("image", "mask", "label", "video_id")}

    def mask_examples(self, split: str = "val", n: int = 32) -> dict[str, Any] | None:
        """A fixed batch of up to ``n`` crops of ``split`` with their manipulation masks (``data.masks``),
        alternating a real crop and a fake with a known mask, evenly spaced over each (``image``
        normalised, ``mask`` ``[n, 1, S, S]``, ``label``, ``video_id``); None when the split's
        samples carry no masks or it has no real or no masked fake crop."""
        dataset = self.datasets.get(split)
        if not isinstance(dataset, FrameDataset) or dataset.mask_paths is None:
            return None
        real = np.flatnonzero(dataset.labels == 0)
        masked = np.array(
            [i for i in np.flatnonzero(dataset.labels == 1) if dataset.mask_paths.relative[int(i)]]
        )
        if not len(real) or not len(masked):
            return None
        k = max(1, min(n // 2, len(real), len(masked)))
        pick = [np.unique(np.linspace(0, len(v) - 1, k).round().astype(int)) for v in (real, masked)]
        k = min(len(pick[0]), len(pick[1]))
        order = np.stack([real[pick[0][:k]], masked[pick[1][:k]]], axis=1).reshape(-1)
        batch = default_collate([dataset[int(i)] for i in order])
        return {key: batch[key] for key in ("image", "mask", "label", "video_id")}

    def _minority_transforms(self, rows: pd.DataFrame) -> dict[int, Callable[..., dict[str, Any]]]:
        """``{minority label: stronger transform}`` when ``minority_strength`` is set."""
        counts = rows["label"].astype(int).value_counts()
        if self.minority_strength is None or len(counts) < 2 or counts.iloc[0] == counts.iloc[-1]:
            return {}
        minority = int(counts.idxmin())
        log.info("minority class %d gets augmentation strength %s", minority, self.minority_strength)
        return {
            minority: build_train_transform(self.input_spec, self.augment, strength=self.minority_strength)
        }

    def sample_table(self, split: str) -> pd.DataFrame:
        """One row per sample of ``split``, in dataset order: video id, frame, absolute crop path,
        method, split, label. Reports look samples up here by index."""
        return self.datasets[split].sample_table()

    def class_counts(self, split: str = "train") -> dict[int, int]:
        """Number of crops per label (0 real, 1 fake) in ``split``."""
        dataset = self.datasets[split]
        if hasattr(dataset, "class_counts"):
            return dataset.class_counts()
        labels = dataset.labels.astype(int)
        return {int(k): int(v) for k, v in zip(*np.unique(labels, return_counts=True), strict=True)}

    def _loader(self, split: str, shuffle: bool) -> DataLoader:
        dataset = self.datasets[split]
        if len(dataset) == 0:
            raise ValueError(f"split '{split}' of {self.root} is empty: check the manifest's 'split' column")
        sampler = None
        factory = self.sampler
        pairs = isinstance(dataset, BlendedPairs)
        batch_size = max(1, self.batch_size // 2) if pairs else self.batch_size
        if shuffle and factory is None and (self.format == "packed" or pairs):
            # packed: rank-aware, so its batches can be sorted; pairs: (epoch, index) keys seed each blend
            factory = partial(RandomSampler, seed=self.seed)
        if shuffle and factory is not None:
            # rank-aware samplers (DistributedSampler subclasses): Lightning neither wraps them
            # again under DDP nor forgets their set_epoch
            extra = {"batch_size": batch_size} if sampler_takes_batch_size(factory) else {}
            if sampler_takes_source_idx(factory):
                extra.update(source_idx=getattr(dataset, "source_idx", None), dataset=Path(self.root).name)
            sampler = factory(labels=dataset.labels.astype(np.int64), video_idx=dataset.video_idx, **extra)
            if self.format == "packed" and hasattr(sampler, "sorted_batches"):
                sampler.sorted_batches = batch_size  # the same batches, read forward through the pack
            shuffle = False
        if split == "train":  # augmentation reproducible under seed_everything (see seed_transforms)
            seed_transforms(dataset, int(torch.randint(2**31, ()).item()))
            if (
                sampler is not None
                and getattr(dataset, "takes_epoch", False)
                and hasattr(sampler, "tag_epoch")
            ):
                # per-sample seeds from the run's seed: the same in a resumed run and in any worker
                sampler.tag_epoch = True
                dataset.augment_seed = torch.initial_seed() % 2**31
            if sampler is not None:
                self._resume_sampler(sampler, batch_size)
        if self.num_workers > 0:
            freeze_for_workers()
        return DataLoader(
            dataset,
            batch_size=batch_size,
            collate_fn=flatten_pairs if pairs else None,
            shuffle=shuffle,
            sampler=sampler,
            num_workers=self.num_workers,
            pin_memory=self.pin_memory,
            persistent_workers=self.num_workers > 0,
            worker_init_fn=seed_worker_transforms if split == "train" and self.num_workers > 0 else None,
            drop_last=False,
            # the loader's own generator (worker seeds), so creating an iterator never draws from the
            # global one that dropout uses: a resumed run's random stream stays the uninterrupted one's
            generator=torch.Generator().manual_seed((torch.initial_seed() + SPLIT_SEEDS[split]) % 2**63),
        )

    def _resume_sampler(self, sampler: Any, batch_size: int | None = None) -> None:
        """Put a new training sampler where a resumed run stands, before any iterator exists.

        Lightning creates the training iterator before it calls ``set_epoch`` for the first epoch
        it runs, and loader workers draw their first indices at once: a run resumed at epoch 3
        would otherwise draw them in epoch 0's order. A run resumed in the middle of an epoch
        also skips the samples its checkpoint had already seen."""
        trainer = getattr(self, "trainer", None)
        if trainer is None or not hasattr(sampler, "set_epoch"):
            return
        sampler.set_epoch(trainer.current_epoch)
        done = trainer.fit_loop.epoch_loop.batch_progress.current.completed
        if done and hasattr(sampler, "skip"):
            sampler.skip = done * (batch_size or self.batch_size)
            sampler.resumed_mid_epoch = True

    def on_after_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        """MixUp / CutMix of training batches (``augment.batch_mix``), on the device they train on.

        They mix images, not blend masks, so a mixed batch goes on without its ``mask`` (no
        localisation loss on it), said once."""
        trainer = getattr(self, "trainer", None)
        if self.batch_mix is not None and trainer is not None and trainer.training:
            if "mask" in batch:
                if not getattr(self, "_warned_mask_mix", False):
                    log.warning(
                        "augment batch_mix (MixUp/CutMix) mixes the images of self-blended pairs but not their "
                        "blend masks: mixed batches train no localisation head (drop batch_mix to train it)"
                    )
                    self._warned_mask_mix = True
                batch = {k: v for k, v in batch.items() if k != "mask"}
            batch = self.batch_mix(batch)
        return batch

    def preview_batch(self, n: int = 8, seed: int = 0) -> dict[str, Any] | None:
        """``n`` training crops as the net sees them, with and without augmentation, for a figure.

        Returns ``original`` and ``augmented`` (float ``[n, 3, S, S]`` in [0, 1], un-normalised),
        ``label`` (hard) and ``target`` (after ``batch_mix``: soft where mixed) and the crops'
        ``video_id``. Built with pipelines of its own (seeded with ``seed``) and a saved and
        restored numpy state, so drawing it changes nothing in the training run's random streams.
        ``None`` when the training split holds no single crops (audio-visual clips).
        """
        dataset = self.datasets.get("train")
        if dataset is None or not hasattr(dataset, "load_image") or len(dataset) == 0:
            return None
        spec = self.input_spec
        idx = np.unique(np.linspace(0, len(dataset) - 1, min(n, len(dataset))).round().astype(int))
        plain = build_eval_transform(spec)
        augmented = build_train_transform(spec, self.augment)
        augmented.set_random_seed(seed)
        crops = [dataset.load_image(int(i)) for i in idx]
        mean, std = torch.tensor(spec.mean).view(1, 3, 1, 1), torch.tensor(spec.std).view(1, 3, 1, 1)
        original = torch.stack([to_tensor(plain(image=c)["image"]) for c in crops])
        batch = {
            "image": torch.stack([to_tensor(augmented(image=c)["image"]) for c in crops]),
            "label": torch.as_tensor(dataset.labels[idx]),
        }
        label = batch["label"].clone()
        if self.batch_mix is not None:
            state = np.random.get_state()
            np.random.seed(seed)
            try:
                batch = self.batch_mix(batch)
            finally:
                np.random.set_state(state)
        return {
            "original": (original * std + mean).clamp(0, 1),
            "augmented": (batch["image"] * std + mean).clamp(0, 1),
            "label": label,
            "target": batch["label"],
            "video_id": [dataset.video_ids[int(i)] for i in idx],
        }

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", shuffle=False)
