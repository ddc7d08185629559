"""Exporting what dfd trained: a checkpoint, or a ``dfd.ensemble`` run with all its members.

:func:`export_checkpoint` writes one self-describing model folder
(:func:`dfd.inference.export.export_model`) with its training record and cross-dataset row;
:func:`export_ensemble_run` writes one ensemble folder (:mod:`dfd.ensembles.detector`): each
member exported (or copied, checksums verified, when it already was) under ``members/``, then
the fitted rule, the ensemble's calibration and card.

Exported folders get shared: they name the run by its folder name, the checkpoint by its path
inside the run and the training config by its sha256, never a path of the exporting machine.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from dfd.artifacts.runs import (
    ENSEMBLE_RUN_FILE,
    data_root,
    load_checkpoint,
    load_detector,
    resolve_checkpoint,
    run_config_for,
    run_dir_of,
)
from dfd.core.digest import file_sha256
from dfd.ensembles.detector import DEFAULT_AGREEMENT_THRESHOLD, MEMBERS_DIR, write_ensemble_folder
from dfd.ensembles.fusion import fusion_from_state
from dfd.inference.detector import TorchDetector
from dfd.inference.export import export_model, read_description, read_json
from dfd.metrics.calibration import Calibration


def training_record(ckpt: Path, run_cfg: DictConfig, allow_pickle: bool) -> dict[str, Any]:
    """What the model card says of training: data, run (its folder name), checkpoint (its path in
    the run), the sha256 of the run's ``config.yaml``, epoch, the run's validation metrics."""
    run = run_dir_of(ckpt)
    metrics_file = run / "metrics.json"
    metrics = read_json(metrics_file).get("metrics", {}) if metrics_file.is_file() else {}
    config = run / "config.yaml"
    try:
        checkpoint = ckpt.relative_to(run).as_posix()
    except ValueError:
        checkpoint = ckpt.name
    return {
        "data": data_root(run_cfg.data).name,
        "run": run.name,
        "checkpoint": checkpoint,
        "config_sha256": file_sha256(config) if config.is_file() else None,
        "epoch": load_checkpoint(ckpt, allow_pickle).get("epoch"),
        "metrics": {k: v for k, v in metrics.items() if k.startswith("val/")},
    }


def cross_dataset_row(cross_eval: str | None, ckpt: Path) -> dict[str, dict[str, float]]:
    """This checkpoint's row of a ``dfd.cross_eval`` result: ``{dataset: {metric: value}}``."""
    if not cross_eval:
        return {}
    path = Path(cross_eval).expanduser()
    path = path / "cross_eval.json" if path.is_dir() else path
    record = read_json(path)
    rows = [row for row, c in record.get("checkpoints", {}).items() if Path(c) == ckpt]
    if not rows:
        raise ValueError(
            f"cross_eval={cross_eval} did not evaluate {ckpt} (it has {sorted(record.get('checkpoints', {}))})"
        )
    keys = ("frame/auc", "video/auc", "frame/calibrated/acc")
    return {
        col: {k: v for k, v in record["runs"][f"{rows[0]}_on_{col}"].items() if k in keys}
        for col in record.get("datasets", [])
        if f"{rows[0]}_on_{col}" in record["runs"]
    }


def export_checkpoint(
    ckpt_path: str | Path,
    out_dir: str | Path,
    name: str | None = None,
    opset: int = 17,
    cross_eval: str | None = None,
    allow_pickle: bool = False,
) -> Path:
    """Export one checkpoint of a ``dfd.train`` run to a model folder; return it."""
    ckpt = resolve_checkpoint(ckpt_path)
    run_cfg = run_config_for(ckpt)
    detector = load_detector(ckpt, allow_pickle=allow_pickle)
    assert isinstance(detector, TorchDetector)
    net_cfg = OmegaConf.to_container(run_cfg.model.net, resolve=True)
    assert isinstance(net_cfg, dict)
    net_spec = {"target": net_cfg.pop("_target_"), "kwargs": net_cfg}
    return export_model(
        detector.net, net_spec, out_dir,
        calibration=detector.info.calibration,
        preprocessing=detector.info.preprocessing,
        training=training_record(ckpt, run_cfg, allow_pickle),
        cross_dataset=cross_dataset_row(cross_eval, ckpt),
        name=name or detector.info.name,
        opset=opset,
    )  # fmt: skip


def export_ensemble_run(
    run_dir: str | Path,
    out_dir: str | Path,
    name: str | None = None,
    opset: int = 17,
    allow_pickle: bool = False,
) -> Path:
    """Export a ``dfd.ensemble`` run (its members, rule, weights and calibration) to one folder."""
    run_dir = Path(run_dir)
    record = read_json(run_dir / ENSEMBLE_RUN_FILE)
    out = Path(out_dir)
    members_root = out / MEMBERS_DIR
    if members_root.exists():
        shutil.rmtree(members_root)  # a re-export replaces the members, never mixes them
    member_dirs = []
    for k, m in enumerate(record["members"]):
        source, target = Path(m["path"]), members_root / f"{k:02d}_{m['name']}"
        if source.is_dir():
            read_description(source)  # checksums verified before copying
            shutil.copytree(source, target)
        else:
            export_checkpoint(source, target, name=m["name"], opset=opset, allow_pickle=allow_pickle)
        member_dirs.append((m["name"], target))
    metrics = record.get("metrics", {})
    training = {
        "data": record.get("data"),
        "run": run_dir.resolve().name,
        "metrics": {f"val/log_loss/{k}": v for k, v in record.get("val_log_loss", {}).items()},
        "test_metrics": {k: v for k, v in metrics.items() if k.startswith(("frame/auc", "video/auc"))},
    }
    weights = [record.get("weights", {}).get(m["name"], float("nan")) for m in record["members"]]
    return write_ensemble_folder(
        out, member_dirs, fusion_from_state(record["fusion"]), Calibration.from_dict(record["calibration"]),
        record.get("preprocessing"), training, weights,
        agreement_threshold=record.get("agreement_threshold", DEFAULT_AGREEMENT_THRESHOLD),
        name=name or f"ensemble ({record['fusion']['rule']}) of {', '.join(m['name'] for m in record['members'])}",
    )  # fmt: skip
