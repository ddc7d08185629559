"""Export a trained detector: ``python -m dfd.export ckpt_path=<run>/checkpoints/best.ckpt out_dir=<folder>``.

Writes a self-describing folder that runs without dfd's training code and without unpickling
anything: ``model.onnx`` (dynamic batch), ``model.safetensors``, ``dfd_model.json`` (the net to
rebuild, input spec, calibration, preprocessing fingerprint, training data and validation
metrics, versions, the sha256 of every file) and ``MODEL_CARD.md``. ``dfd.predict`` and
``dfd.serve`` run it. The steps are :mod:`dfd.inference.export`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from dfd.inference.export import export_model
from dfd.utils.entry import entry
from dfd.utils.runs import (
    data_root,
    load_checkpoint,
    load_detector,
    resolve_checkpoint,
    run_config_for,
    run_dir_of,
)


def training_record(ckpt: Path, run_cfg: DictConfig, allow_pickle: bool) -> dict[str, Any]:
    """What the model card says of training: data, run, checkpoint epoch, the run's validation metrics."""
    run = run_dir_of(ckpt)
    metrics_file = run / "metrics.json"
    metrics = json.loads(metrics_file.read_text()).get("metrics", {}) if metrics_file.is_file() else {}
    return {
        "data": data_root(run_cfg.data).name,
        "run": str(run),
        "checkpoint": str(ckpt),
        "epoch": load_checkpoint(ckpt, allow_pickle).get("epoch"),
        "metrics": {k: v for k, v in metrics.items() if k.startswith("val/")},
    }


def cross_dataset_row(cross_eval: str | None, ckpt: Path) -> dict[str, dict[str, float]]:
    """This checkpoint's row of a ``dfd.cross_eval`` result: ``{dataset: {metric: value}}``."""
    if not cross_eval:
        return {}
    path = Path(cross_eval).expanduser()
    path = path / "cross_eval.json" if path.is_dir() else path
    record = json.loads(path.read_text())
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


def export(cfg: DictConfig) -> Path:
    """Export ``cfg.ckpt_path`` to ``cfg.out_dir``; return the folder."""
    ckpt = resolve_checkpoint(cfg.ckpt_path)
    run_cfg = run_config_for(ckpt)
    detector = load_detector(ckpt, allow_pickle=cfg.allow_pickle)
    net_cfg = OmegaConf.to_container(run_cfg.model.net, resolve=True)
    net_spec = {"target": net_cfg.pop("_target_"), "kwargs": net_cfg}
    out = export_model(
        detector.net, net_spec, cfg.out_dir,
        calibration=detector.info.calibration,
        preprocessing=detector.info.preprocessing,
        training=training_record(ckpt, run_cfg, cfg.allow_pickle),
        cross_dataset=cross_dataset_row(cfg.cross_eval, ckpt),
        name=cfg.name or detector.info.name,
        opset=cfg.opset,
    )  # fmt: skip
    description = json.loads((out / "dfd_model.json").read_text())
    print(f"exported {detector.info.name} to {out}")
    print(f"  ONNX Runtime vs torch: max |Δ logit| {description['onnx']['max_abs_deviation_from_torch']:.2e}")
    for name, digest in description["files"].items():
        print(f"  {name:<18} sha256 {digest[:16]}…")
    return out


main = entry("export", export)

if __name__ == "__main__":
    main()
