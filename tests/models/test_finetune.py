"""Fine-tuning controls of DetectorModule: frozen backbone, unfreezing, per-part learning rates,
local initial weights, and the clear failure of pretrained weights offline."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from lightning.pytorch import Callback

from dfd.config.instantiate import instantiate
from dfd.models.detector_module import DetectorModule, count_parameters
from dfd.models.nets.mesonet import Meso4, MesoInception4
from dfd.training.tasks import train


def _module(**kwargs) -> DetectorModule:
    opt = torch.optim.Adam
    return DetectorModule(
        net=MesoInception4(input_size=32), optimizer=lambda params: opt(params, lr=1e-3), **kwargs
    )


def test_frozen_backbone_is_a_fixed_feature_extractor():
    module = _module(freeze_backbone=True)
    net = module.net
    counts = count_parameters(net)
    assert counts["frozen"] == sum(p.numel() for p in net.backbone.parameters()) > 0
    assert counts["trainable"] == sum(p.numel() for p in net.head.parameters())
    module.train()
    assert module.training and net.head.training
    assert not any(m.training for m in net.backbone.modules())  # BatchNorm statistics stay fixed
    groups = module.configure_optimizers().param_groups
    assert [g["name"] for g in groups] == ["head"]  # never unfrozen: not in the optimizer at all


def test_backbone_learning_rate_is_its_own_param_group():
    module = _module(backbone_lr=1e-5)
    groups = {g["name"]: g for g in module.configure_optimizers().param_groups}
    assert groups["backbone"]["lr"] == 1e-5 and groups["head"]["lr"] == 1e-3
    n_backbone = sum(p.numel() for p in groups["backbone"]["params"])
    assert n_backbone == sum(p.numel() for p in module.net.backbone.parameters())
    assert (
        n_backbone + sum(p.numel() for p in groups["head"]["params"]) == count_parameters(module.net)["total"]
    )


def test_freezing_a_net_without_backbone_names_the_fix():
    with pytest.raises(ValueError, match="model.freeze_backbone"):
        DetectorModule(net=torch.nn.Linear(2, 1), optimizer=torch.optim.Adam, freeze_backbone=True)


class _Watch(Callback):
    """Backbone weights and trainability at the start and end of each training epoch."""

    def __init__(self) -> None:
        self.epochs: list[dict] = []

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        self.epochs.append({"before": next(pl_module.net.backbone.parameters()).detach().clone()})

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        p = next(pl_module.net.backbone.parameters())
        self.epochs[-1].update(after=p.detach().clone(), trainable=p.requires_grad)


def test_backbone_unfreezes_at_the_given_epoch_and_counts_are_recorded(make_cfg, tmp_path: Path):
    cfg = make_cfg(
        [
            "model=meso_inception",
            "model.net.input_size=32",
            "model.freeze_backbone=true",
            "model.unfreeze_backbone_at_epoch=1",
            "model.backbone_lr=1e-4",
            "trainer.max_epochs=2",
            "+trainer.limit_train_batches=2",
            "+trainer.limit_val_batches=1",
            "test=false",
            "callbacks.early_stopping=null",
        ]
    )
    watch = _Watch()
    train(cfg, extra_callbacks=[watch])
    first, second = watch.epochs
    assert first["trainable"] is False and torch.equal(first["before"], first["after"])
    assert second["trainable"] is True and not torch.equal(second["before"], second["after"])
    # parameter counts at the start (what train.py logs and puts in hparams): backbone frozen
    params = json.loads((tmp_path / "metrics.json").read_text())["params"]
    net = MesoInception4(input_size=32)
    assert params["frozen"] == sum(p.numel() for p in net.backbone.parameters())
    assert params["total"] == 28_615 - 16 * 8 * 8 * 16 + 16 * 1 * 1 * 16  # head shrinks with the input


def test_weights_path_loads_a_previous_run(make_cfg, tmp_path: Path):
    source = DetectorModule(net=Meso4(), optimizer=torch.optim.Adam)
    torch.nn.init.constant_(source.net.head[2].weight, 0.125)
    ckpt = tmp_path / "previous.ckpt"
    torch.save({"state_dict": source.state_dict(), "epoch": 1}, ckpt)
    cfg = make_cfg(["model=mesonet", f"model.weights_path={ckpt}"])
    model = instantiate(cfg.model, loss=instantiate(cfg.loss))
    assert torch.equal(model.net.head[2].weight, source.net.head[2].weight)
    assert model.weights_report == {"missing": [], "unexpected": [], "mismatched": []}


def test_pretrained_run_offline_fails_fast_with_the_fix(make_cfg, monkeypatch):
    # whatever this machine's hub cache holds, the weights are "not cached" and the hub is offline
    monkeypatch.setattr("dfd.models.nets.pretrained._cached_weight_file", lambda name: None)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    cfg = make_cfg(["model=efficientnet_b4"])  # pretrained: true, as configs default
    assert cfg.model.net.pretrained is True
    with pytest.raises(Exception, match=r"model\.net\.pretrained=false.*model\.weights_path="):
        train(cfg)


def test_hybrid_backbones_freeze_together():
    from dfd.models.nets.hybrid_vit_cnn import HybridViTCNN

    with torch.device("meta"):
        module = DetectorModule(
            net=HybridViTCNN(pretrained=False), optimizer=torch.optim.Adam, freeze_backbone=True
        )
    counts = count_parameters(module.net)
    assert counts == {"total": 97_894_209, "trainable": 919_041, "frozen": 96_975_168}
