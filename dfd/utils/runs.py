"""Loading training runs, their checkpoints and exported models: the one place every command reads a
model from.

A run directory is what ``dfd.train`` writes: ``<run>/config.yaml`` (the resolved config it
used) and ``<run>/checkpoints/*.ckpt``. :func:`load_model` rebuilds the LightningModule from
that config and loads a checkpoint's weights into it, without downloading pretrained weights
(the checkpoint holds every weight).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf, open_dict

from dfd.callbacks.calibration import load_calibration
from dfd.ensembles.detector import (
    DEFAULT_AGREEMENT_THRESHOLD,
    EnsembleDetector,
    is_ensemble_folder,
    load_ensemble,
)
from dfd.ensembles.fusion import fusion_from_state
from dfd.ensembles.members import file_sha256
from dfd.inference.detector import Detector, ModelInfo, TorchDetector, resolve_device
from dfd.inference.export import check_calibration, load_exported, parse_digest, read_json
from dfd.metrics.calibration import Calibration
from dfd.safe_load import load_torch_file
from dfd.utils.instantiate import instantiate

#: What a ``dfd.ensemble`` run writes: its members, fitted rule and calibration.
ENSEMBLE_RUN_FILE = "ensemble.json"


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
    and its preprocessing fingerprint."""
    ckpt_path = Path(ckpt_path)
    checkpoint = load_checkpoint(
        ckpt_path, allow_pickle
    )  # first: an unsafe file is refused before anything else
    run_cfg = run_cfg if run_cfg is not None else run_config_for(ckpt_path)
    model_cfg = run_cfg.model.copy()
    with open_dict(model_cfg):
        if "pretrained" in model_cfg.net:
            model_cfg.net.pretrained = False  # every weight comes from the checkpoint
        for key in ("weights_path", "pretrained_ckpt"):
            if model_cfg.get(key):
                model_cfg[key] = None  # likewise: the run's initial weights are not needed
    model = instantiate(model_cfg, loss=instantiate(run_cfg.loss))
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
