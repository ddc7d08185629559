"""Evaluate a checkpoint: ``python -m dfd.eval ckpt_path=<run>/checkpoints/best.ckpt [data=<name>] [split=test]``.

The model is rebuilt from the run's saved ``config.yaml`` (no pretrained download: the
checkpoint holds every weight) and the chosen split of the run's data, or of ``data=<name>``,
is evaluated at frame and video level, at 0.5 and at the threshold fitted on validation
(``threshold=f1|youden|precision|temperature|<number>``, from the checkpoint's calibration).
The report (figures, ``summary.json``, ``report.md``) goes to ``report_dir``; the metrics JSON
is written beside the checkpoint. ``data=a,b,c -m`` evaluates several datasets, one job each;
``python -m dfd.cross_eval`` builds the cross-dataset matrix.
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

from dfd.callbacks.calibration import load_calibration
from dfd.reports.report import write_report
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


def resolve_checkpoint(path: str | Path) -> Path:
    """``path`` made absolute; ``FileNotFoundError`` naming it when it does not exist."""
    ckpt_path = Path(str(path)).expanduser().resolve()
    if not ckpt_path.is_file():
        raise FileNotFoundError(f"checkpoint {ckpt_path} does not exist (ckpt_path=...)")
    return ckpt_path


def eval_data_config(cfg: DictConfig, run_cfg: DictConfig) -> DictConfig:
    """The data config to evaluate: ``cfg.data`` when given, else the run's, detached and resolved."""
    source = cfg.data if cfg.get("data") is not None else run_cfg.data
    data_cfg = OmegaConf.create(OmegaConf.to_container(source, resolve=True))
    if cfg.get("batch_size"):
        data_cfg.batch_size = cfg.batch_size
    return data_cfg


def data_root(data_cfg: DictConfig) -> Path:
    """The dataset folder a data config reads (``root`` or ``data_dir``)."""
    return Path(str(data_cfg.get("root", data_cfg.get("data_dir", "data")))).expanduser().resolve()


def prepare_data(cfg: DictConfig, run_cfg: DictConfig, model: Any) -> tuple[Any, DictConfig]:
    """Build and check the datamodule for ``cfg`` with the model's input contract."""
    data_cfg = eval_data_config(cfg, run_cfg)
    datamodule = instantiate(data_cfg)
    datamodule.verify()
    datamodule.set_input_spec(model.net.input_spec)
    return datamodule, data_cfg


def check_selection_guard(cfg: DictConfig, run_cfg: DictConfig, data_cfg: DictConfig) -> None:
    """With ``guard.enabled``, refuse ``split=test`` on data used for model selection.

    Selection data are the folders (or folder names) in ``guard.data``, or, when that list is
    empty, the data the run was trained and selected on.
    """
    guard = cfg.get("guard")
    if not guard or not guard.get("enabled") or cfg.split != "test":
        return
    root = data_root(data_cfg)
    listed = [str(d) for d in guard.get("data") or []]
    if listed:  # folders, or bare dataset folder names such as "ffpp"
        reserved = any(root == Path(d).expanduser().resolve() or root.name == d for d in listed)
    else:
        reserved = root == data_root(run_cfg.data)
    if reserved:
        raise PermissionError(
            f"guard.enabled=true: {root} was used for model selection, so its test split is reserved for the "
            "final report. Evaluate split=val while developing; for the one final evaluation run with guard.enabled=false."
        )


def predict_split(
    cfg: DictConfig, ckpt_path: Path, data_run_cfg: DictConfig | None = None
) -> dict[str, torch.Tensor]:
    """Score ``cfg.split`` with the checkpoint; return its gathered ``logits``, ``labels``, ``video_idx``.

    The data is ``cfg.data`` or, when that is null, the data of ``data_run_cfg`` (default: the
    checkpoint's own run). Used by :mod:`dfd.compare` to score two checkpoints on one split.
    """
    _, model, datamodule, _ = load_for_eval(cfg, ckpt_path, data_run_cfg)
    trainer: L.Trainer = instantiate(cfg.trainer, logger=False)
    run_split(trainer, model, datamodule, cfg.split, verbose=False)
    return model.eval_outputs[cfg.split]


def load_for_eval(
    cfg: DictConfig, ckpt_path: Path, data_run_cfg: DictConfig | None = None
) -> tuple[DictConfig, L.LightningModule, L.LightningDataModule, DictConfig]:
    """``(run config, model, datamodule, data config)`` to score ``cfg.split`` with a checkpoint.

    The one preamble of dfd.eval, dfd.compare and dfd.robustness: checks ``cfg.split``, rebuilds
    the model from its run, prepares the data (``cfg.data`` or, when null, that of
    ``data_run_cfg``, by default the checkpoint's own run) and applies the selection guard.
    """
    if cfg.split not in SPLITS:
        raise ValueError(f"split={cfg.split!r} is not one of {SPLITS}")
    run_cfg = run_config_for(ckpt_path)
    model = load_model(ckpt_path, run_cfg)
    datamodule, data_cfg = prepare_data(cfg, data_run_cfg if data_run_cfg is not None else run_cfg, model)
    check_selection_guard(cfg, run_cfg, data_cfg)
    return run_cfg, model, datamodule, data_cfg


