"""Imbalance options wired through the configs: samplers, losses, optimizers, schedules, statistics."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from lightning.pytorch import Callback
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from dfd.callbacks.dataset_stats import format_class_counts, imbalance_ratio
from dfd.config.instantiate import instantiate
from dfd.data.samplers import WeightedClassSampler
from dfd.models.losses import WeightedBCELoss
from dfd.models.schedulers import cosine_with_warmup
from dfd.training.tasks import train
from tests.conftest import CONF


def _names(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF / group).glob("*.yaml"))


@pytest.mark.parametrize("name", _names("sampler"))
def test_sampler_configs_build_rank_aware_samplers(make_cfg, name: str) -> None:
    cfg = make_cfg([f"sampler={name}"])
    labels = np.array([0] * 10 + [1] * 50)
    sampler = instantiate(cfg.sampler)(labels=labels, video_idx=np.arange(60) // 3)
    assert len(sampler) == 60 and sampler.seed == cfg.seed
    assert set(sampler) <= set(range(60))


@pytest.mark.parametrize("optimizer", _names("model/optimizer"))
@pytest.mark.parametrize("scheduler", _names("model/scheduler"))
def test_optimizer_and_scheduler_choices(make_cfg, optimizer: str, scheduler: str) -> None:
    cfg = make_cfg([f"model/optimizer={optimizer}", f"model/scheduler={scheduler}", "trainer.max_epochs=6"])
    model = instantiate(cfg.model, loss=instantiate(cfg.loss))
    conf = model.configure_optimizers()
    assert type(conf["optimizer"]).__name__.lower() == optimizer
    assert conf["optimizer"].param_groups[0]["initial_lr"] == pytest.approx(1e-3)  # the model's lr wins
    assert conf["lr_scheduler"]["interval"] == "epoch"


def test_cosine_with_warmup_shape() -> None:
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    sched = cosine_with_warmup(opt, warmup_epochs=2, max_epochs=6, warmup_start_factor=0.1, eta_min=0.0)
    lrs = []
    for _ in range(6):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    # 0.1 → 0.55 (linear warm-up), then the cosine from 1.0 down over the remaining 4 epochs
    assert lrs == pytest.approx([0.1, 0.55, 1.0, 0.853553, 0.5, 0.146447], abs=1e-5)
    with pytest.raises(ValueError, match="warmup_epochs"):
        cosine_with_warmup(opt, warmup_epochs=6, max_epochs=6)


def test_ce_builds_a_two_output_net(make_cfg) -> None:
    cfg = make_cfg(["loss=ce"])
    model = instantiate(cfg.model, loss=instantiate(cfg.loss))
    assert model.net.num_classes == 2
    logits = model(torch.zeros(2, 3, 256, 256))
    assert logits.shape == (2, 2)
    assert model.loss_fn(logits, torch.tensor([0.0, 1.0])).ndim == 0


class _Capture(Callback):
    def on_train_start(self, trainer, pl_module) -> None:
        self.module = pl_module
        self.sampler = trainer.train_dataloader.sampler
        self.datamodule = trainer.datamodule


def test_weighted_bce_weighted_sampler_and_statistics_in_a_run(make_cfg, tmp_path: Path) -> None:
    # 1 fake : 3 real in training, so the fake class is the minority
    capture = _Capture()
    cfg = make_cfg(
        [
            "loss=weighted_bce",
            "sampler=weighted",
            "data.fake_fraction=0.25",
            "data.num_videos=40",
            "data.minority_strength=2.0",
            "test=false",
            "+trainer.limit_train_batches=2",
        ]
    )
    metrics = train(cfg, extra_callbacks=[capture])
    counts = capture.datamodule.class_counts("train")
    assert counts[0] > 2 * counts[1]  # the data really is imbalanced
    loss = capture.module.loss_fn
    assert isinstance(loss, WeightedBCELoss) and loss.pos_weight == pytest.approx(counts[0] / counts[1])
    assert isinstance(capture.sampler, WeightedClassSampler)
    assert set(capture.datamodule.datasets["train"].label_transforms) == {1}  # fakes are the minority
    assert set(capture.datamodule.class_counts("val")) == {0, 1}  # so the AUC is defined
    assert np.isfinite(metrics["val/auc_best"])
    # statistics went to TensorBoard as text
    acc = EventAccumulator(str(tmp_path / "tensorboard"), size_guidance={"tensors": 0})
    acc.Reload()
    (event,) = acc.Tensors("data/statistics/text_summary")
    text = event.tensor_proto.string_val[0].decode()
    assert f"| train | {counts[0]} | {counts[1]} |" in text
    assert f"{counts[0] / counts[1]:.2f}:1" in text


def test_statistics_table() -> None:
    assert imbalance_ratio({0: 200, 1: 1000}) == 5.0
    table = format_class_counts({"train": {0: 200, 1: 1000}})
    assert "| train | 200 | 1000 | 1200 | 0.833 | 5.00:1 |" in table


class _Batches(Callback):
    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self.seen = [*getattr(self, "seen", []), (list(batch["video_id"]), batch["label"].tolist())]
        self.sampler = trainer.train_dataloader.sampler


@pytest.mark.slow
def test_paired_source_training_on_preprocessed_ffpp_pairs_each_fake_with_its_original(
    ffpp_out, make_cfg, tmp_path: Path
) -> None:
    """dfd.preprocess writes each FF++ fake's original into the manifest, and a run with
    sampler=paired_source trains on batches of (original, fake made from it) pairs."""
    from dfd.data.samplers import PairedSourceSampler
    from dfd.preprocessing.manifest import read_manifest

    _, crops, _ = ffpp_out
    rows, _ = read_manifest(crops)
    fakes = rows[(rows["label"] == 1) & rows["method"].isin(["Deepfakes", "FaceSwap"])]
    assert (fakes["source_video"] == "original/" + fakes["video_id"].str.split("/").str[1].str[:3]).all()
    assert rows.loc[rows["label"] == 0, "source_video"].isna().all()
    batches = _Batches()
    cfg = make_cfg(
        ["data=ffpp", f"data.root={crops}", "data.layout.methods=[Deepfakes,FaceSwap]", "data.batch_size=4",
         "sampler=paired_source", "sampler.crops_per_video=2", "model.net.input_size=64", "test=false",
         "callbacks.early_stopping=null"],
        tiny=False,
    )  # fmt: skip
    metrics = train(cfg, extra_callbacks=[batches])
    assert isinstance(batches.sampler, PairedSourceSampler) and not batches.sampler.fallback
    assert len(batches.seen) == len(batches.sampler) // 4 > 0  # one epoch of whole batches
    for ids, labels in batches.seen:
        assert labels == [0.0, 0.0, 1.0, 1.0] and len(set(ids[:2])) == len(set(ids[2:])) == 1
        assert ids[0] == "original/" + ids[2].split("/")[1][:3]
    assert np.isfinite(metrics["val/auc_best"])
