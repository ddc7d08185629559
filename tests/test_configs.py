"""Every file of every config group composes, and the objects it describes instantiate."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from lightning.pytorch import Callback, LightningDataModule, LightningModule, Trainer
from lightning.pytorch.loggers import Logger
from omegaconf import OmegaConf, open_dict

from dfd.config.instantiate import instantiate, instantiate_callbacks, instantiate_loggers, register_resolvers
from tests.conftest import CONF, compose_config

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
    import torch

    cfg = make_cfg([f"model={name}"])
    no_download(cfg)
    # the config is under test, not the weights: parameters on the meta device skip their random
    # initialisation (Swin-B's alone took 4.6 s)
    with torch.device("meta"):
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


#: A foundation experiment's ViT-L/14 takes 75 s to split by SVD on this machine: its composition is
#: checked on a tiny ViT of the same family (the L/14 counts are pinned in tests/models/nets/test_foundation.py).
TINY_VIT = "vit_tiny_patch16_224"


@pytest.mark.parametrize(
    "name",
    # aliases compose to their targets (test_old_experiment_names_compose_to_the_new_ones): built once
    [
        n
        for n in options("experiment")
        if "lias of experiment=" not in (CONF / "experiment" / f"{n}.yaml").read_text()
    ],
)
def test_experiment_configs_compose(make_cfg, name: str) -> None:
    cfg = make_cfg([f"experiment={name}"], tiny=False)
    no_download(cfg)
    if "backbone" in cfg.model:
        with open_dict(cfg):
            cfg.model.backbone = TINY_VIT
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


# -- model selection sees validation metrics only: checkpoint monitor, early stopping, the metric
# returned to sweepers and the calibration stage, in the defaults, every experiment and search
EXPERIMENTS = sorted(p.stem for p in (CONF / "experiment").glob("*.yaml"))
SEARCHES = sorted(p.stem for p in (CONF / "hparams_search").glob("*.yaml"))
CHOICES = [[]] + [[f"experiment={e}"] for e in EXPERIMENTS] + [[f"hparams_search={s}"] for s in SEARCHES]


def _eval_outputs(seed: int) -> dict:
    """Overlapping logits of 4-frame videos, a different draw (and size) for each seed."""
    import torch

    g = torch.Generator().manual_seed(seed)
    n = 64 + 16 * seed
    labels = (torch.arange(n) // 4) % 2
    logits = torch.randn(n, 1, generator=g) + labels[:, None].float()
    return {"logits": logits, "labels": labels, "video_idx": torch.arange(n) // 4}


def _calibrate_like(callback, outputs: dict):
    from dfd.metrics.calibration import calibrate

    return calibrate(
        outputs["logits"], outputs["labels"], outputs["video_idx"],
        precision_target=callback.precision_target, temperature=callback.temperature,
        video_aggregation=callback.video_aggregation, confident=callback.confident,
    )  # fmt: skip


@pytest.mark.parametrize("overrides", CHOICES, ids=lambda o: o[0] if o else "defaults")
def test_selection_uses_validation_metrics_only(overrides):
    cfg = compose_config("train", ["paths.output_dir=/tmp/unused", *overrides])
    assert str(cfg.optimized_metric).startswith("val/"), cfg.optimized_metric
    callbacks = cfg.callbacks
    assert callbacks.model_checkpoint.monitor.startswith("val/")
    if callbacks.get("early_stopping"):
        assert callbacks.early_stopping.monitor.startswith("val/")
    # the thresholds and temperature are fitted on validation outputs, not on test's, which the
    # module also holds (after trainer.test) and which here would fit different thresholds
    calibration = instantiate(callbacks.threshold_calibration)
    val, test = _eval_outputs(0), _eval_outputs(1)
    module = SimpleNamespace(eval_outputs={"test": test, "val": val})
    trainer = SimpleNamespace(sanity_checking=False, current_epoch=0, global_step=1, loggers=[])
    calibration.on_validation_end(trainer, module)
    fitted = calibration.calibration
    assert fitted.val["n"] == val["labels"].numel() != test["labels"].numel()
    assert fitted.thresholds == pytest.approx(_calibrate_like(calibration, val).thresholds)
    assert fitted.thresholds != pytest.approx(_calibrate_like(calibration, test).thresholds)
    assert fitted.temperature == pytest.approx(_calibrate_like(calibration, val).temperature)
    # the report's calibrated column uses thresholds fitted on validation, never re-fitted on test
    assert callbacks.evaluation_report._target_.endswith("EvaluationReport")


def test_eval_guard_is_off_by_default_and_documented():
    cfg = compose_config("eval", ["ckpt_path=x.ckpt", "paths.output_dir=/tmp/unused"])
    assert cfg.guard.enabled is False and list(cfg.guard.data) == []
    readme = (CONF.parent / "README.md").read_text()
    assert "### Model-selection protocol" in readme and "guard.enabled=true" in readme


def test_readme_names_the_manifest_check_keys_the_data_configs_have():
    """The README's keys for the manifest checks exist, with the values it lists."""
    readme = (CONF.parent / "README.md").read_text()
    crops = OmegaConf.load(CONF / "data" / "base" / "crops.yaml")
    for key, shown in (("leak_check", "refuse|warn|off"), ("label", "video|audio|any"),
                       ("allow_incomplete", "true"), ("test_fraction", "<share>")):  # fmt: skip
        assert key in crops, key
        assert f"`data.{key}={shown}`" in readme, key


# -- one dialect ---------------------------------------------------------------------------------
def _leaves(node, prefix=""):
    if isinstance(node, dict) and node:
        for k, v in node.items():
            yield from _leaves(v, f"{prefix}{k}.")
    else:
        yield prefix.rstrip("."), node


