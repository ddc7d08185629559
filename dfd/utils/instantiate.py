"""The one place below the entry points that knows Hydra: building objects from configs."""

from __future__ import annotations

import logging
import os
from typing import Any

import hydra
from lightning.pytorch import Callback
from lightning.pytorch.loggers import Logger
from omegaconf import DictConfig, OmegaConf

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


def instantiate_loggers(cfg: DictConfig | None) -> list[Logger]:
    return instantiate_dict(cfg, "logger")


#: Packages whose classes and functions configs may name as ``_target_``. Add your own with
#: the environment variable ``DFD_TRUSTED_TARGETS=mypkg.*,otherpkg.Thing``.
TRUSTED_TARGETS = [
    "dfd.*",
    "torch.*",
    "torchvision.*",
    "torchaudio.*",
    "lightning.*",
    "timm.*",
    "torchmetrics.*",
    "albumentations.*",
    "optuna.*",
    "functools.partial",
]


def trusted_targets() -> list[str]:
    extra = os.environ.get("DFD_TRUSTED_TARGETS", "")
    return TRUSTED_TARGETS + [t.strip() for t in extra.split(",") if t.strip()]


def instantiate(cfg: DictConfig, **kwargs: Any) -> Any:
    """``hydra.utils.instantiate`` restricted to :data:`TRUSTED_TARGETS`."""
    return hydra.utils.instantiate(cfg, _execution_whitelist_=trusted_targets(), **kwargs)


# -- run-directory resolvers ---------------------------------------------------------------
def resume_run_dir(ckpt_path: str | None) -> str | None:
    """The run directory owning ``ckpt_path`` (``<run>/checkpoints/x.ckpt``), if it is a dfd run."""
    if not ckpt_path:
        return None
    from pathlib import Path

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
    from datetime import datetime

    return f".hydra/resume_{datetime.now():%Y-%m-%d_%H-%M-%S}"


def register_resolvers() -> None:
    """Register dfd's OmegaConf resolvers (idempotent)."""
    for name, fn in {"dfd_run_dir": _run_dir, "dfd_hydra_subdir": _hydra_subdir}.items():
        if not OmegaConf.has_resolver(name):
            OmegaConf.register_resolver(name, fn)


# -- task wrapper ----------------------------------------------------------------------------
def is_multirun() -> bool:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def run_task(task: Any, cfg: DictConfig) -> float | None:
    """Run ``task(cfg) -> metrics`` and return ``cfg.optimized_metric`` for sweepers.

    In a multirun, an exception is logged (and written to ``error.txt`` in the job's folder)
    and the job returns NaN, which Optuna records as a failed trial; the sweep goes on.
    A single run re-raises, so the exit code is non-zero.
    """
    import traceback
    from pathlib import Path

    try:
        metrics = task(cfg)
    except Exception:
        if not is_multirun():
            raise
        log.exception("job failed; the sweep continues")
        out = Path(cfg.paths.output_dir)
        out.mkdir(parents=True, exist_ok=True)
        (out / "error.txt").write_text(traceback.format_exc())
        return float("nan")
    name = cfg.get("optimized_metric")
    if not name:
        return None
    if name not in metrics:
        raise KeyError(
            f"optimized_metric '{name}' was not logged; logged keys: {sorted(metrics)}. "
            "Set optimized_metric to one of them."
        )
    return float(metrics[name])


def save_resolved_config(cfg: DictConfig, path: Any) -> None:
    """Write the fully resolved config (what the run actually used) as YAML."""
    OmegaConf.save(cfg, path, resolve=True)


def to_container(cfg: DictConfig) -> dict:
    return OmegaConf.to_container(cfg, resolve=True)  # type: ignore[return-value]
