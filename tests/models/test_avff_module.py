"""AVFFModule: stage 1 learns (adversarial term included, in Lightning), stage 2 starts from stage 1,
weighted losses and initial weights."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from lightning.pytorch import Trainer
from torch.utils.data import DataLoader

from dfd.data.synthetic.av import SyntheticAVDataModule
from dfd.models.avff_module import STAGE1_ONLY, STAGE2_ONLY, AVFFModule
from dfd.models.nets.avff import AVFF
from tests.av_tiny import TINY, TINY_AUDIO_PATCH, batch, tiny_net


# -- stage 1 and stage 2 -----------------------------------------------------------------------
def test_stage1_loss_decreases_over_a_few_batches(av_clips: SyntheticAVDataModule) -> None:
    torch.manual_seed(0)
    ds = av_clips.datasets["train"]
    real = [ds[i] for i in range(len(ds)) if ds.labels[i] == 0][:16]
    video = torch.stack([s["video"] for s in real])
    audio = torch.stack([s["audio"] for s in real])
    net = tiny_net()
    opt = torch.optim.Adam(net.parameters(), lr=2e-3)
    curve = []
    for _ in range(25):
        losses = net.pretrain_losses(video, audio)
        opt.zero_grad()
        (losses["loss"] + losses["discriminator"]).backward()
        opt.step()
        curve.append(losses["loss"].item())
    assert np.mean(curve[-5:]) < 0.8 * np.mean(curve[:3]), curve


def test_stage1_trains_generator_and_discriminators_in_one_lightning_step() -> None:
    """Automatic optimization (so gradient clipping works) updates both sides of the adversarial term."""
    torch.manual_seed(0)
    module = AVFFModule(tiny_net(), optimizer=torch.optim.Adam, stage=1)
    video, audio = batch(b=4)
    samples = [
        {"video": v, "audio": a, "label": torch.tensor(0.0)} for v, a in zip(video, audio, strict=True)
    ]
    before = {k: v.clone() for k, v in module.net.state_dict().items()}
    trainer = Trainer(
        max_steps=2, accelerator="cpu", logger=False, enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False, gradient_clip_val=1.0, limit_val_batches=0,
    )  # fmt: skip
    trainer.fit(module, DataLoader(samples, batch_size=4))
    after = module.net.state_dict()
    for prefix in ("video_disc.", "audio_disc.", "video_decoder.", "video_encoder.", "a2v."):
        assert any(not torch.equal(before[k], after[k]) for k in after if k.startswith(prefix)), prefix
    logged = trainer.callback_metrics
    assert {"train/adversarial", "train/discriminator"} <= set(logged)


def test_stage2_starts_from_the_stage1_weights(tmp_path: Path) -> None:
    def module(stage: int, ckpt: str | None = None) -> AVFFModule:
        return AVFFModule(tiny_net(), optimizer=torch.optim.Adam, stage=stage, pretrained_ckpt=ckpt)

    torch.manual_seed(0)
    first = module(1)
    ckpt = tmp_path / "stage1.ckpt"
    torch.save({"state_dict": first.state_dict()}, ckpt)
    torch.manual_seed(1)
    second = module(2, str(ckpt))
    before = {k: v.clone() for k, v in second.net.state_dict().items()}
    second.setup("fit")
    after = second.net.state_dict()
    for key, value in first.net.state_dict().items():
        if key.startswith(STAGE2_ONLY + STAGE1_ONLY):  # the classifier is stage 2's own; discriminators stay
            assert torch.equal(after[key], before[key]), key
        else:
            assert torch.equal(after[key], value), key
    # a stage 2 without the adversarial term (no discriminators) loads the same checkpoint
    lean = AVFFModule(tiny_net(adversarial_weight=0.0), optimizer=torch.optim.Adam, pretrained_ckpt=str(ckpt))
    assert not any(k.startswith(STAGE1_ONLY) for k in lean.load_pretrained(ckpt))
    assert not torch.equal(
        before["video_encoder.blocks.0.attn.qkv.weight"], after["video_encoder.blocks.0.attn.qkv.weight"]
    )

    wider = AVFFModule(
        AVFF(**{**TINY, "dim": 48}, **TINY_AUDIO_PATCH), optimizer=torch.optim.Adam, pretrained_ckpt=str(ckpt)
    )
    with pytest.raises(ValueError, match="same model.net sizes"):
        wider.setup("fit")
    with pytest.raises(FileNotFoundError, match="experiment=avff_dfdc_pretrain"):
        module(2, str(tmp_path / "nothing.ckpt")).setup("fit")


def test_avff_weighted_loss_gets_the_training_class_counts() -> None:
    from types import SimpleNamespace

    from dfd.models.losses import WeightedBCELoss

    module = AVFFModule(tiny_net(), optimizer=torch.optim.Adam, loss=WeightedBCELoss())
    module.trainer = SimpleNamespace(datamodule=SimpleNamespace(class_counts=lambda split: {0: 300, 1: 100}))
    module.setup("fit")
    assert module.loss_fn.pos_weight == pytest.approx(3.0)


def test_avff_takes_weights_path_but_not_together_with_pretrained_ckpt(tmp_path: Path) -> None:
    source = AVFFModule(tiny_net(), optimizer=torch.optim.Adam)
    ckpt = tmp_path / "last.ckpt"
    torch.save({"state_dict": source.state_dict()}, ckpt)
    loaded = AVFFModule(tiny_net(), optimizer=torch.optim.Adam, weights_path=str(ckpt))
    for key, value in source.net.state_dict().items():
        assert torch.equal(loaded.net.state_dict()[key], value), key
    with pytest.raises(ValueError, match="keep one of them"):
        AVFFModule(tiny_net(), optimizer=torch.optim.Adam, weights_path=str(ckpt), pretrained_ckpt=str(ckpt))
