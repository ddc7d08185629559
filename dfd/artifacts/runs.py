"""Loading training runs, their checkpoints and exported models: the one place every command reads a
model from.

A run directory is what ``dfd.train`` writes: ``<run>/config.yaml`` (the resolved config it
used) and ``<run>/checkpoints/*.ckpt``. :func:`load_model` rebuilds the LightningModule from
that config and loads a checkpoint's weights into it, without downloading pretrained weights
(the checkpoint holds every weight).

A run folder may come from anyone (a cluster share, a tarball, a model hub), so its
``config.yaml`` is read as data, never executed: the module is one of dfd's own
(:data:`RUN_MODULES`), its net one of dfd's registered nets (:data:`RUN_NETS`, or a class the
user trusts through ``DFD_TRUSTED_TARGETS``), the loss one of dfd's losses chosen by name
(:data:`RUN_LOSSES`), and every argument a plain value (numbers, strings, lists and mappings
of them). The run's optimizer, scheduler, callbacks and any other ``_target_`` are never built.
"""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

from dfd.config.instantiate import NET_SHORTHANDS, TRUSTED_TARGETS, trusted_targets
from dfd.core.digest import file_sha256
from dfd.core.errors import DfdError
from dfd.core.moved import current_target
from dfd.core.safe_load import load_torch_file
from dfd.ensembles.detector import (
    DEFAULT_AGREEMENT_THRESHOLD,
    EnsembleDetector,
    is_ensemble_folder,
    load_ensemble,
)
from dfd.ensembles.fusion import fusion_from_state
from dfd.inference.detector import Detector, ModelInfo, TorchDetector, resolve_device
from dfd.inference.export import check_calibration, load_exported, parse_digest, read_json
from dfd.metrics.calibration import Calibration, load_calibration
from dfd.models.nets import NETS

#: What a ``dfd.ensemble`` run writes: its members, fitted rule and calibration.
ENSEMBLE_RUN_FILE = "ensemble.json"

#: The LightningModules a run's ``model._target_`` may name when dfd loads the run.
RUN_MODULES = (
    "dfd.models.detector_module.DetectorModule",
    "dfd.models.avff_module.AVDetectorModule",
    "dfd.models.avff_module.AVFFModule",
)
#: dfd's registered nets (:data:`dfd.models.nets.NETS`): the ``model.net._target_`` a run may name,
#: besides classes the user trusts with ``DFD_TRUSTED_TARGETS``.
RUN_NETS = NETS
#: dfd's losses, chosen by the name in a run's ``loss._target_`` (for the evaluation loss only).
RUN_LOSSES = (
    "dfd.models.losses.BCELoss",
    "dfd.models.losses.CrossEntropyLoss",
    "dfd.models.losses.FocalLoss",
    "dfd.models.losses.WeightedBCELoss",
)
#: The DataModules a run's ``data._target_`` may name when an evaluation reuses the run's data,
#: and the only nested targets its data config may hold (the raw layouts' parsers).
RUN_DATAMODULES = (
    "dfd.data.datamodule.FaceCropDataModule",
    "dfd.data.image_datamodule.ImageListDataModule",
    "dfd.data.av_datamodule.AVClipDataModule",
    "dfd.data.synthetic.crops.SyntheticDataModule",
    "dfd.data.synthetic.av.SyntheticAVDataModule",
)
RUN_DATA_LAYOUTS = tuple(t for t in TRUSTED_TARGETS if t.startswith("dfd.raw.layouts."))
#: Config keys of a module that build objects, which loading a run never reads.
BUILT_KEYS = ("_target_", "net", "loss", "optimizer", "scheduler")


class UnsafeRun(DfdError, ValueError):
    """A run's ``config.yaml`` that asks for more than dfd's own classes with plain values."""


def user_trusted(target: str) -> bool:
    """Whether ``DFD_TRUSTED_TARGETS`` (the user's own additions) names ``target``."""
    for pattern in trusted_targets()[len(TRUSTED_TARGETS) :]:
        if target == pattern or (pattern.endswith(".*") and target.startswith(pattern[:-1])):
            return True
    return False


