"""ImageListDataModule: folder images and DeepfakeBench frames load directly, with video ids."""

from __future__ import annotations

import pytest

from dfd.core.input_spec import InputSpec
from dfd.data.image_datamodule import ImageListDataModule
from dfd.raw.layouts.deepfakebench import parse_deepfakebench
from dfd.raw.layouts.folder import parse_folder


def test_folder_images_load_directly_with_video_ids(folder_tree, tmp_path):
    from functools import partial

    records = [r for r in parse_folder(folder_tree) if r.is_image or r.status != "ok"]
    dm = ImageListDataModule(
        root=str(tmp_path / "none"),
        layout=lambda: records,
        input_spec=InputSpec(48),
        batch_size=4,
        val_fraction=0.25,
    )
    dm.verify()
    dm.setup()
    batch = next(iter(dm.train_dataloader()))
    assert batch["image"].shape[1:] == (3, 48, 48) and len(batch["video_id"]) == len(batch["label"])
    assert len(dm.datasets["train"]) + len(dm.datasets["val"]) == 8
    assert set(dm.skipped["status"]) == {"missing_file", "unlisted_file"}
    # the tree also holds videos: without their crops, verify names the command that makes them
    with_videos = ImageListDataModule(
        root=str(tmp_path / "none"),
        layout=partial(parse_folder, folder_tree),
        missing_hint="python -m dfd.preprocess data=folder",
    )
    with pytest.raises(FileNotFoundError, match="dfd.preprocess data=folder"):
        with_videos.verify()


def test_deepfakebench_frames_load_directly(deepfakebench_tree, tmp_path):
    from functools import partial

    layout = partial(
        parse_deepfakebench,
        deepfakebench_tree / "dataset_json" / "FaceForensics++.json",
        deepfakebench_tree / "rgb",
    )
    dm = ImageListDataModule(root=str(tmp_path), layout=layout, input_spec=InputSpec(32), batch_size=16)
    dm.setup()
    assert {s: len(d) for s, d in dm.datasets.items()} == {"train": 8, "val": 4, "test": 4}
    batch = next(iter(dm.val_dataloader()))
    assert batch["label"].tolist().count(1.0) == 2 and sorted(set(batch["video_id"])) == sorted(
        set(dm.datasets["val"].video_ids)
    )
