"""LocalizationReport: on a datamodule's self-blended validation crops it logs the pixel metrics of
a localising net and draws the gallery (report folder and TensorBoard); without such crops it does
nothing, and a net without the head still gets crop, true mask and Grad-CAM."""

from __future__ import annotations

import math
from pathlib import Path

import lightning as L
import pytest
import torch
from lightning.pytorch.loggers import TensorBoardLogger
from torch.utils.data import DataLoader

from dfd.callbacks.localization import LocalizationReport, grad_cam
from dfd.metrics.localization import localization_metrics
from dfd.models.detector_module import DetectorModule
from dfd.models.nets.mesonet import Meso4
from dfd.reports.galleries import localization_figure

SIZE = 64


def _blended(n: int, seed: int = 0) -> dict[str, torch.Tensor]:
    """Pairs of a crop and a copy brightened inside one of its quadrants (its mask), deterministically."""
    g = torch.Generator().manual_seed(seed)
    real = torch.rand(n // 2, 3, SIZE, SIZE, generator=g)
    mask = torch.zeros(n // 2, 1, SIZE, SIZE)
    half = SIZE // 2
    for i, q in enumerate(torch.randint(0, 4, (n // 2,), generator=g).tolist()):
        mask[i, :, (q // 2) * half : (q // 2 + 1) * half, (q % 2) * half : (q % 2 + 1) * half] = 1.0
    fake = real * (1 - mask) + (real * 0.5 + 0.5) * mask
    return {
        "image": torch.cat([real, fake]),
        "mask": torch.cat([torch.zeros_like(mask), mask]),
        "label": torch.cat([torch.zeros(n // 2), torch.ones(n // 2)]),
    }


class FakeBlendedData(L.LightningDataModule):
    """Self-blended training batches with masks; validation of 'real fakes' without masks."""

    def __init__(self, examples: bool = True) -> None:
        super().__init__()
        self.examples = examples

    def _rows(self, with_mask: bool, seed: int) -> list[dict]:
        batch = _blended(16, seed)
        rows = []
        for i in range(16):
            row = {"image": batch["image"][i], "label": batch["label"][i], "video_idx": i, "index": i}
            if with_mask:
                row["mask"] = batch["mask"][i]
            rows.append(row)
        return rows

    def train_dataloader(self) -> DataLoader:
        return DataLoader(self._rows(True, 1), batch_size=8)

    def val_dataloader(self) -> DataLoader:
        return DataLoader(self._rows(False, 2), batch_size=8)

    def blended_examples(self, split: str = "val", n: int = 32) -> dict | None:
        return _blended(n, seed=3) if self.examples and split == "val" else None


def _fit(
    tmp_path: Path, localization: bool = True, examples: bool = True
) -> tuple[L.Trainer, LocalizationReport]:
    torch.manual_seed(0)
    net = Meso4(input_size=SIZE, localization=localization)
    module = DetectorModule(net, optimizer=torch.optim.Adam, localization=localization)
    callback = LocalizationReport(out_dir=str(tmp_path / "report"), n=8, rows=4)
    trainer = L.Trainer(
        accelerator="cpu", max_epochs=1, logger=TensorBoardLogger(str(tmp_path), name="tb"),
        callbacks=[callback], enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False, num_sanity_val_steps=0,
    )  # fmt: skip
    trainer.fit(module, datamodule=FakeBlendedData(examples))
    return trainer, callback


def test_a_localising_net_gets_its_pixel_metrics_logged_and_the_gallery_written(tmp_path: Path) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    trainer, callback = _fit(tmp_path)
    module = trainer.lightning_module
    examples = _blended(8, seed=3)
    with torch.no_grad():
        _, mask_logits = module.net.eval().forward_with_mask(examples["image"])
    expected = localization_metrics(torch.sigmoid(mask_logits), examples["mask"])
    assert set(callback.last) == {"pixel_auc", "pixel_iou"}
    for key, value in expected.items():
        logged = float(trainer.callback_metrics[f"val/{key}"])
        assert logged == pytest.approx(value, abs=1e-6) or (math.isnan(logged) and math.isnan(value))
    assert 0.0 <= expected["pixel_auc"] <= 1.0
    assert (tmp_path / "report" / "localization.png").stat().st_size > 0
    events = EventAccumulator(trainer.logger.log_dir, size_guidance={"images": 0})
    events.Reload()
    assert "val/localization" in events.Tags()["images"]


def test_without_self_blended_crops_the_callback_does_nothing(tmp_path: Path) -> None:
    trainer, callback = _fit(tmp_path, examples=False)
    assert callback.last == {} and "val/pixel_auc" not in trainer.callback_metrics
    assert not (tmp_path / "report").exists()


def test_a_net_without_the_head_gets_the_gallery_without_a_predicted_mask(tmp_path: Path) -> None:
    trainer, callback = _fit(tmp_path, localization=False)
    assert callback.last == {} and "val/pixel_auc" not in trainer.callback_metrics
    assert (tmp_path / "report" / "localization.png").exists()


def test_grad_cam_is_one_map_per_crop_in_unit_range_and_the_figure_has_a_column_each() -> None:
    torch.manual_seed(0)
    net = Meso4(input_size=SIZE).eval()
    images = _blended(4)["image"]
    with torch.inference_mode():  # as inside Lightning's validation loop
        cams = grad_cam(net, images)
    assert cams.shape == (4, SIZE, SIZE) and cams.min() >= 0.0 and cams.max() <= 1.0 + 1e-6
    masks = _blended(4)["mask"][:, 0].numpy()
    crops = images.permute(0, 2, 3, 1).numpy()
    assert localization_figure(crops, masks, masks, cams, ["a"] * 4, "t").axes[0].get_title() == "crop"
    assert len(localization_figure(crops, masks, None, cams, ["a"] * 4, "t").axes) == 4 * 3
    assert len(localization_figure(crops, masks, masks, cams, ["a"] * 4, "t").axes) == 4 * 4


@pytest.mark.parametrize(("mask_weight", "learns"), [(1.0, True), (0.0, False)])
def test_the_mask_loss_is_what_teaches_the_head_to_find_the_blend(
    tmp_path: Path, mask_weight, learns
) -> None:
    """15 epochs on crops blended in one quadrant: with the mask loss the head finds the quadrant
    (pixel AUC > 0.95; Meso4's 2x2 map at 64 px resolves quadrants); without it, it does not."""
    from functools import partial

    from dfd.models.losses import BCELoss

    torch.manual_seed(0)
    net = Meso4(input_size=SIZE, localization=True)
    module = DetectorModule(
        net,
        optimizer=partial(torch.optim.Adam, lr=3e-3),
        loss=BCELoss(mask_weight=mask_weight),
        localization=True,
    )
    callback = LocalizationReport(out_dir=None, n=16, rows=2, every_n_epochs=100)
    trainer = L.Trainer(
        accelerator="cpu", max_epochs=15, logger=False, callbacks=[callback], enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0,
    )  # fmt: skip
    trainer.fit(module, datamodule=FakeBlendedData())
    assert (callback.last["pixel_auc"] > 0.95) is learns
    assert learns or callback.last["pixel_auc"] < 0.7


@pytest.mark.parametrize(
    "target",
    [
        "dfd.models.nets.mesonet.MesoInception4",
        "dfd.models.nets.xception.Xception",
        "dfd.models.nets.timm_net.TimmNet",
        "dfd.models.nets.f3net.F3Net",
        "dfd.models.nets.hybrid_vit_cnn.HybridViTCNN",
    ],
    ids=lambda t: t.rsplit(".", 1)[1],
)
def test_grad_cam_explains_every_image_net_and_nothing_else(target: str) -> None:
    from dfd.models.nets import net_class
    from dfd.models.nets.audio_cnn import AudioCNN

    cls = net_class(target)
    torch.manual_seed(0)
    net = cls(**cls.small_config).eval()
    size = net.input_spec.size
    cams = grad_cam(net, torch.rand(2, 3, size, size))
    assert cams.shape == (2, size, size) and cams.max() <= 1.0 + 1e-6 and cams.min() >= 0.0
    assert grad_cam(AudioCNN(), torch.rand(2, 3, 8, 8)) is None


@pytest.mark.slow
def test_a_self_blended_run_logs_mask_loss_and_pixel_metrics_and_draws_the_gallery(
    ffpp_out, data_dir, tmp_path
):
    """dfd.train data=ffpp data.fakes=self_blended model.localization=true on the mini FF++ crops."""
    import pandas as pd
    from omegaconf import open_dict

    from dfd.training.tasks import train
    from tests.conftest import FFPP_METHODS, base_overrides, compose_config

    _, crops, _ = ffpp_out
    cfg = compose_config("train", base_overrides(tmp_path, data_dir) + [
        "data=ffpp", f"data.root={crops}", f"data.layout.methods=[{','.join(FFPP_METHODS)}]", "data.batch_size=8",
        "data.num_workers=0", "data.pin_memory=false", "data.fakes=self_blended", "model.net.input_size=64",
        "model.localization=true", "trainer.max_epochs=2", "callbacks.early_stopping=null", "test=false",
        "trainer.log_every_n_steps=1", "logger=many",
    ])  # fmt: skip
    with open_dict(cfg):
        cfg.callbacks.pop("rich_progress_bar", None)
    train(cfg)
    log = pd.read_csv(tmp_path / "csv" / "metrics.csv")
    mask_loss = log["train/mask_loss_epoch"].dropna()
    pixel_auc = log["val/pixel_auc"].dropna()
    assert len(mask_loss) == 2 and (mask_loss > 0).all()
    assert len(pixel_auc) == 2 and pixel_auc.between(0, 1).all() and log["val/pixel_iou"].notna().sum() == 2
    assert (tmp_path / "report" / "localization.png").stat().st_size > 0


def test_the_gallery_shows_whole_pairs_evenly_spaced() -> None:
    from dfd.callbacks.localization import gallery_rows

    assert gallery_rows(32, 8).tolist() == [0, 1, 10, 11, 20, 21, 30, 31]
    assert gallery_rows(16, 8).tolist() == [0, 1, 4, 5, 10, 11, 14, 15]
    assert gallery_rows(4, 8).tolist() == [0, 1, 2, 3]
