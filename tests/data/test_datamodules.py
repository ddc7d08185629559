"""DataModules on parsed and preprocessed data: carved validation never splits a group, images
from folders and DeepfakeBench load directly, batches carry video ids."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from dfd.data.datamodule import FaceCropDataModule, carve_val_if_missing
from dfd.data.image_datamodule import ImageListDataModule
from dfd.data.transforms import InputSpec
from dfd.preprocessing.manifest import write_manifest
from dfd.raw.layouts.deepfakebench import parse_deepfakebench
from dfd.raw.layouts.folder import parse_folder
from dfd.raw.splits import assign_splits


def _rows(n_groups: int = 12, videos_per_group: int = 3, frames: int = 2) -> pd.DataFrame:
    rows = []
    for g in range(n_groups):
        for v in range(videos_per_group):
            for f in range(frames):
                rows.append({"video_id": f"g{g}_v{v}", "frame_idx": f, "label": int(v > 0), "method": "m", "split": "test" if g == 0 else "train",
                             "group": f"id{g}", "crop_path": f"crops/g{g}_v{v}/{f}.png", "status": "ok", "reason": ""})  # fmt: skip
    return pd.DataFrame(rows)


def test_carved_val_keeps_groups_whole_and_both_labels():
    rows = carve_val_if_missing(_rows(), val_fraction=0.25, seed=3)
    splits_per_group = rows.groupby("group")["split"].nunique()
    assert (splits_per_group == 1).all()
    val = rows[rows["split"] == "val"]
    assert set(val["label"]) == {0, 1} and 2 <= val["group"].nunique() <= 4
    assert (rows[rows["group"] == "id0"]["split"] == "test").all()  # test is never touched


@pytest.mark.parametrize("seed", range(5))
def test_assign_splits_no_group_crosses_two_splits(seed):
    rng = np.random.default_rng(seed)
    groups = [f"id{g}" for g in rng.integers(0, 15, size=80)]
    labels = rng.integers(0, 2, size=80).tolist()
    splits = assign_splits(labels, groups, val_fraction=0.15, test_fraction=0.2, seed=seed)
    seen: dict[str, set[str]] = {}
    for g, s in zip(groups, splits, strict=True):
        seen.setdefault(g, set()).add(s)
    assert all(len(s) == 1 for s in seen.values())
    assert set(splits) == {"train", "val", "test"}


def test_face_crop_datamodule_carves_val_when_manifest_has_none(tmp_path):
    write_manifest(tmp_path, _rows(), {})
    dm = FaceCropDataModule(root=str(tmp_path), input_spec=InputSpec(32), val_fraction=0.25)
    dm.setup()
    train_groups = {v.split("_")[0] for v in dm.datasets["train"].video_ids}
    val_groups = {v.split("_")[0] for v in dm.datasets["val"].video_ids}
    assert val_groups and not (train_groups & val_groups)


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


def test_seed_everything_reproduces_the_augmentations(folder_tree, tmp_path):
    from lightning.pytorch import seed_everything

    records = [r for r in parse_folder(folder_tree) if r.is_image]
    dm = ImageListDataModule(root=str(tmp_path / "none"), layout=lambda: records, input_spec=InputSpec(48))
    dm.setup()

    def first_batch(seed: int) -> torch.Tensor:
        seed_everything(seed)
        return next(iter(dm.train_dataloader()))["image"]

    # albumentations ignores global seeds; the datamodule seeds its pipelines from them
    assert torch.equal(first_batch(7), first_batch(7))
    assert not torch.equal(first_batch(7), first_batch(8))


class _SameImage(torch.utils.data.Dataset):
    def __init__(self) -> None:
        from dfd.data.transforms import build_train_transform

        self.transform = build_train_transform(InputSpec(32), strength=2.0)
        self.image = np.random.default_rng(0).integers(0, 255, (48, 48, 3), dtype=np.uint8)

    def __len__(self) -> int:
        return 2

    def __getitem__(self, i: int) -> torch.Tensor:
        return torch.from_numpy(self.transform(image=self.image)["image"])


def test_each_dataloader_worker_draws_its_own_augmentations():
    from dfd.data.transforms import seed_worker_transforms

    def two_items(init) -> list[torch.Tensor]:  # item 0 from worker 0, item 1 from worker 1
        loader = torch.utils.data.DataLoader(_SameImage(), batch_size=1, num_workers=2, worker_init_fn=init)
        return [b[0] for b in loader]

    a, b = two_items(None)
    assert torch.equal(a, b)  # forked copies of one pipeline repeat each other
    a, b = two_items(seed_worker_transforms)
    assert not torch.equal(a, b)
