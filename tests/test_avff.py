"""AVFF: the net, its two stages, the audio-visual data and the modality switch."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from omegaconf import open_dict

from dfd.data.mel import LogMel
from dfd.data.synthetic.av import FAKE_METHODS, SyntheticAVDataModule, make_video
from dfd.data.transforms import InputSpec
from dfd.models.avff_module import STAGE2_ONLY, AVFFModule
from dfd.models.detector_module import count_parameters
from dfd.models.nets.avff import AVFF
from dfd.preprocessing.clips import cut_clips, read_strip
from dfd.preprocessing.manifest import read_manifest
from dfd.raw.audio import leading_silence_seconds, read_wav, write_wav
from dfd.train import train
from dfd.utils.instantiate import instantiate

from .conftest import compose_config

TINY = dict(
    dim=32,
    depth=1,
    heads=2,
    decoder_dim=16,
    decoder_depth=1,
    decoder_heads=2,
    image_size=32,
    patch=16,
    n_mels=32,
)
TINY_AUDIO_PATCH = dict(audio_patch_freq=16, audio_patch_time=4)
#: synthetic_av at test size: 40 videos (8 val, 8 test), 32 mel bins to match TINY
AV_DATA = ["data.num_videos=40", "data.batch_size=8", "data.num_workers=0"]


def tiny_net(**kw) -> AVFF:
    return AVFF(**TINY, **TINY_AUDIO_PATCH, **kw)


def batch(b: int = 4, t: int = 8, frames: int = 32, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(b, t, 3, 32, 32, generator=g), torch.randn(b, 1, 32, frames, generator=g)


# -- the net ---------------------------------------------------------------------------------
def test_tiny_forward_and_backward_reach_both_encoders() -> None:
    net = tiny_net()
    video, audio = batch()
    logits = net(video, audio)
    assert logits.shape == (4, 1)
    logits.sum().backward()
    for name in ("video_encoder", "audio_encoder", "a2v", "v2a", "head"):
        grads = [p.grad for n, p in net.named_parameters() if n.startswith(name) and p.grad is not None]
        assert grads and any(g.abs().sum() > 0 for g in grads), name

    net.zero_grad()
    losses = tiny_net().pretrain_losses(video, audio)
    assert set(losses) == {"loss", "rec_video", "rec_audio", "contrastive", "cross"}
    assert all(torch.isfinite(v) for v in losses.values())
    losses["loss"].backward()


def test_masks_are_complementary_in_time() -> None:
    net = tiny_net(mask_ratio=0.5)
    vgrid, agrid = (4, 2, 2), (8, 2)  # 4 video time patches, 2 audio time patches per segment
    vmask, amask = net.complementary_masks(6, vgrid, agrid, torch.device("cpu"))
    vseg = vmask.reshape(6, 4, 4).all(-1)  # every token of a segment shares its mask
    assert torch.equal(vseg, vmask.reshape(6, 4, 4).any(-1))
    aseg = amask.reshape(6, 4, 2 * 2).all(-1)
    assert torch.equal(vseg, ~aseg)  # what one modality hides, the other shows
    assert (vseg.sum(1) == 2).all()  # mask_ratio of the segments, in every sample


def test_audio_ablation_makes_the_output_independent_of_audio() -> None:
    net = tiny_net(ablate_audio=True).eval()
    video, audio = batch()
    _, other = batch(seed=1)
    assert torch.allclose(net(video, audio), net(video, other))
    full = tiny_net().eval()
    full.load_state_dict(net.state_dict())
    assert not torch.allclose(full(video, audio), full(video, other))


def test_parameter_counts_of_tiny_and_base() -> None:
    tiny = AVFF(
        dim=64, depth=2, heads=4, decoder_dim=32, decoder_depth=1, decoder_heads=2, image_size=32, patch=8
    )
    base = AVFF()  # ViT-B encoders for both modalities
    # pinned from the architecture: a change in any encoder, decoder or head moves these
    assert count_parameters(tiny) == {"total": 467_841, "trainable": 467_841, "frozen": 0}
    assert count_parameters(base) == {"total": 211_784_705, "trainable": 211_784_705, "frozen": 0}


def test_shape_errors_name_the_config_key() -> None:
    net = tiny_net()
    video, audio = batch(t=7)
    with pytest.raises(ValueError, match="data.clip_len"):
        net(video, audio)
    video, audio = batch(frames=24)  # 6 audio time patches vs 4 video time patches
    with pytest.raises(ValueError, match="data.audio_frames"):
        net(video, audio)


# -- stage 1 and stage 2 -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def av_clips(tmp_path_factory: pytest.TempPathFactory) -> SyntheticAVDataModule:
    dm = SyntheticAVDataModule(
        str(tmp_path_factory.mktemp("av")), num_videos=40, n_mels=32, input_spec=InputSpec(32), augment=False
    )
    dm.prepare_data()
    dm.setup()
    return dm


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
        loss = net.pretrain_losses(video, audio)["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
        curve.append(loss.item())
    assert np.mean(curve[-5:]) < 0.8 * np.mean(curve[:3]), curve


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
        if key.startswith(STAGE2_ONLY):  # the classifier is stage 2's own
            assert torch.equal(after[key], before[key]), key
        else:
            assert torch.equal(after[key], value), key
    assert not torch.equal(
        before["video_encoder.blocks.0.attn.qkv.weight"], after["video_encoder.blocks.0.attn.qkv.weight"]
    )

    wider = AVFFModule(
        AVFF(**{**TINY, "dim": 48}, **TINY_AUDIO_PATCH), optimizer=torch.optim.Adam, pretrained_ckpt=str(ckpt)
    )
    with pytest.raises(ValueError, match="same model.net sizes"):
        wider.setup("fit")
    with pytest.raises(FileNotFoundError, match="experiment=avff_pretrain"):
        module(2, str(tmp_path / "nothing.ckpt")).setup("fit")


# -- data --------------------------------------------------------------------------------------
def test_wav_roundtrip_and_logmel_shape(tmp_path: Path) -> None:
    t = np.arange(16000) / 16000
    tone = 0.5 * np.sin(2 * np.pi * 440 * t)
    write_wav(tmp_path / "a.wav", tone)
    back = read_wav(tmp_path / "a.wav")
    assert np.abs(back - tone).max() < 1e-4
    mel = LogMel()(torch.from_numpy(back))
    assert mel.shape == (128, 16000 // 160 + 1)  # 128 mels, 10 ms hop
    with pytest.raises(ValueError, match="8000 Hz"):
        write_wav(tmp_path / "b.wav", tone, rate=8000)
        read_wav(tmp_path / "b.wav")


def test_leading_silence_is_measured() -> None:
    t = np.arange(16000) / 16000
    audio = np.where(t >= 0.3, 0.4 * np.sin(2 * np.pi * 200 * t), 1e-5)
    assert abs(leading_silence_seconds(audio) - 0.3) <= 0.011


def _mouth_and_loudness(sample: dict) -> tuple[torch.Tensor, torch.Tensor]:
    video, audio = sample["video"], sample["audio"][0]
    mouth = -video[:, :, 19:27, 10:22].mean((1, 2, 3))  # the mouth is dark: darker = more open
    loud = audio.mean(0)[: 4 * len(mouth)].reshape(len(mouth), 4).mean(1)
    return mouth, loud


def test_synthetic_av_real_clips_are_in_sync_and_fakes_are_not(av_clips: SyntheticAVDataModule) -> None:
    ds = av_clips.datasets["train"]
    corr = {0: [], 1: []}
    for i in range(len(ds)):
        mouth, loud = _mouth_and_loudness(ds[i])
        corr[int(ds.labels[i])].append(float(torch.corrcoef(torch.stack([mouth, loud]))[0, 1]))
    assert np.mean(corr[0]) > 0.7 and np.mean(corr[1]) < 0.3, corr
    sample = ds[0]
    assert sample["video"].shape == (8, 3, 32, 32) and sample["audio"].shape == (1, 32, 32)


def test_synthetic_av_modalities_alone_look_alike() -> None:
    """Per-modality statistics of real and fake videos agree: only their pairing differs."""
    stats: dict[int, list[list[float]]] = {0: [], 1: []}
    for vid in range(240):
        label, method = vid % 2, FAKE_METHODS[(vid // 2) % 3]
        frames, audio = make_video(np.random.default_rng([7, vid]), label, method, 8, 32, 25.0, 0.0)
        mouth = -frames[:, 19:27, 10:22].astype(np.float32).mean((1, 2, 3))
        loud = np.sqrt((audio.reshape(8, -1) ** 2).mean(1))
        stats[label].append([mouth.mean(), mouth.std(), loud.mean(), loud.std()])
    real, fake = np.array(stats[0]), np.array(stats[1])
    spread = np.concatenate([real, fake]).std(0)
    # 120 videos per class: the standard error of a mean difference is about 0.13 spreads
    assert (np.abs(real.mean(0) - fake.mean(0)) < 0.4 * spread).all(), (real.mean(0), fake.mean(0), spread)


def test_trim_leading_silence_moves_fake_clips_past_it(tmp_path: Path) -> None:
    common = dict(
        num_videos=12, frames_per_video=24, fake_leading_silence=0.3, n_mels=32, input_spec=InputSpec(32)
    )
    for trim in (False, True):
        dm = SyntheticAVDataModule(str(tmp_path), trim_leading_silence=trim, **common)
        dm.prepare_data()
        rows, meta = read_manifest(dm.root)
        starts = rows[rows["label"] == 1]["frame_idx"]
        assert meta["trim_leading_silence"] is trim
        # 0.3 s at 25 fps = 7.5 frames: clips start at frame 8 or later once trimmed
        assert (starts >= 8).all() if trim else (starts == 0).all()
        assert (rows[rows["label"] == 0]["frame_idx"] == 0).all()


# -- training through dfd.train ----------------------------------------------------------------
def test_fast_dev_run_avff_on_synthetic_av(make_cfg) -> None:
    cfg = make_cfg(
        ["data=synthetic_av", "model=avff_tiny", *AV_DATA, "+trainer.fast_dev_run=true"], tiny=False
    )
    metrics = train(cfg)
    assert {"val/auc", "test/auc", "train/auc", "train/f1"} <= set(metrics)
    assert np.isfinite(metrics["test/loss"])


def test_fast_dev_run_avff_stage1(make_cfg) -> None:
    cfg = make_cfg(
        ["experiment=avff_synthetic_av_pretrain", *AV_DATA, "+trainer.fast_dev_run=true"], tiny=False
    )
    metrics = train(cfg)
    assert {"val/loss", "val/rec_video", "val/rec_audio", "val/contrastive", "val/cross"} <= set(metrics)
    assert "test/auc" not in metrics


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


def test_cut_clips_aligns_audio_and_reports_short_videos(tmp_path: Path) -> None:
    crops = np.zeros((20, 16, 16, 3), np.uint8)
    crops[:, :, :, 0] = np.arange(20)[:, None, None] * 10  # frame index in the red channel
    audio = np.repeat(np.arange(20, dtype=np.float32) / 40, 640)  # 25 fps: 640 samples per frame
    rows = cut_clips(tmp_path, "v", crops, audio, 25.0, clip_len=8, clips_per_video=2, row={"label": 0})
    assert [r["frame_idx"] for r in rows] == [0, 12]
    strip = read_strip(tmp_path / rows[1]["crop_path"], 8)
    assert strip.shape == (8, 16, 16, 3) and list(strip[:, 0, 0, 0]) == [10 * i for i in range(12, 20)]
    seg = read_wav(tmp_path / rows[1]["audio_path"])
    assert len(seg) == 8 * 640 and abs(seg[0] - 12 / 40) < 1e-3 and abs(seg[-1] - 19 / 40) < 1e-3
    short = cut_clips(tmp_path, "s", crops[:5], audio, 25.0, clip_len=8, clips_per_video=2, row={"label": 1})
    assert len(short) == 1 and short[0]["status"] == "too_short" and short[0]["label"] == 1


# -- real layouts in clip mode -----------------------------------------------------------------
@pytest.mark.slow
def test_mini_dfdc_clip_mode_preprocess_and_fast_dev_run(make_cfg, tmp_path: Path) -> None:
    """Preprocessing in clip mode on a generated DFDC tree, then AVFF with audio on it."""
    from dfd.data.synthetic.mini import make_dfdc
    from dfd.preprocess import preprocess

    raw = make_dfdc(tmp_path / "raw", n_parts=2, originals_per_part=1, fakes_per_original=2, n_test=2)
    data = [
        "data=dfdc_av",
        f"data.raw_dir={raw}",
        f"data.root={tmp_path / 'clips'}",
        "data.layout.val_parts=[1]",
        "data.clip_len=8",
        "data.clips_per_video=2",
        "data.audio_frames=64",  # 8 frames at 12 fps = 667 ms of audio
    ]
    paths = [f"paths.{k}={tmp_path}" for k in ("root_dir", "data_dir", "log_dir", "output_dir", "work_dir")]
    pre = [*data, *paths, "data_name=dfdc_av", "preprocess.num_workers=0", "preprocess.cropper.size=64"]
    cfg = compose_config("preprocess", pre)
    assert preprocess(cfg) == 8  # 2 parts × (1 real + 2 fakes) + 2 test videos
    rows, meta = read_manifest(tmp_path / "clips")
    assert meta["mode"] == "clip" and meta["clip_len"] == 8
    ok = rows[rows["status"] == "ok"]
    assert len(ok) == 16 and ok.groupby("video_id").size().eq(2).all()
    strip = read_strip(tmp_path / "clips" / ok["crop_path"].iloc[0], 8)
    assert strip.shape == (8, 64, 64, 3)
    assert len(read_wav(tmp_path / "clips" / ok["audio_path"].iloc[0])) == round(8 / 12 * 16000)

    metrics = train(
        make_cfg([*data, "model=avff_tiny", "data.batch_size=4", "+trainer.fast_dev_run=true"], tiny=False)
    )
    assert {"val/auc", "test/auc"} <= set(metrics) and np.isfinite(metrics["test/loss"])


@pytest.mark.slow
def test_mini_fakeavceleb_clips_start_after_the_leading_silence(tmp_path: Path) -> None:
    """FakeAVCeleb's fake audio starts with 0.3 s of silence; trimmed clips start after it, in sync."""
    from dfd.data.synthetic.mini import make_fakeavceleb
    from dfd.preprocess import preprocess

    raw = make_fakeavceleb(tmp_path / "raw", n_ids=2)
    paths = [f"paths.{k}={tmp_path}" for k in ("root_dir", "data_dir", "log_dir", "output_dir", "work_dir")]
    cfg = compose_config(
        "preprocess",
        [
            "data=fakeavceleb_av",
            f"data.raw_dir={raw}",
            f"data.root={tmp_path / 'clips'}",
            "data.clip_len=8",
            "data.clips_per_video=2",
            *paths,
            "data_name=fakeavceleb_av",
            "preprocess.num_workers=0",
            "preprocess.cropper.size=32",
            "preprocess.trim_leading_silence=true",
        ],
    )
    assert preprocess(cfg) == 8  # 2 identities × categories A-D
    rows, _ = read_manifest(tmp_path / "clips")
    first = rows[rows["status"] == "ok"].groupby("method")["frame_idx"].min()
    # 0.3 s at 12 fps = 3.6 frames: fake-audio videos (rtvc, wav2lip) start at frame 4 or later
    assert (first[["rtvc", "faceswap-wav2lip"]] >= 4).all(), first
    assert (first.drop(["rtvc", "faceswap-wav2lip"]) == 0).all(), first


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


def test_avff_weighted_loss_gets_the_training_class_counts() -> None:
    from types import SimpleNamespace

    from dfd.losses import WeightedBCELoss

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
