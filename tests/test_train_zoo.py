"""Every model config and every zoo experiment trains a step on synthetic data and saves a checkpoint
that opens as plain data, and every model receives, from every data config, tensors of the size
and normalisation it declares."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from lightning.pytorch import Callback
from omegaconf import open_dict

from dfd.config.instantiate import instantiate
from dfd.core.input_spec import InputSpec
from dfd.data.datamodule import FaceCropDataModule
from dfd.models.detector_module import count_parameters
from dfd.models.nets import net_class
from dfd.training.tasks import train
from tests.conf_files import group_config
from tests.conftest import CONF
from tests.models.nets.test_package import MODEL_NETS

#: Model configs of detectors (DetectorModule): every one trains here, the frame detectors on crops
#: and the temporal ones (a net with ``clip_len``, dfd.models.nets.temporal) on clips. The
#: audio-visual ones (AVFFModule, AVDetectorModule) are covered by tests/test_train_av.py and tests/models.
DETECTORS = sorted(
    m
    for m in MODEL_NETS
    if group_config("model", m)["_target_"] == "dfd.models.detector_module.DetectorModule"
)
CLIP_MODELS = [m for m in DETECTORS if "clip_len" in group_config("model", m)["net"]]
FRAME_MODELS = [m for m in DETECTORS if m not in CLIP_MODELS]
#: Each detector at its net's test size (``small_config``, px), so CPU runs stay short.
SMALL_SIZE = {m: net_class(MODEL_NETS[m]).small_config["input_size"] for m in DETECTORS}
#: Clip samples of 4 frames (the data side's clip keys, conf/data/base/crops.yaml).
CLIP_DATA = ["data.clips=true", "data.clip_len=4"]
#: The temporal models train once the data side gives clips (``data.clips``); until then they skip.
needs_clips = pytest.mark.skipif(
    "clips" not in group_config("data", "synthetic"), reason="no clip samples (data.clips) on this branch yet"
)
#: Over ~10 s each on the 2-core CI machine (98M and 48M parameters): run in the slow job,
#: and only once, through their experiment file, which builds the same model config.
HEAVY = {"f3net", "hybrid_vit_cnn"}
FRAME_DATA = sorted(p.stem for p in (CONF / "data").glob("*.yaml") if not p.stem.endswith("_av"))
#: The zoo experiments: each frame model's FF++ recipe, ``<model>_ffpp``.
EXPERIMENTS = {f"{m}_ffpp": m for m in FRAME_MODELS if (CONF / "experiment" / f"{m}_ffpp.yaml").is_file()}


def test_every_model_config_is_covered() -> None:
    # a model config not trained here is an audio-visual one
    assert {"ftcn", "tall", "temporal_head"} <= set(CLIP_MODELS)
    others = set(MODEL_NETS) - set(DETECTORS)
    assert others and all(
        group_config("model", m)["_target_"].startswith("dfd.models.avff_module.") for m in others
    )
    assert {"mesonet", "xception", "efficientnet_b4"} <= set(EXPERIMENTS.values())
    # every model gets a run: directly, or (the heavy ones) through its experiment
    assert HEAVY <= set(EXPERIMENTS.values())


class _Record(Callback):
    """Records the image batches the model is fed and the parameter counts it starts with."""

    def __init__(self) -> None:
        self.shapes: set[tuple[int, ...]] = set()
        self.params: dict[str, int] = {}

    def on_fit_start(self, trainer, pl_module) -> None:
        self.params = count_parameters(pl_module.net)

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self.shapes.add(tuple(batch["image"].shape[1:]))


def _one_step_run(make_cfg, tmp_path: Path, overrides: list[str], model: str) -> None:
    """One training step, one validation and one test batch, with the default callbacks: the model
    trains, and its checkpoint is plain data (``torch.load(weights_only=True)`` opens it). A
    temporal model's net is built at its test size (``small_config``) and fed clips of 4 frames."""
    size = SMALL_SIZE[model]
    clips = model in CLIP_MODELS
    cfg = make_cfg([*overrides, *(CLIP_DATA if clips else []), "data.batch_size=2", "trainer.max_epochs=1",
                    "+trainer.limit_train_batches=1", "+trainer.limit_val_batches=1",
                    "+trainer.limit_test_batches=1"])  # fmt: skip
    with open_dict(cfg):
        if clips:  # the configs' nets are the papers' (Swin-B, ResNet-50, CLIP ViT-B): too big here
            cfg.model.net.update(net_class(MODEL_NETS[model]).small_config)
        if "pretrained" in cfg.model.net:
            cfg.model.net.pretrained = False
        cfg.model.net.input_size = size
    record = _Record()
    metrics = train(cfg, extra_callbacks=[record])
    assert record.shapes == {(4, 3, size, size) if clips else (3, size, size)}
    assert all(torch.isfinite(torch.tensor(metrics[k])) for k in ("train/loss", "val/loss", "test/loss"))
    summary = json.loads((tmp_path / "metrics.json").read_text())
    assert summary["params"] == record.params and record.params["total"] > 0
    checkpoint = torch.load(tmp_path / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    assert checkpoint["preprocessing"]["detector"] == "none (generated crops)"
    assert checkpoint["hyper_parameters"]["freeze_backbone"] is False


#: One clip model trains in the fast tier (the clip path through DetectorModule, its checkpoint);
#: the others' runs (~10 s each on the 2-core CI machine) add only their nets, which
#: tests/models/nets/test_package.py checks already, so they run in the slow job.
CLIP_SLOW = {"ftcn", "tall"}


@pytest.mark.parametrize(
    "model",
    [
        pytest.param(m, marks=[needs_clips, *([pytest.mark.slow] if m in CLIP_SLOW else [])])
        if m in CLIP_MODELS
        else m
        for m in DETECTORS
        if m not in HEAVY
    ],
)
def test_one_step_of_every_model(make_cfg, tmp_path: Path, model: str) -> None:
    _one_step_run(make_cfg, tmp_path, [f"model={model}"], model)


@pytest.mark.parametrize(
    "experiment",
    # the hybrid's experiment is trained by test_hybrid_experiment_trains_as_seed_001
    [
        pytest.param(e, marks=pytest.mark.slow) if m in HEAVY else e
        for e, m in EXPERIMENTS.items()
        if m != "hybrid_vit_cnn"
    ],
)
def test_one_step_of_every_zoo_experiment(make_cfg, tmp_path: Path, experiment: str) -> None:
    # The experiments read FF++ crops; data=synthetic checks their model/optimizer/trainer parts.
    _one_step_run(make_cfg, tmp_path, [f"experiment={experiment}", "data=synthetic"], EXPERIMENTS[experiment])


@pytest.mark.slow
def test_hybrid_experiment_trains_as_seed_001(make_cfg, tmp_path: Path) -> None:
    """Two epochs of experiment=hybrid_vit_cnn_ffpp (on the synthetic crops): Adam at 1e-4 with no
    schedule, BCE, and a checkpoint kept for every epoch, named by epoch and val AUC."""
    cfg = make_cfg(["experiment=hybrid_vit_cnn_ffpp", "data=synthetic", "trainer.max_epochs=2", "data.batch_size=2",
                    "+trainer.limit_train_batches=1", "+trainer.limit_val_batches=1", "test=false"])  # fmt: skip
    with open_dict(cfg):
        # the seed's ViT-B makes four 390 MB checkpoints; ViT-Ti keeps the recipe and the test fast
        cfg.model.net.pretrained, cfg.model.net.input_size = False, 32
        cfg.model.net.vit_name = "vit_tiny_patch16_224"
    train(cfg)
    ckpts = sorted(p.name for p in (tmp_path / "checkpoints").glob("*.ckpt"))
    assert [c.split("-")[0] for c in ckpts if c.startswith("epoch_")] == ["epoch_000", "epoch_001"]
    assert "best.ckpt" in ckpts and "last.ckpt" in ckpts
    state = torch.load(tmp_path / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    (group,) = state["optimizer_states"][0]["param_groups"]
    assert group["lr"] == 1e-4 and "betas" in group  # Adam, still at its lr after two epochs
    assert state["lr_schedulers"] == []
    assert cfg.loss._target_ == "dfd.models.losses.BCELoss"


def test_hybrid_experiment_augments_with_crop_and_flip_only(make_cfg) -> None:
    cfg = make_cfg(["experiment=hybrid_vit_cnn_ffpp", "data=synthetic"])
    dm = instantiate(cfg.data, input_spec=InputSpec(size=32))
    dm.prepare_data()
    dm.setup()
    active = [type(t).__name__ for t in dm.datasets["train"].transform.transforms if t.p > 0]
    assert active == ["RandomResizedCrop", "HorizontalFlip", "Normalize"]


#: Every model with the default data, and every data config with one model whose normalisation
#: is not the default (Xception: mean = std = 0.5): data code never branches on a model's name
#: (tests/test_package.py keeps data below models), so the pairs in between add nothing.
CONTRACT = sorted({(m, "synthetic") for m in FRAME_MODELS} | {("xception", d) for d in FRAME_DATA})


@pytest.mark.parametrize(("model", "data"), CONTRACT)
def test_input_contract_every_model_and_every_data_config(
    make_cfg, raw_image_trees, data_dir: Path, model: str, data: str
) -> None:
    cfg = make_cfg(
        [f"model={model}", f"data={data}", *raw_image_trees.get(data, [])], tiny=data == "synthetic"
    )
    with open_dict(cfg):
        if "pretrained" in cfg.model.net:
            cfg.model.net.pretrained = False
    with torch.device("meta"):  # the spec is all we need: skip allocating the weights
        spec = instantiate(cfg.model.net).input_spec
    dm = instantiate(cfg.data)
    assert isinstance(dm, FaceCropDataModule)
    if not (Path(dm.root) / "manifest.csv").is_file():
        # Real datasets are not on the test machine: read the synthetic crops through this config.
        synthetic = make_cfg(["data=synthetic"])
        source = instantiate(synthetic.data)
        source.prepare_data()
        dm.root = source.root
    dm.set_input_spec(spec)
    dm.setup()
    train_batch = next(iter(dm.train_dataloader()))["image"]
    val_batch = next(iter(dm.val_dataloader()))["image"]
    for batch in (train_batch, val_batch):
        assert batch.shape[1:] == (3, spec.size, spec.size)
    # Normalised with the model's mean/std: undoing it gives pixels in [0, 1].
    mean, std = torch.tensor(spec.mean).view(1, 3, 1, 1), torch.tensor(spec.std).view(1, 3, 1, 1)
    pixels = val_batch * std + mean
    assert pixels.min() >= -1e-4 and pixels.max() <= 1 + 1e-4 and pixels.max() > 0.5


@needs_clips
@pytest.mark.parametrize("model", CLIP_MODELS)
def test_input_contract_of_every_clip_model(make_cfg, model: str) -> None:
    """A temporal model's clips: [T, 3, S, S] per sample, T = the data's clip_len, each frame
    normalised with the net's per-frame spec."""
    cfg = make_cfg([f"model={model}", *CLIP_DATA])
    with open_dict(cfg):
        cfg.model.net.pretrained = False
    with torch.device("meta"):
        net = instantiate(cfg.model.net)
    assert net.clip_len == 4
    dm = instantiate(cfg.data)
    dm.set_input_spec(net.input_spec)
    dm.setup()
    batch = next(iter(dm.val_dataloader()))["image"]
    assert batch.shape[1:] == (4, 3, net.input_spec.size, net.input_spec.size)
    mean, std = (
        torch.tensor(net.input_spec.mean).view(3, 1, 1),
        torch.tensor(net.input_spec.std).view(3, 1, 1),
    )
    pixels = batch * std + mean
    assert pixels.min() >= -1e-4 and pixels.max() <= 1 + 1e-4 and pixels.max() > 0.5
