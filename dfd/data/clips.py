"""Track clips: runs of consecutive face crops of one face track, the samples of temporal detectors.

FTCN (Zheng et al., "Exploring Temporal Coherence for More General Video Face Forgery Detection",
ICCV 2021, arXiv 2108.06693) and TALL (Xu et al., "TALL: Thumbnail Layout for Deepfake Video
Detection", ICCV 2023, arXiv 2307.07494) look at how a face changes over time, so their samples
are clips of T crops of one person rather than single crops. ``data.clips=true`` makes them from
the same crop manifest (Parquet or CSV) and the same rows, splits and labels as frame training:

- the rows of a split are grouped by ``(video_id, track)`` (the manifest's ``track``, 0 where it
  has none: one face per video) and ordered by ``frame_idx``; a clip is ``clip_len`` of a track's
  crops, every ``clip_stride``-th one. How far apart consecutive crops are in the video is
  preprocessing's choice (``preprocess.stride``; temporal models want dense sampling);
- ``clips_per_track: null`` cuts every non-overlapping clip of a track (the next clip starts one
  stride after the last crop of the previous), ``N`` cuts N evenly spaced ones (first and last
  included, as :func:`dfd.preprocessing.clips.clip_starts` spaces AV clips). Validation and test
  clips are these fixed ones. A training clip starts anywhere in its own slot of the track's
  possible starts (the slots cut them into as many consecutive runs as there are clips), drawn
  from ``(augment_seed, epoch, index)``: other clips every epoch, the same ones in a resumed run;
- a track shorter than one clip gives none (the datamodule logs how many);
- a clip's label is its crops' (the video's, or its track's where a mask labelled the tracks of a
  fake apart), its ``video_idx`` its video's, so video metrics gather a video's clips.

One set of augmentation parameters applies to every frame of a clip: the pipeline gets the clip
as albumentations' ``images=`` target, which draws once per call (every preset of
:mod:`dfd.data.augment` does), seeded from ``(augment_seed, epoch, index)`` as a frame sample is,
so a resumed run sees the same clips. A sample is the dict of the temporal interface: ``image``
float ``[T, 3, S, S]`` (each frame normalised by the net's input spec), ``label``, ``video_idx``,
``video_id``, ``index`` (the clip's) and ``frame_idx`` (int64 ``[T]``).

The crops are read through a frame dataset of the split's rows
(:class:`~dfd.data.datamodule.FrameDataset`, or ``PackedFrameDataset`` with
``data.format=packed``: the pack ``dfd.pack`` writes is the frames', and clips index into it), so
the columns stay numpy arrays shared by forked workers: the clips add the rows' order and a few
integers per clip, no Python object per clip.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple, Protocol

import cv2
import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset

from dfd.data.compact import Coded
from dfd.data.transforms import seed_for_sample, split_key


class Crops(Protocol):
    """What a clip dataset reads from its frame dataset (``FrameDataset``, ``PackedFrameDataset``)."""

    labels: np.ndarray
    video_idx: np.ndarray
    video_ids: Coded
    frame_idx: np.ndarray
    source_idx: np.ndarray | None

    def __len__(self) -> int: ...

    def load_image(self, i: int) -> np.ndarray: ...

    def sample_table(self) -> pd.DataFrame: ...


def track_column(rows: pd.DataFrame) -> np.ndarray:
    """The rows' face track as int64, 0 where the manifest has no ``track`` or leaves it empty (a CSV
    reads an empty cell as NaN, a Parquet may hold floats)."""
    if "track" not in rows:
        return np.zeros(len(rows), np.int64)
    return pd.to_numeric(rows["track"], errors="coerce").fillna(0).to_numpy(dtype=np.int64)


def clip_span(clip_len: int, clip_stride: int) -> int:
    """Crops of a track one clip covers, from its first crop to its last."""
    return (clip_len - 1) * clip_stride + 1


def clip_starts(
    n: int, clip_len: int, clip_stride: int = 1, clips_per_track: int | None = None
) -> np.ndarray:
    """Positions (in a track of ``n`` ordered crops) of the first crops of its clips: every
    non-overlapping clip (``clips_per_track=None``), or that many evenly spaced ones."""
    span = clip_span(clip_len, clip_stride)
    if n < span:
        return np.zeros(0, np.int64)
    if clips_per_track is None:
        return np.arange(0, n - span + 1, clip_len * clip_stride, dtype=np.int64)
    count = min(int(clips_per_track), n - span + 1)
    return np.unique(np.linspace(0, n - span, count).round().astype(np.int64))


def clip_slots(n: int, count: int, span: int) -> tuple[np.ndarray, np.ndarray]:
    """``(first start, number of starts)`` of each of ``count`` training clips of a track of ``n``
    crops: the possible starts ``0 … n - span`` cut into ``count`` consecutive slots, one per clip,
    so that the clips of an epoch spread over the whole track as the fixed ones do."""
    bounds = (np.arange(count + 1) * (n - span + 1)) // max(count, 1)
    return bounds[:-1].astype(np.int64), np.diff(bounds).astype(np.int64)


class TrackClips(NamedTuple):
    """The clips of a split's rows (:func:`cut_track_clips`)."""

    #: row positions ordered by video, track and frame: a track's crops are a run of it
    order: np.ndarray
    #: per clip, the position in ``order`` of its first crop (the fixed clip)
    first: np.ndarray
    #: per clip, its slot of starts for training (:func:`clip_slots`): first position and size
    slot: np.ndarray
    slot_size: np.ndarray
    #: crops of every ``(video, track)``
    track_sizes: np.ndarray


