"""FaceCropDataModule: val carved when the manifest has none; augmentations reproducible under the seed."""

from __future__ import annotations

import pandas as pd
import torch

from dfd.data.datamodule import FaceCropDataModule
from dfd.data.image_datamodule import ImageListDataModule
from dfd.data.transforms import InputSpec
from dfd.preprocessing.manifest import write_manifest
from dfd.raw.layouts.folder import parse_folder


def _rows(n_groups: int = 12, videos_per_group: int = 3, frames: int = 2) -> pd.DataFrame:
    rows = []
    for g in range(n_groups):
        for v in range(videos_per_group):
            for f in range(frames):
                rows.append({"video_id": f"g{g}_v{v}", "frame_idx": f, "label": int(v > 0), "method": "m", "split": "test" if g == 0 else "train",
                             "group": f"id{g}", "crop_path": f"crops/g{g}_v{v}/{f}.png", "status": "ok", "reason": ""})  # fmt: skip
    return pd.DataFrame(rows)


def test_face_crop_datamodule_carves_val_when_manifest_has_none(tmp_path):
    write_manifest(tmp_path, _rows(), {})
    dm = FaceCropDataModule(root=str(tmp_path), input_spec=InputSpec(32), val_fraction=0.25)
    dm.setup()
    train_groups = {v.split("_")[0] for v in dm.datasets["train"].video_ids}
    val_groups = {v.split("_")[0] for v in dm.datasets["val"].video_ids}
    assert val_groups and not (train_groups & val_groups)


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
