"""Track clips (``data.clips=true``): runs of one face track's crops in frame order, labelled and split
as their video, one augmentation per clip, seeded per (seed, epoch, index), the same from a Parquet
or a CSV manifest and from the crop files or their pack, and refusals that name the fix."""

from __future__ import annotations

import logging
from functools import partial
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
import torch
from omegaconf import OmegaConf

from dfd.core.input_spec import InputSpec
from dfd.data.clips import TrackClipDataset, clip_slots, clip_starts, cut_track_clips
from dfd.data.datamodule import FaceCropDataModule, FrameDataset
from dfd.data.samplers import WeightedClassSampler
from dfd.data.tasks import pack
from dfd.data.transforms import build_eval_transform
from dfd.preprocessing.manifest import MANIFEST_PARQUET, write_manifest

SPEC = InputSpec(32)
#: (video, label, split, {track: frames}); "c" has a track too short for a 4-crop clip, "d" no
#: ``track`` value at all (a manifest without tracks), "b" one picture in every crop
VIDEOS = [
    ("a", 0, "train", {0: list(range(0, 20, 2)), 1: [1, 3, 5, 7, 9]}),
    ("b", 1, "train", {0: list(range(8))}),
    ("c", 0, "train", {0: [0, 1, 2]}),
    ("d", 0, "val", {None: [0, 1, 2, 3]}),
    ("e", 1, "val", {0: [4, 5, 6, 7]}),
    ("f", 0, "test", {0: [0, 1, 2, 3]}),
    ("g", 1, "test", {0: [0, 1, 2, 3]}),
]


def write_tracks(root: Path) -> pd.DataFrame:
    """32 px crops of :data:`VIDEOS` (each crop its own picture, but all of "b" one picture) and
    their manifest, rows shuffled; returns the rows."""
    rows = []
    for video, label, split, tracks in VIDEOS:
        for track, frames in tracks.items():
            for f in frames:
                seed = [ord(video), 0 if video == "b" else (track or 0) + 1, 0 if video == "b" else f]
                noise = np.random.default_rng(seed).integers(0, 256, (32, 32, 3), dtype=np.uint8)
                rel = f"crops/{video}/{f:05d}_t{track}.png"
                (root / rel).parent.mkdir(parents=True, exist_ok=True)
                cv2.imwrite(str(root / rel), cv2.GaussianBlur(noise, (5, 5), 0))
                rows.append({"video_id": video, "frame_idx": f, "track": track, "label": label, "method": "m",
                             "split": split, "group": video, "crop_path": rel, "status": "ok"})  # fmt: skip
    rows = pd.DataFrame(rows).sample(frac=1.0, random_state=0).reset_index(drop=True)
    write_manifest(root, rows, {"dataset": "tracks"})
    return rows


