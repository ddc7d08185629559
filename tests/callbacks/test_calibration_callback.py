"""ThresholdCalibration and EvaluationReport in a real Lightning fit/test, on a toy module that
keeps ``eval_outputs`` as DetectorModule does."""

from __future__ import annotations

import json

import lightning as L
import pytest
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.loggers import TensorBoardLogger
from torch.utils.data import DataLoader, TensorDataset

from dfd.callbacks.calibration import ThresholdCalibration, load_calibration
from dfd.callbacks.report import EvaluationReport
from dfd.metrics.calibration import calibrate


class ToyDetector(L.LightningModule):
    """One linear fake logit on 2-d features; gathers split outputs like DetectorModule."""

    def __init__(self) -> None:
        super().__init__()
        self.net = torch.nn.Linear(2, 1)
        self.eval_outputs: dict[str, dict[str, torch.Tensor]] = {}
        self._buf: list = []

    def training_step(self, batch, _):
        x, y, _ = batch
        return torch.nn.functional.binary_cross_entropy_with_logits(self.net(x)[:, 0], y.float())

    def _eval_step(self, batch):
        x, y, v = batch
        self._buf.append((self.net(x).detach(), y, v))

    validation_step = test_step = lambda self, batch, _: self._eval_step(batch)  # noqa: E731

    def _gather(self, stage):
        logits, labels, vidx = (torch.cat(t) for t in zip(*self._buf, strict=True))
        self.eval_outputs[stage] = {
            "logits": logits,
            "probs": torch.sigmoid(logits[:, 0]),
            "labels": labels,
            "video_idx": vidx,
        }
        self._buf = []
        self.log(f"{stage}/auc", float(logits.mean()))

    def on_validation_epoch_end(self):
        self._gather("val")

    def on_test_epoch_end(self):
        self._gather("test")

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.5)


def _loader(seed: int, n: int = 256) -> DataLoader:
    g = torch.Generator().manual_seed(seed)
    vidx = torch.arange(n) // 4
    y = (torch.rand(n // 4, generator=g) < 0.3).long()[vidx]
    x = torch.randn(n, 2, generator=g) + 1.5 * y[:, None].float()
    return DataLoader(TensorDataset(x, y, vidx), batch_size=64)


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    root = tmp_path_factory.mktemp("toyrun")
    cal_cb = ThresholdCalibration(precision_target=0.8)
    ckpt_cb = ModelCheckpoint(dirpath=root / "checkpoints", monitor="val/auc", mode="max", save_last=True)
    report_cb = EvaluationReport(out_dir=root / "report", threshold="f1", run_dir=root)
    trainer = L.Trainer(
        max_epochs=3, num_sanity_val_steps=0, accelerator="cpu", logger=TensorBoardLogger(root, name="tensorboard"),
        callbacks=[cal_cb, ckpt_cb, report_cb], enable_progress_bar=False, enable_model_summary=False,
    )  # fmt: skip
    model = ToyDetector()
    trainer.fit(model, _loader(0), _loader(1))
    return root, trainer, model, cal_cb, ckpt_cb, report_cb


def test_calibration_matches_the_last_validation_outputs(fitted):
    _, _, model, cal_cb, _, _ = fitted
    val = model.eval_outputs["val"]
    want = calibrate(val["logits"], val["labels"], val["video_idx"], precision_target=0.8)
    assert cal_cb.calibration.thresholds == pytest.approx(want.thresholds)
    assert cal_cb.calibration.temperature == pytest.approx(want.temperature)
    assert cal_cb.calibration.epoch == 2


def test_checkpoint_carries_calibration_and_hparams(fitted):
    root, _, _, cal_cb, ckpt_cb, _ = fitted
    # every checkpoint holds the calibration of the epoch it was saved at
    for path in (root / "checkpoints").glob("*.ckpt"):
        ckpt = torch.load(path, map_location="cpu", weights_only=False)
        stored = load_calibration(path)
        assert stored.epoch == ckpt["epoch"]
        assert ckpt["callbacks"]["ThresholdCalibration"]["calibration"] == stored.to_dict()
    logger = fitted[1].logger
    assert logger.hparams["calibration"]["thresholds"] == cal_cb.calibration.thresholds


def test_test_run_writes_report_with_checkpoint_calibration(fitted):
    root, trainer, model, cal_cb, ckpt_cb, report_cb = fitted
    trainer.test(model, _loader(2), ckpt_path=ckpt_cb.best_model_path, verbose=False)
    best = load_calibration(ckpt_cb.best_model_path)
    assert cal_cb.calibration == best  # Lightning restored the tested checkpoint's calibration
    summary = json.loads((root / "report" / "summary.json").read_text())
    assert summary["frame"]["threshold"] == pytest.approx(best.thresholds["f1"])
    assert summary["calibration"]["epoch"] == best.epoch
    assert (root / "report" / "learning_curves.png").stat().st_size > 10_000
    # video-level and calibrated scalars reach the trainer's metrics (dfd.train's metrics.json)
    assert float(trainer.callback_metrics["test/video_auc"]) == pytest.approx(
        summary["video"]["at_0.5"]["auc"]
    )
    assert float(trainer.callback_metrics["test/calibrated_f1"]) == pytest.approx(
        summary["frame"]["calibrated"]["f1"]
    )
