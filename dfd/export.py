"""Export a trained detector: ``python -m dfd.export ckpt_path=<run>/checkpoints/best.ckpt out_dir=<folder>``.

Writes a self-describing folder that runs without dfd's training code and without unpickling
anything: ``model.onnx`` (dynamic batch), ``model.safetensors``, ``dfd_model.json`` (the net to
rebuild, input spec and preprocessing contract, calibration, preprocessing fingerprint, training
data and validation metrics, versions, the sha256 of the model files) and ``MODEL_CARD.md``.
``dfd.predict`` and ``dfd.serve`` run it. The last line printed is the folder's digest,
``digest: sha256:<64 hex>`` (also in ``MODEL_CARD.md``): ``digest=`` on ``dfd.predict`` and
``dfd.serve`` pins it.

``ckpt_path=<dfd.ensemble run folder>`` exports an ensemble: one folder with every member, the
fitted rule, weights and calibration, which ``dfd.predict`` and ``dfd.serve`` run like one model.
The steps are :mod:`dfd.utils.exporting`.
"""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig

from dfd.inference.export import folder_digest, read_json
from dfd.utils.entry import entry
from dfd.utils.exporting import export_checkpoint, export_ensemble_run
from dfd.utils.runs import is_ensemble_run


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


main = entry("export", export)

if __name__ == "__main__":
    main()