@pytest.fixture(scope="module")
def tracks(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("tracks")
    write_tracks(root)
    return root


def clip_dm(root: Path, **data) -> FaceCropDataModule:
    dm = FaceCropDataModule(root=str(root), input_spec=SPEC, clips=True, clip_len=4, batch_size=2, **data)
    dm.setup()
    return dm


def clips_of(dataset: TrackClipDataset) -> list[tuple[str, int, tuple[int, ...]]]:
    """Every fixed clip as (video, track, its frames)."""
    frames = dataset.frames.frame_idx[dataset.crops()]
    return [
        (dataset.video_ids[i], int(dataset.track[i]), tuple(map(int, frames[i]))) for i in range(len(dataset))
    ]


def test_clip_starts_and_training_slots():
    assert clip_starts(10, 4).tolist() == [0, 4]  # non-overlapping; 2 crops left over
    assert clip_starts(10, 4, clip_stride=2).tolist() == [0]  # one clip spans 7 crops
    assert clip_starts(10, 4, clips_per_track=2).tolist() == [0, 6]  # evenly spaced, ends included
    assert clip_starts(10, 4, clips_per_track=50).tolist() == list(range(7))
    assert clip_starts(3, 4).tolist() == []
    lo, size = clip_slots(10, 2, 4)  # starts 0..6 cut in two runs
    assert lo.tolist() == [0, 3] and size.tolist() == [3, 4]


def test_clips_are_one_tracks_crops_in_frame_order_labelled_as_their_video(tracks, caplog):
    with caplog.at_level(logging.INFO, logger="dfd.data.datamodule"):
        dm = clip_dm(tracks)
    train = dm.datasets["train"]
    assert clips_of(train) == [
        ("a", 0, (0, 2, 4, 6)), ("a", 0, (8, 10, 12, 14)), ("a", 1, (1, 3, 5, 7)),
        ("b", 0, (0, 1, 2, 3)), ("b", 0, (4, 5, 6, 7)),
    ]  # fmt: skip
    assert train.labels.tolist() == [0, 0, 0, 1, 1] and train.dropped_tracks == 1 and train.n_tracks == 4
    assert "1 of 4 face tracks are shorter than one clip (4 crops)" in caplog.text
    assert clips_of(dm.datasets["val"]) == [("d", 0, (0, 1, 2, 3)), ("e", 0, (4, 5, 6, 7))]
    assert dm.datasets["test"].labels.tolist() == [0, 1] and dm.class_counts("train") == {0: 3, 1: 2}
    spaced = clip_dm(tracks, clips_per_track=2, clip_stride=1).datasets["train"]
    assert clips_of(spaced)[:2] == [("a", 0, (0, 2, 4, 6)), ("a", 0, (12, 14, 16, 18))]
    table = dm.sample_table("train")
    assert table[["video_id", "frame_idx", "track", "last_frame_idx", "label"]].values.tolist() == [
        ["a", 0, 0, 6, 0], ["a", 8, 0, 14, 0], ["a", 1, 1, 7, 0], ["b", 0, 0, 3, 1], ["b", 4, 0, 7, 1],
    ]  # fmt: skip


def test_a_clip_sample_is_its_crops_as_the_frame_loader_gives_them(tracks):
    dm = clip_dm(tracks)
    val = dm.datasets["val"]
    sample = val[1]
    assert sample["image"].shape == (4, 3, 32, 32) and sample["image"].dtype == torch.float32
    assert sample["frame_idx"].tolist() == [4, 5, 6, 7] and sample["video_id"] == "e"
    assert int(sample["label"]) == 1 and int(sample["index"]) == 1
    frames = FrameDataset(tracks, val.frames.sample_table().assign(split="val"), build_eval_transform(SPEC))
    expected = torch.stack([frames[int(j)]["image"] for j in val.crops(1)])
    assert torch.equal(sample["image"], expected)
    batch = next(iter(dm.val_dataloader()))
    assert batch["image"].shape == (2, 4, 3, 32, 32) and batch["frame_idx"].shape == (2, 4)
    assert batch["video_idx"].tolist() == [0, 1]


@pytest.mark.parametrize(
    "augment",
    [
        None,
        {"base": "strong", "strength": 3.0},
        {"gridmask": {"ratio": 0.5, "p": 1.0}, "dct_noise": {"p": 1.0}},
    ],
    ids=["default", "strong", "gridmask+dct_noise"],
)
def test_every_frame_of_a_clip_gets_the_same_augmentation(tracks, augment):
    dm = clip_dm(tracks, augment=augment)
    train = dm.datasets["train"]
    train.augment_seed = 3
    plain = build_eval_transform(SPEC)(image=train.frames.load_image(int(train.crops(3)[0])))["image"]
    changed = 0
    for epoch in range(4):
        image = train[(epoch, 3)]["image"]  # a clip of "b": one picture in every crop
        assert all(torch.equal(image[0], frame) for frame in image[1:])
        changed += not np.allclose(image[0].numpy(), plain.transpose(2, 0, 1))
    assert changed >= 3


def test_clips_are_seeded_per_epoch_and_index_so_a_resumed_run_sees_the_same(tracks):
    def train_set() -> TrackClipDataset:
        dataset = clip_dm(tracks).datasets["train"]
        dataset.augment_seed = 11
        return dataset

    first, resumed = train_set(), train_set()
    a = first[(2, 0)]
    assert torch.equal(a["image"], resumed[(2, 0)]["image"]) and torch.equal(
        a["frame_idx"], resumed[(2, 0)]["frame_idx"]
    )
    assert not torch.equal(a["image"], first[(3, 0)]["image"])
    # training clips start anywhere in their slot: track a/0 has starts 0..6, clip 0 takes 0..2, clip 1 3..6
    starts = {k: {int(first[(e, k)]["frame_idx"][0]) for e in range(30)} for k in (0, 1)}
    assert starts == {0: {0, 2, 4}, 1: {6, 8, 10, 12}}
    assert torch.equal(first[0]["frame_idx"], torch.tensor([0, 2, 4, 6]))  # no epoch: the fixed clip
    val = clip_dm(tracks).datasets["val"]
    val.augment_seed = 11
    assert torch.equal(val[(5, 1)]["image"], val[1]["image"])  # val: fixed clips, no augmentation


def test_parquet_and_csv_manifests_give_the_same_clips(tmp_path):
    write_tracks(tmp_path)
    parquet = clip_dm(tmp_path)
    (tmp_path / MANIFEST_PARQUET).unlink()
    csv = clip_dm(tmp_path)
    assert pd.read_csv(tmp_path / "manifest.csv")["track"].isna().any()  # "d" has none: read as NaN
    for split in ("train", "val", "test"):
        a, b = parquet.datasets[split], csv.datasets[split]
        assert clips_of(a) == clips_of(b) and np.array_equal(a.labels, b.labels)
        assert np.array_equal(a.video_idx, b.video_idx) and np.array_equal(a.track, b.track)
    assert torch.equal(parquet.datasets["val"][0]["image"], csv.datasets["val"][0]["image"])


def test_packed_clips_are_the_clips_of_the_files(tmp_path):
    write_tracks(tmp_path)
    files = clip_dm(tmp_path)
    # dfd.pack with data.clips=true packs the crops, as without: one pack for frame and clip training
    data = {
        "_target_": "dfd.data.datamodule.FaceCropDataModule",
        "root": str(tmp_path),
        "clips": True,
        "clip_len": 4,
    }
    cfg = {
        "data": data,
        "encoding": "raw",
        "jpeg_quality": 95,
        "chunk_bytes": "64MB",
        "splits": ["train", "val", "test"],
    }
    assert pack(OmegaConf.create(cfg))["splits"]["train"]["samples"] == 26
    packed = clip_dm(tmp_path, format="packed")
    for split in ("train", "val", "test"):
        a, b = files.datasets[split], packed.datasets[split]
        assert type(b.frames).__name__ == "PackedFrameDataset" and clips_of(a) == clips_of(b)
        a.augment_seed = b.augment_seed = 1  # training clips: the same draws for the same keys
        for i in range(len(a)):
            assert torch.equal(a[(0, i)]["image"], b[(0, i)]["image"])
    frames = FaceCropDataModule(root=str(tmp_path), input_spec=SPEC, format="packed")
    frames.setup()
    assert len(frames.datasets["train"]) == len(packed.datasets["train"].frames) == 26


def test_samplers_draw_clips_with_one_label_each(tracks):
    dm = clip_dm(tracks, sampler=partial(WeightedClassSampler, seed=0))
    loader = dm.train_dataloader()
    assert loader.sampler.labels.tolist() == [0, 0, 0, 1, 1] and loader.sampler.tag_epoch
    batch = next(iter(loader))
    assert batch["image"].shape == (2, 4, 3, 32, 32) and set(batch["label"].tolist()) <= {0.0, 1.0}


def test_what_cannot_work_on_clips_is_refused_with_the_fix(tracks):
    with pytest.raises(ValueError, match="batch_mix.*without mixup/cutmix"):
        FaceCropDataModule(root=str(tracks), clips=True, augment={"batch_mix": {"mixup_alpha": 0.2}})
    with pytest.raises(ValueError, match="data.fakes=self_blended.*data.fakes=dataset"):
        FaceCropDataModule(root=str(tracks), clips=True, fakes="self_blended")
    with pytest.raises(ValueError, match="data.frames_per_video=8.*data.frames_per_video=null"):
        FaceCropDataModule(root=str(tracks), clips=True, frames_per_video=8)
    with pytest.raises(ValueError, match="data.clip_len=0"):
        FaceCropDataModule(root=str(tracks), clips=True, clip_len=0)
    with pytest.raises(
        ValueError, match=r"val split .* 7 crops .*data.clip_len=4.*longest track has 4.*preprocess.stride=1"
    ):
        clip_dm(tracks, clip_stride=2)


def test_cutting_is_vectorised_over_tracks_of_any_length():
    rng = np.random.default_rng(0)
    video = np.repeat(np.arange(300), 40)
    track = rng.integers(0, 3, len(video))
    frame = np.tile(np.arange(40), 300)
    clips = cut_track_clips(video, track, frame, clip_len=4)
    rows = clips.order[clips.first[:, None] + np.arange(4)]
    assert (np.diff(frame[rows], axis=1) > 0).all()  # frame order
    assert (video[rows] == video[rows[:, :1]]).all() and (track[rows] == track[rows[:, :1]]).all()
    sizes = pd.Series(1, index=pd.MultiIndex.from_arrays([video, track])).groupby(level=[0, 1]).size()
    assert len(rows) == int((sizes // 4).sum())