def run_split(trainer: L.Trainer, model: L.LightningModule, datamodule, split: str, **kwargs: Any) -> list:
    """``trainer.validate`` for ``split=val``, ``trainer.test`` for ``split=test``."""
    return (trainer.validate if split == "val" else trainer.test)(model, datamodule=datamodule, **kwargs)


def flatten_summary(summary: dict[str, Any]) -> dict[str, float]:
    """``frame/auc``, ``video/f1``, … at 0.5 and ``frame/calibrated/f1``, … at the calibrated threshold."""
    out: dict[str, float] = {}
    for level in ("frame", "video"):
        if level not in summary:
            continue
        for key, value in summary[level]["at_0.5"].items():
            out[f"{level}/{key}"] = float(value)
        for key, value in summary[level]["calibrated"].items():
            out[f"{level}/calibrated/{key}"] = float(value)
        out[f"{level}/calibrated/threshold"] = float(summary[level]["threshold"])
    return out


def evaluate(cfg: DictConfig) -> dict[str, float]:
    """Evaluate ``cfg.ckpt_path`` on ``cfg.split``; write the report and metrics, return the metrics."""
    L.seed_everything(cfg.seed, workers=True)
    ckpt_path = resolve_checkpoint(cfg.ckpt_path)
    _, model, datamodule, data_cfg = load_for_eval(cfg, ckpt_path)

    loggers = instantiate_loggers(cfg.get("logger"))
    trainer: L.Trainer = instantiate(cfg.trainer, logger=loggers or False)
    results = run_split(trainer, model, datamodule, cfg.split)[0]
    metrics = {k: float(v) for k, v in results.items()}

    calibration = load_calibration(ckpt_path)
    if calibration is None:
        log.warning("%s holds no calibration: the calibrated column uses threshold 0.5", ckpt_path)
    data_name = data_root(data_cfg).name
    summary = None
    report_dir = Path(cfg.report_dir) if cfg.get("report_dir") else Path(cfg.paths.output_dir) / "report"
    if trainer.is_global_zero:
        writer = next((lg.experiment for lg in loggers if hasattr(lg.experiment, "add_figure")), None)
        summary = write_report(
            model.eval_outputs[cfg.split],
            report_dir,
            calibration,
            threshold=cfg.get("threshold", "f1"),
            video_aggregation=cfg.get("video_aggregation"),
            run_dir=ckpt_path.parent.parent,
            tb_writer=writer,
            title=f"{ckpt_path.parent.parent.name}: {data_name} {cfg.split}",
            meta={"checkpoint": ckpt_path, "data": data_name, "split": cfg.split},
        )
        metrics.update(flatten_summary(summary))

    out = ckpt_path.with_name(f"{ckpt_path.stem}.{data_name}.{cfg.split}.metrics.json")
    payload = {
        "checkpoint": str(ckpt_path),
        "data": OmegaConf.to_container(data_cfg, resolve=True),
        "split": cfg.split,
        "threshold": str(cfg.get("threshold", "f1")),
        "calibration": calibration.to_dict() if calibration else None,
        "metrics": metrics,
    }
    if trainer.is_global_zero:
        out.write_text(json.dumps(payload, indent=2, sort_keys=True))
        _print_summary(out, report_dir, summary)
    return metrics


def _print_summary(out: Path, report_dir: Path, summary: dict[str, Any] | None) -> None:
    lines = [f"metrics written to {out}"]
    if summary:
        lines.append(f"report in {report_dir}")
        for level in ("frame", "video"):
            if level in summary:
                s = summary[level]
                lines.append(
                    f"{level}: AUC {s['at_0.5']['auc']:.4f} | at 0.5: acc {s['at_0.5']['acc']:.4f} F1 {s['at_0.5']['f1']:.4f}"
                    f" | at {summary['threshold_choice']} ({s['threshold']:.3f}): acc {s['calibrated']['acc']:.4f}"
                    f" F1 {s['calibrated']['f1']:.4f}"
                )
    print("\n".join(lines), flush=True)


@hydra.main(version_base="1.3", config_path="../conf", config_name="eval")
def main(cfg: DictConfig) -> None:
    evaluate(cfg)


if __name__ == "__main__":
    main()
