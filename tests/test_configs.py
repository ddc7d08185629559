"""Every file of every config group composes, and the objects it describes instantiate."""

from __future__ import annotations

from pathlib import Path

import pytest
from lightning.pytorch import Callback, LightningDataModule, LightningModule, Trainer
from lightning.pytorch.loggers import Logger
from omegaconf import OmegaConf, open_dict

from dfd.utils.instantiate import instantiate, instantiate_callbacks, instantiate_loggers, register_resolvers

from .conftest import CONF, compose_config

register_resolvers()


def options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF / group).glob("*.yaml"))


def no_download(cfg) -> None:
    """Tests never reach a model hub: switch pretrained weights off wherever a config asks."""
    with open_dict(cfg):
        for node in (cfg.model.get("net"), *(cfg.model.get(k) for k in ("visual", "audio"))):
            if node is not None and "pretrained" in node:
                node.pretrained = False


@pytest.mark.parametrize("name", options("model"))
def test_model_configs_instantiate(make_cfg, name: str) -> None:
    cfg = make_cfg([f"model={name}"])
    no_download(cfg)
    model = instantiate(cfg.model, loss=instantiate(cfg.loss))
    assert isinstance(model, LightningModule)
    # nets that read no face crops (model=audio_only) declare no input spec
    reads_faces = bool({"image", "video"} & set(getattr(model, "inputs", ("image",))))
    assert model.net.input_spec.size > 0 if reads_faces else model.net.input_spec is None


@pytest.mark.parametrize("name", options("data"))
def test_data_configs_instantiate(make_cfg, raw_image_trees, name: str) -> None:
    cfg = make_cfg([f"data={name}", *raw_image_trees.get(name, [])], tiny=name == "synthetic")
    dm = instantiate(cfg.data)
    assert isinstance(dm, LightningDataModule)


@pytest.mark.parametrize("name", options("loss"))
def test_loss_configs_instantiate(make_cfg, name: str) -> None:
    cfg = make_cfg([f"loss={name}"])
    assert callable(instantiate(cfg.loss))


@pytest.mark.parametrize("name", options("trainer"))
def test_trainer_configs_compose(make_cfg, name: str) -> None:
    # the preset's own values (make_cfg forces trainer.accelerator=cpu on top of them)
    preset = compose_config("train", [f"trainer={name}"]).trainer
    assert preset.accelerator == {"gpu": "gpu", "ddp": "gpu", "cpu": "cpu", "ddp_cpu": "cpu"}.get(
        name, "auto"
    )
    if name.startswith("ddp"):
        assert preset.strategy == "ddp" and preset.sync_batchnorm is (name == "ddp")  # SyncBN is GPU-only
    # gpu/ddp presets need hardware this machine lacks: check their keys, build the rest
    if preset.accelerator == "gpu":
        assert preset.precision in ("16-mixed", "bf16-mixed")
        return
    cfg = make_cfg([f"trainer={name}"])
    with open_dict(cfg):
        cfg.trainer.devices = 1
        cfg.trainer.pop("strategy", None)
    assert isinstance(instantiate(cfg.trainer), Trainer)


@pytest.mark.parametrize("name", options("callbacks"))
def test_callback_configs_instantiate(make_cfg, name: str) -> None:
    cfg = make_cfg([f"callbacks={name}"], quiet=False)
    built = instantiate_callbacks(cfg.callbacks)
    assert built and all(isinstance(c, Callback) for c in built)


@pytest.mark.parametrize("name", options("logger"))
def test_logger_configs_instantiate(make_cfg, name: str) -> None:
    cfg = make_cfg([f"logger={name}"])
    built = instantiate_loggers(cfg.logger)
    assert built and all(isinstance(lg, Logger) for lg in built)


@pytest.mark.parametrize("name", options("debug"))
def test_debug_configs_compose(make_cfg, name: str) -> None:
    # every debug preset runs on CPU, even over a GPU trainer preset
    assert compose_config("train", ["trainer=gpu", f"debug={name}"]).trainer.accelerator == "cpu"
    cfg = make_cfg([f"debug={name}"])
    assert isinstance(instantiate(cfg.trainer), Trainer)


@pytest.mark.parametrize("name", options("experiment"))
def test_experiment_configs_compose(make_cfg, name: str) -> None:
    cfg = make_cfg([f"experiment={name}"], tiny=False)
    no_download(cfg)
    assert isinstance(instantiate(cfg.model, loss=instantiate(cfg.loss)), LightningModule)
    assert isinstance(instantiate(cfg.data), LightningDataModule)


def test_paths_and_hydra_resolve(make_cfg, tmp_path: Path) -> None:
    cfg = make_cfg()
    assert Path(cfg.paths.output_dir) == tmp_path
    # run dirs live under outputs/<task>/runs/ unless resuming
    assert "${paths.log_dir}/${task_name}/runs/" in OmegaConf.to_yaml(
        OmegaConf.load(CONF / "hydra" / "default.yaml")
    ).replace("'", "")


def test_monitor_and_optimized_metric_agree(make_cfg) -> None:
    cfg = make_cfg()
    monitor = cfg.callbacks.model_checkpoint.monitor
    assert monitor == "val/auc" and cfg.callbacks.model_checkpoint.mode == "max"
    assert cfg.optimized_metric == f"{monitor}_best"
    assert cfg.callbacks.early_stopping.monitor == monitor


@pytest.mark.parametrize(
    "name", ["train", "eval", "compare", "robustness", "cross_eval", "linear_probe", "preprocess", "stats"]
)
def test_only_train_continues_a_run_directory_from_ckpt_path(name: str) -> None:
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(CONF)):
            cfg = compose(config_name=name, return_hydra_config=True)
    finally:
        GlobalHydra.instance().clear()
    run_dir = OmegaConf.to_container(cfg.hydra.run, resolve=False)["dir"]
    subdir = OmegaConf.to_container(cfg.hydra, resolve=False)["output_subdir"]
    resumes = name == "train"
    assert ("dfd_run_dir:${ckpt_path}" in run_dir) is resumes, run_dir
    assert (subdir == ".hydra") is not resumes, subdir


@pytest.mark.parametrize("name", options("model"))
def test_every_model_takes_the_optimizer_and_scheduler_groups(name: str) -> None:
    import torch

    cfg = compose_config("train", [f"model={name}", "model/optimizer=sgd", "model/scheduler=cosine_warmup"])
    opt = instantiate(cfg.model.optimizer)(params=[torch.nn.Parameter(torch.zeros(1))])
    assert isinstance(opt, torch.optim.SGD) and opt.param_groups[0]["lr"] == cfg.model.optimizer.lr
    sched = instantiate(cfg.model.scheduler)(optimizer=opt)
    assert isinstance(sched, torch.optim.lr_scheduler.SequentialLR)  # warm-up, then cosine
