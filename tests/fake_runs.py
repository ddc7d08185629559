"""Fake ``dfd.train`` run directories with known numbers, for the tests of ``dfd.summarize``: the files a
run leaves (``.hydra/``, ``metrics.json``, ``error.txt``, TensorBoard events or a Lightning CSV log),
without training anything."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import yaml

#: Steps per epoch of the fake logs: epoch e is logged at step 10·e + 9.
STEPS = 10


def make_run(
    path: Path,
    overrides: list[str],
    metrics: dict[str, float] | None = None,
    curves: dict[str, list[float]] | None = None,
    error: str | None = None,
    seed: int | None = None,
    logger: str = "tensorboard",
    net: dict | None = None,
) -> Path:
    """Write a run directory: ``metrics`` → ``metrics.json`` (none: the run did not finish), ``curves``
    (tag → one value per epoch) → TensorBoard events or ``csv/metrics.csv``, ``error`` → ``error.txt``;
    ``.hydra/config.yaml`` records ``seed`` (by default the ``seed=`` override, else 42) and ``net``
    (``model.net``, e.g. a clip model's with its ``clip_len``)."""
    if seed is None:  # what dfd.train's config records: the seed override, else the default
        seed = int(next((o.split("=", 1)[1] for o in overrides if o.startswith("seed=")), 42))
    (path / ".hydra").mkdir(parents=True)
    (path / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(overrides))
    config = {
        "task_name": "train",
        "seed": seed,
        "train": True,
        "test": True,
        "paths": {"output_dir": str(path)},
        **({"model": {"net": net}} if net is not None else {}),
    }
    (path / ".hydra" / "config.yaml").write_text(yaml.safe_dump(config))
    (path / "checkpoints").mkdir()
    if metrics is not None:
        record = {"best_checkpoint": str(path / "checkpoints" / "best.ckpt"), "metrics": metrics}
        (path / "metrics.json").write_text(json.dumps(record, indent=2))
    if error is not None:
        (path / "error.txt").write_text(error)
    if curves and logger == "tensorboard":
        from torch.utils.tensorboard import SummaryWriter

        writer = SummaryWriter(str(path / "tensorboard"))
        for tag, values in curves.items():
            for epoch, value in enumerate(values):
                writer.add_scalar(tag, value, STEPS * epoch + STEPS - 1)
        writer.close()
    elif curves:
        (path / "csv").mkdir()
        epochs = max(map(len, curves.values()))
        with (path / "csv" / "metrics.csv").open("w", newline="") as f:
            out = csv.DictWriter(f, fieldnames=["epoch", "step", *curves])
            out.writeheader()
            for epoch in range(epochs):
                row = {tag: values[epoch] for tag, values in curves.items() if epoch < len(values)}
                out.writerow({"epoch": epoch, "step": STEPS * epoch + STEPS - 1, **row})
    return path


def curves(auc: float, epochs: int = 3) -> dict[str, list[float]]:
    """Learning curves ending at validation AUC ``auc`` (the best epoch is the last)."""
    return {
        "val/auc": [auc - 0.1 * (epochs - 1 - e) for e in range(epochs)],
        "train/loss_epoch": [0.7 - 0.1 * e for e in range(epochs)],
        "val/loss": [0.72 - 0.08 * e for e in range(epochs)],
    }


def make_sweep(root: Path, aucs: list[float], extra: list[str] | None = None, failed: bool = False) -> Path:
    """A ``dfd.train -m seed=1,2,...`` multirun directory: job i has seed i+1 and test/auc ``aucs[i]``;
    with ``failed``, one more job that failed (``error.txt``, no ``metrics.json``)."""
    root.mkdir(parents=True)
    seeds = list(range(1, len(aucs) + 1 + int(failed)))
    (root / "multirun.yaml").write_text(
        yaml.safe_dump({"hydra": {"overrides": {"task": [f"seed={','.join(map(str, seeds))}"]}}})
    )
    common = ["trainer.max_epochs=3", f"paths.log_dir={root.parent}", *(extra or [])]
    for i, auc in enumerate(aucs):
        metrics = {"test/auc": auc, "test/video_auc": auc + 0.02, "test/log_loss": 1 - auc, "test/eer": 0.9 - auc,
                   "test/acc": auc - 0.05, "val/auc_best": auc + 0.05}  # fmt: skip
        make_run(root / str(i), [f"seed={i + 1}", *common], metrics, curves(auc + 0.05))
    if failed:
        i = len(aucs)
        make_run(root / str(i), [f"seed={i + 1}", *common], None, curves(0.6, epochs=1),
                 error="Traceback (most recent call last):\n  ...\nRuntimeError: CUDA out of memory\n")  # fmt: skip
    return root


def make_model_run(
    path: Path, preprocessing: dict | None = None, overrides: list[str] | None = None, net=None
) -> Path:
    """A loadable run directory without training: ``config.yaml`` as ``dfd.train`` writes it (Meso4 at
    64 px on synthetic crops, or ``net`` as the training ``overrides`` configure it) and
    ``checkpoints/best.ckpt`` with untrained weights and the given preprocessing fingerprint;
    returns the checkpoint."""
    import torch
    from omegaconf import OmegaConf

    from dfd.models.detector_module import DetectorModule
    from dfd.models.nets.mesonet import Meso4
    from tests.conftest import base_overrides, compose_config

    (path / "checkpoints").mkdir(parents=True)
    overrides = ["model.net.input_size=64"] if overrides is None else overrides
    cfg = compose_config("train", base_overrides(path, path.parent / "data") + overrides)
    (path / "config.yaml").write_text(OmegaConf.to_yaml(cfg, resolve=True))
    module = DetectorModule(Meso4(input_size=64) if net is None else net, optimizer=None)
    ckpt = path / "checkpoints" / "best.ckpt"
    torch.save(
        {"state_dict": module.state_dict(), "epoch": 0, "global_step": 0, "preprocessing": preprocessing},
        ckpt,
    )
    return ckpt