def check_plain(value: Any, key: str, source: Path | str) -> Any:
    """``value`` if it holds only plain data (None, bools, numbers, strings, and lists and string-keyed
    mappings of them, with no Hydra ``_target_``/``_args_``/``_partial_`` keys); :class:`UnsafeRun` else."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list | tuple):
        return [check_plain(v, f"{key}[{i}]", source) for i, v in enumerate(value)]
    if isinstance(value, dict):
        for k in value:
            if not isinstance(k, str) or (k.startswith("_") and k.endswith("_")):
                raise UnsafeRun(
                    f"{source}: {key}.{k} asks Hydra to build an object; loading a run reads plain values only "
                    "(dfd never instantiates what a run folder names): remove it from the run's config.yaml"
                )
        return {k: check_plain(v, f"{key}.{k}", source) for k, v in value.items()}
    raise UnsafeRun(f"{source}: {key} is a {type(value).__name__}, not a plain value")


def locate(target: Any, allowed: tuple[str, ...], key: str, source: Path | str) -> Any:
    """The class named ``target`` (at its current path, :mod:`dfd.core.moved`) if ``allowed`` or
    ``DFD_TRUSTED_TARGETS`` lists it; :class:`UnsafeRun` else."""
    target = current_target(target)
    if not isinstance(target, str) or not (target in allowed or user_trusted(target)):
        raise UnsafeRun(
            f"{source}: {key}={target!r} is not one of dfd's own ({', '.join(allowed)}), and a run folder may "
            "name nothing else (a class of your own that you trust loads with DFD_TRUSTED_TARGETS=<module.Class>)"
        )
    module, _, name = target.rpartition(".")
    return getattr(importlib.import_module(module), name)


def plain_kwargs(
    node: DictConfig, key: str, source: Path | str, skip: tuple[str, ...] = ("_target_",)
) -> dict:
    """The entries of a config node but ``skip`` as constructor arguments of plain values (a Hydra key
    such as ``_args_`` or ``_partial_`` is refused like a nested ``_target_``)."""
    values = {
        str(k): OmegaConf.to_container(v, resolve=True) if isinstance(v, DictConfig | ListConfig) else v
        for k, v in ((k, node[k]) for k in (node or {}) if k not in skip)
    }
    return check_plain(values, key, source)


def build_module(run_cfg: DictConfig, source: Path | str, allow_pickle: bool = False) -> Any:
    """The run's LightningModule with fresh weights, built from plain values of ``run_cfg`` only.

    The module is one of :data:`RUN_MODULES`; the net one of :data:`RUN_NETS` with
    ``pretrained=False`` (every weight comes from the checkpoint) and no weights files; the loss
    one of :data:`RUN_LOSSES` by name (else the default loss for the net's outputs). The run's
    optimizer and scheduler are never read; ``allow_pickle`` is the command's, never the run's.
    """
    model_cfg = run_cfg.get("model")
    if not isinstance(model_cfg, DictConfig):
        raise UnsafeRun(f"{source}: model is {model_cfg!r}, not a model config")
    module_cls = locate(model_cfg.get("_target_"), RUN_MODULES, "model._target_", source)
    net_node = model_cfg.get("net")
    if not isinstance(net_node, DictConfig):
        raise UnsafeRun(f"{source}: model.net is {net_node!r}, not a net config with a _target_")
    net_cls = locate(net_node.get("_target_"), RUN_NETS, "model.net._target_", source)
    net_cfg = plain_kwargs(net_node, "model.net", source)
    if "pretrained" in net_cfg:
        net_cfg["pretrained"] = False  # every weight comes from the checkpoint
    for key in ("video_weights", "audio_weights"):
        if key in net_cfg:
            net_cfg[key] = None  # likewise: no weights files are read
    if "allow_pickle" in net_cfg:
        net_cfg["allow_pickle"] = allow_pickle
    # model.backbone, model.tuning, …: the net's arguments, spelled at model level (model=foundation)
    shorthands = tuple(k for k in NET_SHORTHANDS if k not in inspect.signature(module_cls).parameters)
    kwargs = plain_kwargs(model_cfg, "model", source, skip=BUILT_KEYS + shorthands)
    for key in ("weights_path", "pretrained_ckpt"):
        if kwargs.get(key):
            kwargs[key] = None  # the run's initial weights are not needed either
    if "allow_pickle" in kwargs:
        kwargs["allow_pickle"] = allow_pickle
    net = net_cls(**net_cfg)
    return module_cls(net=net, optimizer=None, loss=run_loss(run_cfg, source), scheduler=None, **kwargs)


def run_loss(run_cfg: DictConfig, source: Path | str) -> Any:
    """The run's loss for evaluation: one of :data:`RUN_LOSSES` named by ``loss._target_`` with its plain
    arguments, or, for any other name, the default loss for ``model.net.num_classes`` outputs (never
    what the name says)."""
    from dfd.models.losses import BCELoss, CrossEntropyLoss

    loss_cfg = run_cfg.get("loss")
    target = current_target(loss_cfg.get("_target_")) if isinstance(loss_cfg, DictConfig) else None
    if isinstance(target, str) and (target in RUN_LOSSES or user_trusted(target)):
        kwargs = plain_kwargs(loss_cfg, "loss", source)
        return locate(target, RUN_LOSSES, "loss._target_", source)(**kwargs)
    num_classes = OmegaConf.select(run_cfg, "model.net.num_classes", default=1)
    return CrossEntropyLoss() if num_classes == 2 else BCELoss()


def check_run_data(data_cfg: DictConfig | dict, source: Path | str) -> None:
    """Refuse a run's data config (reused by an evaluation) that names more than a dfd DataModule
    (:data:`RUN_DATAMODULES`) with plain values and raw-layout parsers (:data:`RUN_DATA_LAYOUTS`)."""
    data = OmegaConf.to_container(data_cfg, resolve=True) if isinstance(data_cfg, DictConfig) else data_cfg
    if not isinstance(data, dict):
        raise UnsafeRun(f"{source}: data is {data!r}, not a data config")
    locate(data.get("_target_"), RUN_DATAMODULES, "data._target_", source)

    def walk(value: Any, key: str) -> None:
        if isinstance(value, dict):
            target = current_target(value.get("_target_"))
            if target is not None and target not in RUN_DATA_LAYOUTS and not user_trusted(str(target)):
                raise UnsafeRun(
                    f"{source}: {key}._target_={target!r} is not a raw layout parser of dfd, and a run's data "
                    "config may name nothing else; pass data=<name> to evaluate on data of your own config"
                )
            for k, v in value.items():
                if k not in ("_target_", "_partial_"):
                    walk(v, f"{key}.{k}")
                elif k == "_partial_" and not isinstance(v, bool):
                    raise UnsafeRun(f"{source}: {key}._partial_ is {v!r}, not true or false")
        elif isinstance(value, list):
            for i, v in enumerate(value):
                walk(v, f"{key}[{i}]")
        elif not (value is None or isinstance(value, bool | int | float | str)):
            raise UnsafeRun(f"{source}: {key} is a {type(value).__name__}, not a plain value")

    walk({k: v for k, v in data.items() if k != "_target_"}, "data")


def resolve_checkpoint(path: str | Path, key: str = "ckpt_path") -> Path:
    """``path`` made absolute; ``FileNotFoundError`` naming the config ``key`` when it does not exist."""
    ckpt_path = Path(str(path)).expanduser().resolve()
    if not ckpt_path.is_file():
        raise FileNotFoundError(
            f"{key}={path}: no such checkpoint ({ckpt_path}); give a .ckpt file of a dfd.train run, "
            "e.g. outputs/train/runs/<run>/checkpoints/best.ckpt"
        )
    return ckpt_path


def auto_resume_checkpoint(run_dir: str | Path) -> Path | None:
    """``ckpt_path=auto``: the newest of ``<run>/checkpoints/last.ckpt`` and the ``hpc_ckpt_*.ckpt``
    Lightning's SLURM plugin writes before a requeue, or ``None`` (a fresh start)."""
    run_dir = Path(run_dir)
    candidates = [
        p for p in [run_dir / "checkpoints" / "last.ckpt", *run_dir.glob("hpc_ckpt_*.ckpt")] if p.is_file()
    ]
    return max(candidates, key=lambda p: p.stat().st_mtime) if candidates else None


def run_dir_of(ckpt_path: str | Path) -> Path:
    """The run directory of a checkpoint: ``<run>`` for ``<run>/checkpoints/x.ckpt``."""
    ckpt_path = Path(ckpt_path)
    return ckpt_path.parent.parent if ckpt_path.parent.name == "checkpoints" else ckpt_path.parent


def run_config_for(ckpt_path: str | Path) -> DictConfig:
    """The resolved training config saved in the run that produced ``ckpt_path``."""
    ckpt_path = Path(ckpt_path)
    for candidate in (ckpt_path.parent.parent / "config.yaml", ckpt_path.parent / "config.yaml"):
        if candidate.is_file():
            return OmegaConf.load(candidate)  # type: ignore[return-value]
    raise FileNotFoundError(
        f"no config.yaml found for {ckpt_path} (looked in {ckpt_path.parent.parent} and {ckpt_path.parent}); "
        "a checkpoint is read together with the run directory that dfd.train wrote"
    )


def load_checkpoint(ckpt_path: str | Path, allow_pickle: bool = False) -> dict[str, Any]:
    """The checkpoint dict on CPU, read as plain data (``weights_only=True``): nothing in it runs.
    A checkpoint that needs pickle is refused unless the command's ``allow_pickle=true``."""
    return load_torch_file(ckpt_path, allow_pickle)


def load_model(ckpt_path: str | Path, run_cfg: DictConfig | None = None, allow_pickle: bool = False) -> Any:
    """Rebuild the LightningModule of a dfd run and load the checkpoint's weights (as plain data),
    and its preprocessing fingerprint. Nothing the run's config names runs (:func:`build_module`);
    ``allow_pickle`` opens a checkpoint that needs pickle, nothing else."""
    ckpt_path = Path(ckpt_path)
    checkpoint = load_checkpoint(
        ckpt_path, allow_pickle
    )  # first: an unsafe file is refused before anything else
    run_cfg = run_cfg if run_cfg is not None else run_config_for(ckpt_path)
    model = build_module(run_cfg, run_dir_of(ckpt_path) / "config.yaml")  # plain values only: see RUN_NETS
    model.load_state_dict(checkpoint["state_dict"])
    model.on_load_checkpoint(checkpoint)  # the preprocessing fingerprint
    return model


def data_root(data_cfg: DictConfig) -> Path:
    """The dataset folder a data config reads (``data.root``)."""
    return Path(str(data_cfg.get("root", "data"))).expanduser().resolve()


def load_detector(
    path: str | Path,
    backend: str = "onnx",
    batch_size: int = 32,
    device: str = "cpu",
    allow_pickle: bool = False,
    digest: str | None = None,
) -> Detector:
    """A :class:`~dfd.inference.detector.Detector` for a dfd checkpoint (``<run>/checkpoints/x.ckpt``,
    scored with torch), an exported model or ensemble folder (``backend=onnx|torch``) or a
    ``dfd.ensemble`` run folder; ``device=auto`` picks the GPU when there is one. ``digest``
    (``sha256:<hex>``, as ``dfd.export`` prints it) pins an exported folder: one whose digest
    differs is refused."""
    device = resolve_device(device)
    if digest is not None:
        digest = parse_digest(digest)
    path = Path(str(path)).expanduser().resolve()
    if path.is_dir():
        if is_ensemble_folder(path):
            return load_ensemble(path, backend, batch_size, device, digest=digest)
        if not is_ensemble_run(path):
            return load_exported(path, backend, batch_size, device, digest=digest)
    if digest is not None:
        raise ValueError(
            f"digest={digest} pins an exported folder (dfd.export prints its digest), and {path} is a "
            "training checkpoint or run: export it with dfd.export, or drop digest"
        )
    if path.is_dir():
        return load_ensemble_run(path, batch_size, device, allow_pickle)
    ckpt = resolve_checkpoint(path)
    model = load_model(ckpt, allow_pickle=allow_pickle)
    if (
        tuple(getattr(model, "inputs", ("image",))) != ("image",)
        or getattr(model.net, "input_spec", None) is None
    ):
        raise ValueError(
            f"{ckpt} is an audio-visual model (it reads {list(getattr(model, 'inputs', []))}): dfd.predict, "
            "dfd.export and dfd.serve score face crops with frame detectors"
        )
    info = ModelInfo(
        input_spec=model.net.input_spec,
        calibration=load_calibration(ckpt, allow_pickle),
        preprocessing=model.preprocessing,
        name=f"{run_dir_of(ckpt).name}/{ckpt.name}",
        clip_len=getattr(model.net, "clip_len", None),  # a temporal net scores clips of crops
    )
    return TorchDetector(model.net, info, batch_size, device)


def load_ensemble_run(
    run_dir: str | Path, batch_size: int = 32, device: str = "cpu", allow_pickle: bool = False
) -> EnsembleDetector:
    """The :class:`EnsembleDetector` a ``dfd.ensemble`` run describes (its members read from where they were)."""
    run_dir = Path(run_dir)
    record = read_json(run_dir / ENSEMBLE_RUN_FILE)
    check_calibration(run_dir / ENSEMBLE_RUN_FILE, record.get("calibration"))
    members = []
    for m in record["members"]:
        path = Path(m["path"])
        digest = file_sha256(path / "dfd_model.json" if path.is_dir() else path)
        if digest != m["sha256"]:
            raise ValueError(
                f"member {m['name']} ({path}) changed since the ensemble was fitted: re-run dfd.ensemble"
            )
        members.append((m["name"], load_detector(path, "torch", batch_size, device, allow_pickle)))
    info = ModelInfo(
        input_spec=members[0][1].info.input_spec,
        calibration=Calibration.from_dict(record["calibration"]),
        preprocessing=record.get("preprocessing"),
        name=f"ensemble {run_dir.name}",
        extra={"record": record},
    )
    return EnsembleDetector(members, fusion_from_state(record["fusion"]), info, batch_size,
                            agreement_threshold=float(record.get("agreement_threshold", DEFAULT_AGREEMENT_THRESHOLD)))  # fmt: skip


def is_ensemble_run(path: str | Path) -> bool:
    """Whether ``path`` is the folder of a ``dfd.ensemble`` run."""
    return (Path(path) / ENSEMBLE_RUN_FILE).is_file()
