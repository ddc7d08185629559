"""A toy detector fitted once with calibration, shared by the callback tests."""

from __future__ import annotations

import lightning as L
import pytest
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.loggers import TensorBoardLogger
from torch.utils.data import DataLoader, TensorDataset

from dfd.callbacks.calibration import ThresholdCalibration
from dfd.callbacks.report import EvaluationReport


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


def toy_loader(seed: int, n: int = 256) -> DataLoader:
    """Separable 2-d features, 4 samples per video, about 30% fake videos."""
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
    trainer.fit(model, toy_loader(0), toy_loader(1))
    return root, trainer, model, cal_cb, ckpt_cb, report_cb