def cut_track_clips(
    video_idx: np.ndarray,
    track: np.ndarray,
    frame_idx: np.ndarray,
    clip_len: int,
    clip_stride: int = 1,
    clips_per_track: int | None = None,
) -> TrackClips:
    """The clips of rows given by their video, track and frame, ordered by video, track and start
    (clip ``k``'s crops are ``order[first[k] + clip_stride * arange(clip_len)]``). Vectorised:
    one table of starts per distinct track length, not a Python call per track."""
    n_rows = len(video_idx)
    order = np.lexsort((frame_idx, track, video_idx)).astype(np.int64)
    if n_rows == 0:
        empty = np.zeros(0, np.int64)
        return TrackClips(order, empty, empty, empty, empty)
    v, t = video_idx[order], track[order]
    new = np.r_[True, (v[1:] != v[:-1]) | (t[1:] != t[:-1])]
    group_start = np.flatnonzero(new)
    sizes = np.diff(np.r_[group_start, n_rows])
    span = clip_span(clip_len, clip_stride)
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    for n in np.unique(sizes):
        starts = clip_starts(int(n), clip_len, clip_stride, clips_per_track)
        if not len(starts):
            continue
        lo, size = clip_slots(int(n), len(starts), span)
        at = group_start[sizes == n][:, None]
        parts.append(
            (
                (at + starts).reshape(-1),
                (at + lo).reshape(-1),
                np.broadcast_to(size, (len(at), len(size))).reshape(-1),
            )
        )
    if not parts:
        empty = np.zeros(0, np.int64)
        return TrackClips(order, empty, empty, empty, sizes)
    first, slot, slot_size = (np.concatenate(p) for p in zip(*parts, strict=True))
    by_start = np.argsort(first, kind="stable")  # by video, track, then start
    return TrackClips(order, first[by_start], slot[by_start], slot_size[by_start], sizes)


