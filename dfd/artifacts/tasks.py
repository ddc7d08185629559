"""The tasks of the artifacts stage's commands: each is what ``dfd <verb>`` runs once its config is composed."""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig

from dfd.artifacts.exporting import export_checkpoint, export_ensemble_run
from dfd.artifacts.runs import is_ensemble_run
from dfd.inference.export import folder_digest, read_json


def export(cfg: DictConfig) -> Path:
    """Export ``cfg.ckpt_path`` (a checkpoint, or a ``dfd.ensemble`` run folder) to ``cfg.out_dir``; return it."""
    if is_ensemble_run(cfg.ckpt_path):
        out = export_ensemble_run(cfg.ckpt_path, cfg.out_dir, cfg.name, cfg.opset, cfg.allow_pickle)
        description = read_json(out / "dfd_ensemble.json")
        print(f"exported the ensemble {description['name']} ({len(description['members'])} members) to {out}")
        print(f"  {len(description['files'])} files, each with its sha256 in dfd_ensemble.json")
        print(f"digest: {folder_digest(out)}", flush=True)
        return out
    out = export_checkpoint(cfg.ckpt_path, cfg.out_dir, cfg.name, cfg.opset, cfg.cross_eval, cfg.allow_pickle)
    description = read_json(out / "dfd_model.json")
    print(f"exported {description['name']} to {out}")
    print(f"  ONNX Runtime vs torch: max |Δ logit| {description['onnx']['max_abs_deviation_from_torch']:.2e}")
    for name, digest in description["files"].items():
        print(f"  {name:<18} sha256 {digest[:16]}…")
    print(f"digest: {folder_digest(out)}", flush=True)
    return out
