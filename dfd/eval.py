"""Evaluate a checkpoint: ``python -m dfd.eval ckpt_path=<run>/checkpoints/best.ckpt [data=<name>] [split=test]``.

The model is rebuilt from the run's saved ``config.yaml`` (no pretrained download: the
checkpoint holds every weight) and the chosen split of the run's data, or of ``data=<name>``,
is evaluated. The metrics JSON is written beside the checkpoint.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import hydra
import lightning as L
import torch
from omegaconf import DictConfig, OmegaConf, open_dict

from dfd.utils.instantiate import instantiate, instantiate_loggers, register_resolvers

log = logging.getLogger(__name__)
register_resolvers()

SPLITS = ("val", "test")


def run_config_for(ckpt_path: Path) -> DictConfig:
    """The resolved training config saved in the run that produced ``ckpt_path``."""
    for candidate in (ckpt_path.parent.parent / "config.yaml", ckpt_path.parent / "config.yaml"):
        if candidate.is_file():
            return OmegaConf.load(candidate)
    raise FileNotFoundError(
        f"no config.yaml found for {ckpt_path} (looked in {ckpt_path.parent.parent} and {ckpt_path.parent}); "
        "dfd.eval needs the run directory that dfd.train wrote"
    )


def load_model(ckpt_path: str | Path, run_cfg: DictConfig | None = None) -> Any:
    """Rebuild the LightningModule of a dfd run and load the checkpoint's weights."""
    ckpt_path = Path(ckpt_path)
    run_cfg = run_cfg if run_cfg is not None else run_config_for(ckpt_path)
    model_cfg = run_cfg.model.copy()
    with open_dict(model_cfg):
        if "pretrained" in model_cfg.net:
            model_cfg.net.pretrained = False  # every weight comes from the checkpoint
        if model_cfg.get("weights_path"):
            model_cfg.weights_path = None  # likewise: the run's initial weights are not needed
    model = instantiate(model_cfg, loss=instantiate(run_cfg.loss))
    state = torch.load(ckpt_path, map_location="cpu", weights_only=False)
    model.load_state_dict(state["state_dict"])
    return model


def evaluate(cfg: DictConfig) -> dict[str, float]:
    """Evaluate ``cfg.ckpt_path`` on ``cfg.split``; write and return the metrics."""
    if cfg.split not in SPLITS:
        raise ValueError(f"split={cfg.split!r} is not one of {SPLITS}")
    L.seed_everything(cfg.seed, workers=True)
    ckpt_path = Path(cfg.ckpt_path).expanduser().resolve()
    if not ckpt_path.is_file():
        raise FileNotFoundError(f"ckpt_path={ckpt_path} does not exist")
    run_cfg = run_config_for(ckpt_path)
    # detach the data node from its parent config, with its interpolations resolved
    data_cfg = OmegaConf.create(
        OmegaConf.to_container(cfg.data if cfg.get("data") is not None else run_cfg.data, resolve=True)
    )
    if cfg.get("batch_size"):
        data_cfg.batch_size = cfg.batch_size
    datamodule = instantiate(data_cfg)
    datamodule.verify()
    model = load_model(ckpt_path, run_cfg)
    datamodule.set_input_spec(model.net.input_spec)

    trainer: L.Trainer = instantiate(cfg.trainer, logger=instantiate_loggers(cfg.get("logger")) or False)
    run = trainer.validate if cfg.split == "val" else trainer.test
    results = run(model, datamodule=datamodule)[0]
    metrics = {k: float(v) for k, v in results.items()}

    data_name = Path(str(data_cfg.get("root", data_cfg.get("data_dir", "data")))).name
    out = ckpt_path.with_name(f"{ckpt_path.stem}.{data_name}.{cfg.split}.metrics.json")
    payload = {
        "checkpoint": str(ckpt_path),
        "data": OmegaConf.to_container(data_cfg, resolve=True),
        "split": cfg.split,
        "metrics": metrics,
    }
    if trainer.is_global_zero:
        out.write_text(json.dumps(payload, indent=2, sort_keys=True))
        print(f"metrics written to {out}", flush=True)
    return metrics


@hydra.main(config_path="../conf", config_name="eval")
def main(cfg: DictConfig) -> None:
    evaluate(cfg)


if __name__ == "__main__":
    main()