class TrackClipDataset(Dataset):
    """Clips of ``clip_len`` crops of one face track (see the module docstring).

    Args:
        frames: the split's crops, one per manifest row (a ``FrameDataset`` or ``PackedFrameDataset``
            built without a transform; only its columns and :meth:`load_image` are used).
        track: the face track of each row (:func:`track_column`).
        transform: the albumentations pipeline every clip goes through, one draw per clip.
        label_transforms: a label's own pipeline (stronger augmentation for the minority class).
        clip_len, clip_stride, clips_per_track: ``data.clip_len``, ``data.clip_stride`` (in crops),
            ``data.clips_per_track``.
        jitter: training clips: with an ``(epoch, index)`` key a clip starts anywhere in its slot
            (:func:`clip_slots`), drawn from ``(augment_seed, epoch, index)``; a plain key, and
            every key without ``jitter``, gives the fixed clip.

    Per-clip columns (numpy, shared by forked workers): ``labels``, ``video_idx``, ``video_ids``,
    ``frame_idx`` (the fixed clip's first frame), ``track``, ``source_idx``: samplers and reports
    read them as they read a frame dataset's. ``n_tracks``, ``dropped_tracks`` and
    ``longest_track`` describe the split's tracks (dropped: too short for one clip).
    """

    #: keys may be ``(epoch, index)`` pairs, as for :class:`~dfd.data.datamodule.FrameDataset`
    takes_epoch = True

    def __init__(
        self,
        frames: Crops,
        track: np.ndarray,
        transform: Callable[..., dict[str, Any]],
        label_transforms: Mapping[int, Callable[..., dict[str, Any]]] | None = None,
        *,
        clip_len: int = 8,
        clip_stride: int = 1,
        clips_per_track: int | None = None,
        jitter: bool = False,
    ) -> None:
        check_clip_settings(clip_len, clip_stride, clips_per_track)
        track = np.asarray(track, dtype=np.int64)
        if track.shape != (len(frames),):
            raise ValueError(f"track has shape {track.shape}, expected ({len(frames)},): one per crop")
        self.frames = frames
        self.clip_len, self.clip_stride, self.clips_per_track = clip_len, clip_stride, clips_per_track
        self.jitter = jitter
        self.clips = cut_track_clips(
            frames.video_idx, track, frames.frame_idx, clip_len, clip_stride, clips_per_track
        )
        sizes = self.clips.track_sizes
        self.n_tracks = len(sizes)
        self.dropped_tracks = int((sizes < clip_span(clip_len, clip_stride)).sum())
        self.longest_track = int(sizes.max()) if len(sizes) else 0
        first = self.clips.order[self.clips.first]  # row of each fixed clip's first crop
        # a clip is fake when a crop of it is: a track's crops share one label in dfd's manifests
        self.labels = frames.labels[self.crops()].max(axis=1)
        self.video_idx = frames.video_idx[first]
        self.video_ids = Coded(self.video_idx, frames.video_ids.vocabulary)
        self.video_names = self.video_ids.vocabulary
        self.frame_idx = frames.frame_idx[first]
        self.track = track[first]
        self.source_idx = None if frames.source_idx is None else frames.source_idx[first]
        self.transform = transform
        self.label_transforms = dict(label_transforms or {})
        self.augment_seed: int | None = None
        self._table: pd.DataFrame | None = None

    def __len__(self) -> int:
        return len(self.clips.first)

    def crops(self, i: int | np.ndarray | None = None, epoch: int | None = None) -> np.ndarray:
        """Rows (positions in ``frames``) of clip ``i``'s crops, ``[T]``; of every fixed clip,
        ``[clips, T]``, when ``i`` is None. With ``jitter``, a known ``epoch`` and an ``augment_seed``,
        clip ``i`` starts where its seeded draw puts it in its slot."""
        steps = np.arange(self.clip_len) * self.clip_stride
        if i is None:
            return self.clips.order[self.clips.first[:, None] + steps]
        start = self.clips.first[i]
        if self.jitter and epoch is not None and self.augment_seed is not None:
            rng = np.random.default_rng([self.augment_seed, epoch, int(i), 0xC119])
            start = self.clips.slot[i] + rng.integers(self.clips.slot_size[i])
        return self.clips.order[start + steps]

    def sample_table(self) -> pd.DataFrame:
        """One row per clip, in dataset order: its first crop's row of the frame table (video id,
        frame, crop path, method, split) with the clip's label, ``track`` and ``last_frame_idx``
        (the fixed clips: those of validation and test)."""
        if self._table is None:
            crops = self.crops()
            table = self.frames.sample_table().iloc[crops[:, 0]].reset_index(drop=True)
            table["label"] = self.labels.astype(np.int64)
            table["track"] = self.track
            table["last_frame_idx"] = self.frames.frame_idx[crops[:, -1]]
            self._table = table
        return self._table

    def load_clip(self, rows: np.ndarray) -> np.ndarray:
        """The crops of ``rows`` as RGB uint8 ``[T, H, W, 3]``; crops of another size than the first
        are resized to it, so that one set of augmentation parameters fits them all."""
        images = [self.frames.load_image(int(j)) for j in rows]
        h, w = images[0].shape[:2]
        return np.stack(
            [
                im if im.shape[:2] == (h, w) else cv2.resize(im, (w, h), interpolation=cv2.INTER_AREA)
                for im in images
            ]
        )

    def __getitem__(self, key: int | tuple[int, int]) -> dict[str, Any]:
        epoch, i = split_key(key)
        label = self.labels[i]
        transform = seed_for_sample(
            self.label_transforms.get(int(label), self.transform), self.augment_seed, epoch, i
        )
        rows = self.crops(i, epoch)
        images = transform(images=self.load_clip(rows))["images"]  # one draw for the whole clip
        return {
            "image": torch.from_numpy(np.ascontiguousarray(np.asarray(images).transpose(0, 3, 1, 2))),
            "label": torch.tensor(label),
            "video_idx": torch.tensor(self.video_idx[i]),
            "video_id": self.video_ids[i],
            "index": torch.tensor(i),
            "frame_idx": torch.from_numpy(self.frames.frame_idx[rows].astype(np.int64)),
        }


def check_clip_settings(clip_len: int, clip_stride: int, clips_per_track: int | None) -> None:
    """Refuse clip settings that cut no clip, naming the key."""
    if int(clip_len) < 1:
        raise ValueError(f"data.clip_len={clip_len}: expected at least 1 crop per clip")
    if int(clip_stride) < 1:
        raise ValueError(f"data.clip_stride={clip_stride}: expected at least 1 (1 = every crop of a track)")
    if clips_per_track is not None and int(clips_per_track) < 1:
        raise ValueError(
            f"data.clips_per_track={clips_per_track}: expected null (every non-overlapping clip) or at least 1"
        )
