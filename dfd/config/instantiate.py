"""Building objects from configs: Hydra's ``instantiate`` restricted to trusted targets, and dfd's resolvers.

With :mod:`dfd.config.entry` (the commands' wrapper), :mod:`dfd.artifacts.runs` (loading runs) and
:mod:`dfd.evaluation.scoring` (scoring a checkpoint), the only library code that knows Hydra.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import hydra
from hydra.errors import InstantiationException
from lightning.pytorch import Callback
from lightning.pytorch.loggers import Logger
from omegaconf import DictConfig, ListConfig, OmegaConf, open_dict, read_write

from dfd.core.errors import DfdError
from dfd.core.moved import current_target
from dfd.models.nets import NETS
from dfd.raw.layouts import LAYOUTS, MINI_TREES

log = logging.getLogger(__name__)


def instantiate_dict(cfg: DictConfig | None, kind: str) -> list[Any]:
    """Instantiate every ``_target_`` entry of a mapping (callbacks or loggers), skipping nulls."""
    built: list[Any] = []
    if not cfg:
        return built
    if not isinstance(cfg, DictConfig):
        raise TypeError(f"the {kind} config must be a mapping of name → object, got {type(cfg).__name__}")
    for name, sub in cfg.items():
        if isinstance(sub, DictConfig) and "_target_" in sub:
            log.info("Instantiating %s <%s>", kind, sub._target_)
            built.append(instantiate(sub))
        elif sub is not None:
            raise ValueError(f"{kind} entry '{name}' has no _target_: {OmegaConf.to_yaml(sub)}")
    return built


def instantiate_callbacks(cfg: DictConfig | None) -> list[Callback]:
    return instantiate_dict(cfg, "callback")


def instantiate_loggers(cfg: DictConfig | None, purge_step: int | None = None) -> list[Logger]:
    """The configured loggers; with ``purge_step`` (a resumed run's starting step), those that can
    drop what an interrupted run logged from that step on are told to."""
    if purge_step is None or not cfg:
        return instantiate_dict(cfg, "logger")
    from dfd.callbacks.loggers import PURGEABLE

    cfg = cfg.copy()
    with open_dict(cfg):
        for sub in cfg.values():
            if isinstance(sub, DictConfig) and sub.get("_target_") in PURGEABLE:
                sub.purge_step = purge_step
    return instantiate_dict(cfg, "logger")


#: Every callable a config may name as ``_target_``: each one by its full name (no ``pkg.*``
#: wildcards), every ``_target_`` under ``conf/`` and the Optuna samplers the sweeper's
#: ``hydra/sweeper/sampler`` group picks. Nothing here reads a file by pickle (``torch.load``,
#: ``numpy.load``, ``dfd.core.safe_load.*`` and the like stay off it): a config can make dfd unpickle a
#: weights file only through the documented ``allow_pickle=true`` opt-in, which loading a run folder
#: never takes from the folder. Add your own with the environment variable
#: ``DFD_TRUSTED_TARGETS=mypkg.*,otherpkg.Thing``.
TRUSTED_TARGETS = [
    "dfd.callbacks.calibration.ThresholdCalibration",
    "dfd.callbacks.checkpoint.ModelCheckpoint",
    "dfd.callbacks.dataset_stats.DatasetStats",
    "dfd.callbacks.localization.LocalizationReport",
    "dfd.callbacks.loggers.CSVLogger",
    "dfd.callbacks.report.EvaluationReport",
    "dfd.callbacks.resume.ResumeState",
    "dfd.callbacks.tracking.AugmentationPreview",
    "dfd.callbacks.tracking.ParameterHistograms",
    "dfd.callbacks.tracking.ValidationMistakes",
    "dfd.callbacks.training_plots.TrainingPlots",
    "dfd.data.av_datamodule.AVClipDataModule",
    "dfd.data.datamodule.FaceCropDataModule",
    "dfd.data.image_datamodule.ImageListDataModule",
    "dfd.data.samplers.BalancedVideoSampler",
    "dfd.data.samplers.OncePerEpochSampler",
    "dfd.data.samplers.PairedSourceSampler",
    "dfd.data.samplers.RandomSampler",
    "dfd.data.samplers.WeightedClassSampler",
    "dfd.data.synthetic.av.SyntheticAVDataModule",
    "dfd.data.synthetic.crops.SyntheticDataModule",
    "dfd.data.synthetic.mini.media.VideoSpec",
    *MINI_TREES.values(),  # each registered layout's mini tree (dfd.raw.layouts.MINI_TREES)
    "dfd.metrics.robustness.Attack",
    "dfd.metrics.robustness.BrightnessContrast",
    "dfd.metrics.robustness.Downscale",
    "dfd.metrics.robustness.GaussianBlur",
    "dfd.metrics.robustness.GaussianNoise",
    "dfd.metrics.robustness.JpegCompression",
    "dfd.models.avff_module.AVDetectorModule",
    "dfd.models.avff_module.AVFFModule",
    "dfd.models.detector_module.DetectorModule",
    "dfd.models.losses.BCELoss",
    "dfd.models.losses.CrossEntropyLoss",
    "dfd.models.losses.FocalLoss",
    "dfd.models.losses.WeightedBCELoss",
    *NETS,  # every registered net (dfd.models.nets.NETS)
    "dfd.models.sam.SAM",
    "dfd.models.schedulers.constant_then_linear",
    "dfd.models.schedulers.cosine_with_warmup",
    "dfd.preprocessing.faces.FaceCropper",
    "dfd.preprocessing.dlib_faces.DlibFaceCropper",
    *sorted(set(LAYOUTS.values())),  # every registered layout parser (dfd.raw.layouts.LAYOUTS)
    "dfd.config.optuna_summary.OptunaSummaryCallback",
    "dfd.preprocessing.tasks.MergeShards",
    "dfd.config.sweeper.SharedStudySweeper",
    "lightning.pytorch.callbacks.DeviceStatsMonitor",
    "lightning.pytorch.callbacks.EarlyStopping",
    "lightning.pytorch.callbacks.LearningRateMonitor",
    "lightning.pytorch.callbacks.RichProgressBar",
    "lightning.pytorch.loggers.TensorBoardLogger",
    "lightning.pytorch.trainer.Trainer",
    "optuna.samplers.CmaEsSampler",
    "optuna.samplers.GPSampler",
    "optuna.samplers.GridSampler",
    "optuna.samplers.QMCSampler",
    "optuna.samplers.RandomSampler",
    "optuna.samplers.TPESampler",
    "torch.optim.Adam",
    "torch.optim.AdamW",
    "torch.optim.SGD",
    "torch.optim.lr_scheduler.CosineAnnealingLR",
    "torch.optim.lr_scheduler.StepLR",
]


def trusted_targets() -> list[str]:
    extra = os.environ.get("DFD_TRUSTED_TARGETS", "")
    return TRUSTED_TARGETS + [t.strip() for t in extra.split(",") if t.strip()]


class UntrustedTarget(DfdError, ValueError):
    """A config names a ``_target_`` outside :data:`TRUSTED_TARGETS`."""


def with_current_targets(cfg: Any) -> Any:
    """``cfg``, with every ``_target_`` that names a module of an earlier dfd version rewritten in
    place to its new path (:mod:`dfd.core.moved`). In place, so that interpolations into the rest
    of the config still resolve."""
    nodes = [cfg] if isinstance(cfg, DictConfig | ListConfig) else []
    while nodes:
        node = nodes.pop()
        keys = list(node.keys()) if isinstance(node, DictConfig) else range(len(node))
        for key in keys:
            value = node._get_node(key)
            if isinstance(value, DictConfig | ListConfig):
                nodes.append(value)
            elif key == "_target_" and current_target(node[key]) != node[key]:
                with read_write(node):
                    node[key] = current_target(node[key])
    return cfg


#: Keyword switches the model configs hand every net (``model.net.localization: ${model.localization}``)
#: that a net of a user's own, or of an earlier dfd, may not take: dropped while off.
OFF_SWITCHES = ("localization",)


#: Model-level keys a model config interpolates into its net (``model=foundation``: ``model.backbone``,
#: ``model.pretrained``, ``model.tuning`` → ``model.net.*``), the spelling the command line uses; a
#: target that does not take one (the LightningModule) is built without it.
NET_SHORTHANDS = ("backbone", "pretrained", "tuning")


def is_trusted(target: str) -> bool:
    """Whether ``target`` is one of :func:`trusted_targets` (``pkg.*`` patterns included)."""
    from fnmatch import fnmatchcase

    return any(fnmatchcase(target, pattern) for pattern in trusted_targets())


def takes_keyword(target: str, name: str) -> bool:
    """Whether the trusted callable ``target`` accepts the keyword ``name`` (a class: its ``__init__``)."""
    import inspect

    from hydra.utils import get_object

    parameters = inspect.signature(get_object(target)).parameters.values()
    return any(p.name == name or p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters)


def trusted_nodes(cfg: Any) -> Iterator[tuple[DictConfig, str]]:
    """Every mapping of ``cfg`` (itself included) whose ``_target_`` is trusted, with that target;
    only trusted targets may be imported to be asked what they take."""
    nodes = [cfg] if isinstance(cfg, DictConfig) else []
    while nodes:
        node = nodes.pop()
        nodes += [v for v in (node._get_node(k) for k in list(node.keys())) if isinstance(v, DictConfig)]
        target = node.get("_target_") if "_target_" in node else None
        if isinstance(target, str) and is_trusted(target):
            yield node, target


def without_off_switches(cfg: Any) -> Any:
    """``cfg`` without the :data:`OFF_SWITCHES` that are off for targets that do not take them, so a
    net of one's own drops into any model config by ``_target_`` (``model.net._target_=mypkg.Net``).
    Only trusted targets are imported to be asked; with the switch on, the target gets it (and says
    so if it cannot)."""
    for node, target in trusted_nodes(cfg):
        for switch in OFF_SWITCHES:
            if switch in node and node[switch] is False and not takes_keyword(target, switch):
                with open_dict(node), read_write(node):
                    del node[switch]
    return cfg


def without_net_shorthands(cfg: Any) -> list[tuple[DictConfig, str, Any]]:
    """Take the :data:`NET_SHORTHANDS` out of every node with a ``net`` whose target does not take
    them, the net's own interpolations of them resolved first; return what was taken, for
    :func:`instantiate` to put back (the run's ``config.yaml`` keeps them)."""
    taken: list[tuple[DictConfig, str, Any]] = []
    for node, target in trusted_nodes(cfg):
        net = node.get("net") if "net" in node else None
        if not isinstance(net, DictConfig):
            continue
        for key in NET_SHORTHANDS:
            if key in node and not takes_keyword(target, key):
                with open_dict(node), read_write(node):
                    if key in net:
                        net[key] = net[key]  # resolved while model.<key> is there
                    taken.append((node, key, node[key]))
                    del node[key]
    return taken


def instantiate(cfg: DictConfig, **kwargs: Any) -> Any:
    """``hydra.utils.instantiate`` restricted to :data:`TRUSTED_TARGETS`.

    A config (say, a checkpoint's ``config.yaml`` from someone else) cannot make dfd call an
    arbitrary function: a foreign ``_target_`` raises :class:`UntrustedTarget`, naming it and the
    environment variable that allows it.
    """
    cfg = without_off_switches(with_current_targets(cfg))
    taken = without_net_shorthands(cfg)
    try:
        return hydra.utils.instantiate(cfg, _execution_whitelist_=trusted_targets(), **kwargs)
    except InstantiationException as err:
        match = re.search(r"Target '([^']+)' (is not in|cannot be authorized by)\s+the\s+Hydra", str(err))
        if match is None:
            raise
        target = match.group(1)
        if match.group(2).startswith("cannot"):
            raise UntrustedTarget(
                f"_target_: {target} can run arbitrary code from a config, which dfd never allows; "
                "call a narrow function of your own instead"
            ) from None
        raise UntrustedTarget(
            f"_target_: {target} is not a trusted target (dfd allows {', '.join(trusted_targets())}); "
            f"if you trust it, run with DFD_TRUSTED_TARGETS={target}"
        ) from None
    finally:
        for node, key, value in taken:
            with open_dict(node), read_write(node):
                node[key] = value


# -- run-directory resolvers ---------------------------------------------------------------
def resume_run_dir(ckpt_path: str | None) -> str | None:
    """The run directory owning ``ckpt_path`` (``<run>/checkpoints/x.ckpt``), if it is a dfd run."""
    if not ckpt_path:
        return None
    ckpt = Path(str(ckpt_path)).expanduser().resolve()
    run = ckpt.parent.parent
    if ckpt.parent.name == "checkpoints" and (run / ".hydra").is_dir():
        return str(run)
    return None


def _run_dir(ckpt_path: str | None, default: str) -> str:
    """Resuming continues in the original run directory, so logs and checkpoints stay together."""
    return resume_run_dir(ckpt_path) or default


def _hydra_subdir(ckpt_path: str | None) -> str:
    """Keep the original ``.hydra/`` config of a resumed run; the resume's goes beside it."""
    if resume_run_dir(ckpt_path) is None:
        return ".hydra"
    return f".hydra/resume_{datetime.now():%Y-%m-%d_%H-%M-%S}"


def _count(value: Any, key: str) -> int:
    """A positive whole number the cluster needs (``${dfd_count:${trainer.devices},trainer.devices}``
    in the SLURM launcher presets), or an error naming the key to set."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = 0
    if number < 1 or str(number) != str(value).strip():
        raise ValueError(
            f"the SLURM job is sized from {key}, which is {value!r}: set {key}=<a number>, e.g. "
            "trainer.devices=4 for four GPUs per node"
        )
    return number


def _if_set(flag: Any, then: Any, otherwise: Any) -> Any:
    """``${dfd_if_set:<flag>,<then>,<otherwise>}``: ``then`` where ``flag`` is set (not null), else
    ``otherwise`` (preprocess's clip mode follows ``data.clip_len`` only for audio-visual data, whose
    configs alone set ``clips_per_video``)."""
    return otherwise if flag is None else then


def register_resolvers() -> None:
    """Register dfd's OmegaConf resolvers (idempotent)."""
    resolvers = {
        "dfd_run_dir": _run_dir,
        "dfd_hydra_subdir": _hydra_subdir,
        "dfd_count": _count,
        "dfd_if_set": _if_set,
    }
    for name, fn in resolvers.items():
        if not OmegaConf.has_resolver(name):
            OmegaConf.register_resolver(name, fn)


def save_resolved_config(cfg: DictConfig, path: Any) -> None:
    """Write the fully resolved config (what the run actually used) as YAML."""
    OmegaConf.save(cfg, path, resolve=True)


def to_container(cfg: DictConfig) -> dict:
    """The resolved config as plain Python containers (for loggers and checkpoints)."""
    return OmegaConf.to_container(cfg, resolve=True)  # type: ignore[return-value]