def _experiment_yaml(name: str) -> dict:
    return OmegaConf.to_container(OmegaConf.load(CONF / "experiment" / f"{name}.yaml"))


ALIASES = {p.stem for p in (CONF / "experiment").glob("*.yaml") if "lias of experiment=" in p.read_text()}
#: Experiments that reproduce a paper and pin every value they cite, defaults included, so that a
#: change of a shared default never moves them; each value must name its source instead.
PINNED = {
    p.stem for p in (CONF / "experiment").glob("*.yaml") if "Pins the paper's settings" in p.read_text()
}


@pytest.mark.parametrize("name", sorted(set(EXPERIMENTS) - ALIASES))
def test_experiments_state_only_what_differs(name: str) -> None:
    """Every value an experiment sets differs from what its baseline composes to: the defaults, or
    the experiment it extends, with its own group choices."""
    spec = _experiment_yaml(name)
    defaults = spec.pop("defaults", [])
    overrides, parent = [], None
    for entry in defaults:
        if isinstance(entry, dict):
            ((key, value),) = entry.items()
            overrides.append(f"{key.removeprefix('override ').strip('/')}={value}")
        elif entry != "_self_":
            parent = entry
    base = compose_config("train", ([f"experiment={parent}"] if parent else []) + overrides)
    got = compose_config("train", [f"experiment={name}"])
    same = []
    for key, value in _leaves(spec):
        if key in ("tags", "task_name") or isinstance(value, str) and "${" in value:
            continue
        assert OmegaConf.select(got, key) == value or value is None, (key, value)
        if OmegaConf.select(base, key, default="<absent>") == value:
            same.append(key)
    assert not same or name in PINNED, f"{name} restates defaults: {same}"


@pytest.mark.parametrize("name", sorted(PINNED))
def test_a_pinned_experiment_names_the_source_of_every_value(name: str) -> None:
    """Each value line of a paper experiment has ``[paper`` or ``[repo`` in its comment block or line."""
    lines = (CONF / "experiment" / f"{name}.yaml").read_text().splitlines()
    body = lines[next(i for i, line in enumerate(lines) if line.startswith("defaults:")) :]
    unsourced, comments = [], []
    for line in body:
        text = line.strip()
        if text.startswith("#"):
            comments.append(text)
            continue
        key, _, value = text.partition(":")
        is_leaf = value.strip() and not text.startswith("-") and not line.startswith(("defaults", "tags"))
        if is_leaf and not any(tag in " ".join([*comments, value]) for tag in ("[paper", "[repo")):
            unsourced.append(key)
        comments = [] if text else comments
    assert len(body) > 20 and not unsourced, unsourced


@pytest.mark.parametrize("alias", sorted(ALIASES))
def test_old_experiment_names_compose_to_the_new_ones(alias: str) -> None:
    (target,) = [d for d in _experiment_yaml(alias)["defaults"] if d != "_self_"]
    assert compose_config("train", [f"experiment={alias}"]) == compose_config(
        "train", [f"experiment={target}"]
    )


def test_experiment_names_are_model_then_data() -> None:
    models = {p.stem for p in (CONF / "model").glob("*.yaml")}
    datas = {p.stem for p in (CONF / "data").glob("*.yaml")}
    for name in set(EXPERIMENTS) - ALIASES:
        model = next((m for m in sorted(models, key=len, reverse=True) if name.startswith(m + "_")), None)
        assert model, f"{name} does not start with a model name"
        rest = name[len(model) + 1 :]
        assert any(rest == d or rest.startswith(d + "_") for d in datas), (
            f"{name}: {rest} does not start with a data name"
        )


def test_callback_file_names_equal_their_keys() -> None:
    for path in (CONF / "callbacks").glob("*.yaml"):
        keys = [k for k in OmegaConf.to_container(OmegaConf.load(path)) if k != "defaults"]
        assert keys in ([path.stem], []), (path.name, keys)


@pytest.mark.parametrize("name", options("model"))
def test_every_model_reads_num_classes_from_the_loss(name: str) -> None:
    for loss, n in (("bce", 1), ("ce", 2)):
        assert compose_config("train", [f"model={name}", f"loss={loss}"]).model.net.num_classes == n


def test_one_target_style_the_defining_module() -> None:
    import importlib
    import re

    for path in CONF.rglob("*.yaml"):
        for target in re.findall(r"_target_:\s*(dfd\.[\w.]+)", path.read_text()):
            module, _, name = target.rpartition(".")
            assert getattr(importlib.import_module(module), name).__module__ == module, (path.name, target)


def test_the_paired_source_sampler_config_pairs_what_the_datamodule_hands_it(make_cfg) -> None:
    import numpy as np

    from dfd.data.datamodule import sampler_takes_batch_size, sampler_takes_source_idx

    cfg = make_cfg(["sampler=paired_source", "sampler.crops_per_video=2"])
    factory = instantiate(cfg.sampler)
    assert sampler_takes_batch_size(factory) and sampler_takes_source_idx(factory)
    video_idx = np.repeat(np.arange(4), 3)  # reals 0, 1; fake 2 made from 0, fake 3 from 1
    labels = (video_idx >= 2).astype(int)
    sampler = factory(labels=labels, video_idx=video_idx, source_idx=np.where(labels == 1, video_idx - 2, -1),
                      batch_size=cfg.data.batch_size, dataset="mini")  # fmt: skip
    assert not sampler.fallback and sampler.seed == cfg.seed and sampler.crops_per_video == 2
    assert sampler.pairs.tolist() == [[0, 2], [1, 3]]
