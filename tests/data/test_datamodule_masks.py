"""Manipulation masks as pixel labels: a crop dataset with a manifest ``mask_path`` gives ``mask`` and
``mask_valid`` when the model localises, the mask moved with the image by every geometric transform."""

from __future__ import annotations

import albumentations as A
import cv2
import numpy as np
import pandas as pd
import pytest
import torch

from dfd.core.input_spec import InputSpec
from dfd.data.datamodule import FaceCropDataModule
from dfd.preprocessing.manifest import write_manifest

SIZE = 24  # half the 48 px crops: the bright third stays exactly 8 columns


def _dataset(root) -> None:
    """Per split: a real crop, a fake whose left third is bright with its mask there, and a fake
    without a mask; each of 2 frames."""
    rows = []
    for split in ("train", "val", "test"):
        for v, (label, masked) in enumerate(((0, False), (1, True), (1, False))):
            for f in range(2):
                crop = np.full((48, 48, 3), 40, np.uint8)
                mask = np.zeros((48, 48), np.uint8)
                if label:
                    crop[:, :16] = 230
                    mask[:, :16] = 255
                name = f"{split}_v{v}/{f:05d}.png"
                (root / "crops" / f"{split}_v{v}").mkdir(parents=True, exist_ok=True)
                cv2.imwrite(str(root / "crops" / name), crop)
                mask_rel = ""
                if masked:
                    (root / "masks" / f"{split}_v{v}").mkdir(parents=True, exist_ok=True)
                    cv2.imwrite(str(root / "masks" / name), mask)
                    mask_rel = f"masks/{name}"
                rows.append({"video_id": f"{split}_v{v}", "frame_idx": f, "label": label, "method": "m" if label else "real",
                             "split": split, "group": f"{split}{v}", "crop_path": f"crops/{name}",
                             "mask_path": mask_rel, "status": "ok", "reason": ""})  # fmt: skip
    write_manifest(root, pd.DataFrame(rows), {})


def _module(root, masks="auto", localization=True, augment=None) -> FaceCropDataModule:
    dm = FaceCropDataModule(
        str(root), InputSpec(SIZE), batch_size=6, masks=masks, augment=augment, leak_check="off"
    )
    dm.prepare_data()
    dm.set_localization(localization)
    dm.setup()
    return dm


def test_masks_follow_the_image_and_say_which_are_known(tmp_path):
    _dataset(tmp_path)
    # a horizontal flip on every training sample: the bright third and its mask move right together
    flip = {"base": "none", "gridmask": None}
    dm = _module(tmp_path, augment=flip)
    dm.datasets["train"].transform.transforms.insert(0, A.HorizontalFlip(p=1.0))
    for split in ("train", "test"):
        batch = next(iter(dm.train_dataloader() if split == "train" else dm.test_dataloader()))
        assert batch["mask"].shape == (6, 1, SIZE, SIZE) and set(batch["mask"].unique().tolist()) <= {
            0.0,
            1.0,
        }
        order = torch.argsort(batch["index"])
        labels, valid, masks = batch["label"][order], batch["mask_valid"][order], batch["mask"][order]
        # index order: real, real, masked fake, masked fake, unmasked fake, unmasked fake
        assert labels.tolist() == [0, 0, 1, 1, 1, 1] and valid.tolist() == [
            True,
            True,
            True,
            True,
            False,
            False,
        ]
        assert masks[[0, 1, 4, 5]].sum() == 0
        bright = batch["image"][order][2, 0] > batch["image"][order][2, 0].mean()
        assert torch.equal(bright, masks[2, 0].bool())  # the mask sits on the bright third
        columns = masks[2, 0].amax(dim=0)
        side = "right" if split == "train" else "left"
        assert (columns[-4:].all() if side == "right" else columns[:4].all()) and columns.float().mean() < 0.5


@pytest.mark.parametrize(("masks", "localization", "expected"), [("auto", False, False), ("false", True, False),
                                                                    ("true", False, True)])  # fmt: skip
def test_masks_only_when_the_model_localises_or_asked(tmp_path, masks, localization, expected):
    _dataset(tmp_path)
    dm = _module(tmp_path, masks=masks, localization=localization)
    assert ("mask" in dm.datasets["val"][0]) is expected and dm.with_masks is expected


def test_masks_true_without_masks_is_refused_naming_the_key(tmp_path):
    _dataset(tmp_path)
    rows = pd.read_parquet(tmp_path / "manifest.parquet").drop(columns="mask_path")
    write_manifest(tmp_path, rows, {})
    with pytest.raises(ValueError, match="data.masks=true"):
        _module(tmp_path, masks="true")
    assert not _module(tmp_path, masks="auto").with_masks
    with pytest.raises(ValueError, match="data.masks='sometimes'"):
        FaceCropDataModule(str(tmp_path), masks="sometimes")
