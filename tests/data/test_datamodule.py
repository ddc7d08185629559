"""FaceCropDataModule: val carved when the manifest has none; augmentations reproducible under the seed."""

from __future__ import annotations

from types import SimpleNamespace

import pandas as pd
import pytest
import torch

from dfd.core.input_spec import InputSpec
from dfd.data.datamodule import FaceCropDataModule
from dfd.data.image_datamodule import ImageListDataModule
from dfd.preprocessing.manifest import write_manifest
from dfd.raw.layouts.folder import parse_folder
from tests.conftest import manifest_rows


def test_face_crop_datamodule_carves_val_when_manifest_has_none(tmp_path):
    write_manifest(tmp_path, manifest_rows(), {})
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
    hint = "python -m dfd.preprocess data=x data.raw_dir=/raw"
    with pytest.raises(RuntimeError) as refused:
        FaceCropDataModule(str(tmp_path), missing_hint=hint).verify()
    message = str(refused.value)
    assert "1 groups" in message and "id7 in test+train" in message
    # the command that re-splits, on a line of its own to copy, and the override that accepts it
    assert f"\n    {hint}\n" in message and "data.leak_check=warn" in message
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
    rows = manifest_rows(n_groups=12, videos_per_group=3)
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
    # checkpoint selection can be kept blind to the left-out method too; test still has every method
    rows.loc[rows["video_id"].str.startswith("g3_"), "split"] = "test"
    write_manifest(tmp_path, rows, {})
    dm = FaceCropDataModule(
        root=str(tmp_path), input_spec=InputSpec(32), train_methods=["m"], val_follows_train_methods=True
    )
    dm.setup()
    assert set(dm.datasets["val"].sample_table()["method"]) == {"real", "m"}
    assert set(dm.datasets["test"].sample_table()["method"]) == {"real", "m", "other"}
    # a test set of one method's fakes (data=faceshifter): every real stays, the other methods go
    dm = FaceCropDataModule(root=str(tmp_path), input_spec=InputSpec(32), test_methods=["other"])
    dm.setup()
    test = dm.datasets["test"].sample_table()
    assert set(test["method"]) == {"real", "other"}
    assert (test["label"] == 0).sum() == rows.query("split == 'test' and label == 0").shape[0]


def test_augmentation_reaches_the_training_split_only(folder_tree, tmp_path):
    records = [r for r in parse_folder(folder_tree) if r.is_image]
    augment = {"base": "strong", "strength": 3.0, "dct_noise": {"bands": ["high"], "std": 8.0, "p": 1.0},
               "batch_mix": {"mixup_alpha": 1.0}}  # fmt: skip
    dm = ImageListDataModule(root=str(tmp_path / "none"), layout=lambda: records, input_spec=InputSpec(48),
                             augment=augment, val_fraction=0.3)  # fmt: skip
    dm.setup()
    train, val = dm.datasets["train"], dm.datasets["val"]
    assert len(train) and len(val)
    assert not torch.equal(train[0]["image"], train[0]["image"])  # a fresh draw each time
    assert torch.equal(val[0]["image"], val[0]["image"])  # resized and normalised only
    assert [type(t).__name__ for t in val.transform] == ["Resize", "Normalize"]
    names = [type(t).__name__ for t in train.transform]
    assert "Rotate" in names and "DCTNoise" in names
    # MixUp runs on training batches only, after they reach the device
    batch = {"image": torch.rand(4, 3, 8, 8), "label": torch.tensor([0.0, 1.0, 0.0, 1.0])}
    dm.trainer = SimpleNamespace(training=False)
    assert torch.equal(dm.on_after_batch_transfer(dict(batch), 0)["label"], batch["label"])
    dm.trainer = SimpleNamespace(training=True)
    mixed = dm.on_after_batch_transfer({k: v.clone() for k, v in batch.items()}, 0)["label"]
    assert not torch.equal(mixed, batch["label"]) and ((mixed >= 0) & (mixed <= 1)).all()


def test_the_augmentation_preview_leaves_the_random_streams_alone(folder_tree, tmp_path):
    import numpy as np

    records = [r for r in parse_folder(folder_tree) if r.is_image]
    dm = ImageListDataModule(root=str(tmp_path / "none"), layout=lambda: records, input_spec=InputSpec(40),
                             augment={"base": "strong", "batch_mix": {"cutmix_alpha": 1.0}})  # fmt: skip
    dm.setup()
    torch.manual_seed(0)
    np.random.seed(0)
    before = (torch.get_rng_state(), np.random.get_state()[1].copy())
    preview = dm.preview_batch(4)
    assert torch.equal(torch.get_rng_state(), before[0]) and np.array_equal(
        np.random.get_state()[1], before[1]
    )
    n = len(preview["label"])
    assert preview["original"].shape == preview["augmented"].shape == (n, 3, 40, 40)
    assert 0 <= float(preview["augmented"].min()) and float(preview["augmented"].max()) <= 1
    assert torch.equal(dm.preview_batch(4)["augmented"], preview["augmented"])  # seeded: the same figure
