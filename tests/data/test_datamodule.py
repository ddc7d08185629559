"""FaceCropDataModule: val carved when the manifest has none; augmentations reproducible under the seed."""

from __future__ import annotations

import pandas as pd
import pytest
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


def _manifest(root, splits_of_video: dict[str, str], groups: dict[str, str] | None = None, **meta):
    rows = [
        {"video_id": v, "frame_idx": 0, "label": int(v.startswith("f")), "method": "m", "split": split,
         "group": (groups or {}).get(v, v), "crop_path": f"{v}.png", "status": "ok"}
        for v, split in splits_of_video.items()
    ]  # fmt: skip
    write_manifest(root, pd.DataFrame(rows), {"dataset": "t", **meta})


def test_training_refuses_pending_preprocessing_with_the_fix(tmp_path):
    _manifest(tmp_path, {"r0": "train", "f0": "train", "r1": "val", "f1": "val"}, pending=3)
    dm = FaceCropDataModule(str(tmp_path), missing_hint="python -m dfd.preprocess data=x")
    with pytest.raises(
        RuntimeError,
        match=r"(?s)3 videos still pending.*python -m dfd.preprocess data=x.*data.allow_incomplete=true",
    ):
        dm.verify()
    FaceCropDataModule(str(tmp_path), allow_incomplete=True).verify()


def test_a_group_in_two_splits_is_refused_or_warned(tmp_path, caplog):
    videos = {"r0": "train", "f0": "train", "r1": "test", "f1": "test"}
    _manifest(tmp_path, videos, groups={"r0": "id7", "f0": "id7", "r1": "id7", "f1": "id9"})
    with pytest.raises(RuntimeError, match=r"1 groups .* id7 in test\+train\. .* data.leak_check=warn"):
        FaceCropDataModule(str(tmp_path)).verify()
    FaceCropDataModule(str(tmp_path), leak_check="warn").verify()
    assert "id7 in test+train" in caplog.text
    _manifest(tmp_path, videos)  # every video its own group: nothing leaks
    FaceCropDataModule(str(tmp_path)).verify()


def test_a_missing_test_split_is_carved_by_group_only_when_asked(tmp_path):
    videos = {f"{c}{i}": "train" for c in "rf" for i in range(10)}
    _manifest(tmp_path, videos, groups={v: f"g{v[1:]}" for v in videos})  # r3 and f3 share an identity
    assert FaceCropDataModule(str(tmp_path)).available_splits() == {"train", "val"}
    rows = FaceCropDataModule(str(tmp_path), test_fraction=0.2).load_rows()
    assert set(rows["split"]) == {"train", "val", "test"}
    test = rows[rows["split"] == "test"]
    assert set(test["label"]) == {0, 1}
    assert not set(test["group"]) & set(rows.loc[rows["split"] != "test", "group"])  # whole groups


def test_train_methods_keep_every_real_and_only_the_named_fakes_in_training(tmp_path):
    rows = _rows(n_groups=12, videos_per_group=3)
    rows.loc[rows["video_id"].str.endswith("_v2"), "method"] = "other"  # v1: method m, v2: other, v0: real
    rows.loc[rows["label"] == 0, "method"] = "real"
    rows.loc[rows["video_id"].str.startswith(("g1_", "g2_")), "split"] = "val"
    write_manifest(tmp_path, rows, {})
    dm = FaceCropDataModule(root=str(tmp_path), input_spec=InputSpec(32), train_methods=["m"])
    dm.setup()
    train = dm.datasets["train"].sample_table()
    assert set(train.loc[train["label"] == 1, "method"]) == {"m"}
    assert (train["label"] == 0).sum() == (rows.query("split == 'train' and label == 0")).shape[0]
    assert set(dm.datasets["val"].sample_table()["method"]) == {"real", "m", "other"}  # evaluation keeps all
    with pytest.raises(ValueError, match=r"data.train_methods names \['Deepfakes'\].*\['m', 'other'\]"):
        bad = FaceCropDataModule(root=str(tmp_path), input_spec=InputSpec(32), train_methods=["Deepfakes"])
        bad.setup()
