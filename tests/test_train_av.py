"""dfd.train on audio-visual data: AVFF stages, modalities, resume, frame models on AV clips."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from omegaconf import open_dict

from dfd.config.instantiate import instantiate
from dfd.raw.audio import read_wav
from dfd.training.tasks import train
from tests.av_tiny import AV_DATA


def _mouth_and_loudness(sample: dict) -> tuple[torch.Tensor, torch.Tensor]:
    video, audio = sample["video"], sample["audio"][0]
    mouth = -video[:, :, 19:27, 10:22].mean((1, 2, 3))  # the mouth is dark: darker = more open
    loud = audio.mean(0)[: 4 * len(mouth)].reshape(len(mouth), 4).mean(1)
    return mouth, loud


# -- training through dfd.train ----------------------------------------------------------------
def test_fast_dev_run_avff_on_synthetic_av(make_cfg) -> None:
    cfg = make_cfg(
        ["data=synthetic_av", "model=avff_tiny", *AV_DATA, "+trainer.fast_dev_run=true"], tiny=False
    )
    metrics = train(cfg)
    assert {"val/auc", "test/auc", "train/auc", "train/f1"} <= set(metrics)
    assert np.isfinite(metrics["test/loss"])


def test_fast_dev_run_avff_stage1(make_cfg, recwarn, caplog) -> None:
    # the paper's stage 1 (the tiny experiment pins dfd's earlier one): encode then mask, with the
    # adversarial term, under the experiment's gradient clipping (automatic optimization)
    paper = [
        "model.net.mask_before_encoder=false",
        "model.net.adversarial_weight=0.01",
        "model.net.cross_weight=0",
    ]
    cfg = make_cfg(
        ["experiment=avff_tiny_synthetic_av_pretrain", *AV_DATA, *paper, "+trainer.fast_dev_run=true"],
        tiny=False,
    )
    assert cfg.trainer.gradient_clip_val == 1.0
    metrics = train(cfg)
    terms = {"rec_video", "rec_audio", "contrastive", "adversarial", "discriminator"}
    assert {"val/loss", *(f"val/{k}" for k in terms)} <= set(metrics)
    assert "val/cross" not in metrics and "test/auc" not in metrics
    # the closing summary names what the run selected on (stage 1 has no AUC)
    summary = (Path(cfg.paths.output_dir) / "summary.txt").read_text()
    assert "selected on   : val/loss (min)" in summary and "AUC" not in summary
    # real-only splits and no scores are stage 1's design: nothing to warn about
    assert not [str(w.message) for w in recwarn if "ThresholdCalibration" in str(w.message)]
    assert "AUC is undefined" not in caplog.text


def test_time_aligned_audio_window_with_16x16_patches(make_cfg) -> None:
    """data.hop_ms=null fits data.audio_frames to the clip: 8 frames at 25 fps (320 ms) as 64 mel
    frames, no silence padding, and 16-frame audio patches, one per pair of video tubelets."""
    window = ["data.hop_ms=null", "data.audio_frames=64", "model.net.audio_patch_time=16"]
    cfg = make_cfg(
        ["data=synthetic_av", "model=avff_tiny", *AV_DATA, *window, "+trainer.fast_dev_run=true"], tiny=False
    )
    dm = instantiate(cfg.data)
    dm.prepare_data()
    dm.set_input_spec(instantiate(cfg.model.net).input_spec)
    dm.setup()
    ds = dm.datasets["val"]
    assert dm.clip_hop_ms(16_000) * 16 == 5120 // 63  # whole samples per hop: 320 ms / 63 hops, rounded down
    raw = ds.mel(torch.from_numpy(read_wav(ds.wavs[0])))
    assert raw.shape[-1] == 64  # the STFT itself yields the window: nothing cropped, nothing padded
    assert next(iter(dm.val_dataloader()))["audio"].shape[1:] == (1, cfg.model.net.n_mels, 64)
    metrics = train(cfg)
    assert np.isfinite(metrics["test/loss"])


@pytest.mark.parametrize(
    "overrides",
    [["data.modality=audio", "model=audio_only"], ["data.modality=image", "model=mesonet"]],
    ids=["audio_only", "frame_view"],
)
def test_fast_dev_run_modalities(make_cfg, overrides: list[str]) -> None:
    cfg = make_cfg(["data=synthetic_av", *AV_DATA, *overrides, "+trainer.fast_dev_run=true"], tiny=False)
    metrics = train(cfg)
    assert "test/auc" in metrics and np.isfinite(metrics["test/loss"])


def test_wrong_modality_fails_with_the_fix(make_cfg) -> None:
    cfg = make_cfg(
        [
            "data=synthetic_av",
            *AV_DATA,
            "data.modality=image",
            "model=avff_tiny",
            "+trainer.fast_dev_run=true",
        ],
        tiny=False,
    )
    with pytest.raises(KeyError, match="data.modality=video"):
        train(cfg)


@pytest.mark.slow
def test_resume_avff_stage2_continues_and_writes_figures(make_cfg, tmp_path: Path) -> None:
    """The 10 → 20 epoch continuation of the DFDC report, at 1 → 2 epochs."""
    base = ["data=synthetic_av", "model=avff_tiny", *AV_DATA, "test=false", "data.cache=true"]
    train(make_cfg([*base, "trainer.max_epochs=1"], tiny=False))
    last = tmp_path / "checkpoints" / "last.ckpt"
    first = torch.load(last, map_location="cpu", weights_only=False)
    train(make_cfg([*base, "trainer.max_epochs=2", f"ckpt_path={last}"], tiny=False))
    second = torch.load(last, map_location="cpu", weights_only=False)
    assert second["epoch"] > first["epoch"]
    assert second["global_step"] == 2 * first["global_step"]
    for name in ("learning_curves.png", "training_metrics.png"):
        assert (tmp_path / "report" / name).stat().st_size > 10_000


@pytest.mark.parametrize("model", ["mesonet", "meso_inception", "xception", "efficientnet_b4", "timm"])
def test_frame_view_follows_each_frame_models_input_spec(make_cfg, model: str) -> None:
    """``data.modality=image`` gives every frame model crops of its declared size and normalisation."""
    cfg = make_cfg([f"model={model}", "data=synthetic_av", *AV_DATA, "data.modality=image"], tiny=False)
    with open_dict(cfg):
        if "pretrained" in cfg.model.net:
            cfg.model.net.pretrained = False
    with torch.device("meta"):  # the spec is all we need
        spec = instantiate(cfg.model.net).input_spec
    dm = instantiate(cfg.data)
    dm.prepare_data()
    dm.set_input_spec(spec)
    dm.setup()
    image = next(iter(dm.val_dataloader()))["image"]
    assert image.shape[1:] == (3, spec.size, spec.size)
    pixels = image * torch.tensor(spec.std).view(1, 3, 1, 1) + torch.tensor(spec.mean).view(1, 3, 1, 1)
    assert pixels.min() >= -1e-4 and pixels.max() <= 1 + 1e-4 and pixels.max() > 0.5


def test_audio_visual_checkpoints_open_as_plain_data(make_cfg, tmp_path: Path) -> None:
    """AVFF's checkpoint (its hparams hold the list of inputs) opens with weights_only=True."""
    cfg = make_cfg(["experiment=avff_tiny_synthetic_av_pretrain", *AV_DATA, "trainer.max_epochs=1",
                    "+trainer.limit_train_batches=1", "+trainer.limit_val_batches=1"], tiny=False)  # fmt: skip
    train(cfg)
    checkpoint = torch.load(tmp_path / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    assert checkpoint["hyper_parameters"]["inputs"] == ["video", "audio"]
