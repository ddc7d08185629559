"""Scoring a model on a split: the shared steps of ``dfd.eval``, ``dfd.cross_eval``,
``dfd.compare`` and ``dfd.robustness``.

:func:`load_for_eval` rebuilds the model from its run, prepares the data (the run's own, or
``data=<name>``), checks the split and applies the selection guard; :func:`score_split` runs
the split through Lightning and returns the gathered outputs. An exported model folder
(``dfd.export``'s, or one imported from a published checkpoint) has no run:
:func:`load_folder_for_eval` loads it as a :class:`~dfd.inference.detector.Detector` and
prepares ``data=<name>`` (which it needs) with the folder's input spec, and
:func:`score_detector_split` scores the split's batches with it into the same outputs and
split metrics a checkpoint's evaluation gathers. :func:`dfd.evaluation.tasks.evaluate` does
all of it and writes the report and the metrics JSON into the evaluation's own directory
(``out_dir``), never into the training run.

A clip model (a temporal net, ``clip_len`` = T) is scored on clip samples of the same data: the
data config is set to the model's unit (:func:`data_for_model`: ``data.clips`` and
``data.clip_len``), so ``data=<name>`` evaluates frame and clip models alike.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import lightning as L
import torch
from omegaconf import DictConfig, OmegaConf

from dfd.artifacts.runs import (
    check_run_data,
    data_root,
    is_ensemble_run,
    load_detector,
    load_model,
    run_config_for,
    run_dir_of,
)
from dfd.config.instantiate import instantiate
from dfd.core.moved import moved_name
from dfd.ensembles.detector import is_ensemble_folder
from dfd.inference.detector import Detector, resolve_device
from dfd.models.detector_module import DetectorModule, EvalStore, split_metrics
from dfd.preprocessing.fingerprint import describe, differences

log = logging.getLogger(__name__)

SPLITS = ("val", "test")


def check_split(split: str) -> None:
    """Refuse a split other than :data:`SPLITS`."""
    if split not in SPLITS:
        raise ValueError(f"split={split!r} is not one of {SPLITS}")


def eval_data_config(
    cfg: DictConfig, run_cfg: DictConfig | None, run_source: str | Path = "the run's config.yaml"
) -> DictConfig:
    """The data config to evaluate: ``cfg.data`` when given, else the run's (``run_source``), detached
    and resolved; a run's data config may name only a dfd DataModule and raw layouts (:func:`check_run_data`)."""
    if cfg.get("data") is not None:
        source = cfg.data
    else:
        assert run_cfg is not None, "without data=<name> the data come from a run"
        source = run_cfg.data
        check_run_data(source, run_source)
    data_cfg = OmegaConf.create(OmegaConf.to_container(source, resolve=True))
    if cfg.get("batch_size"):
        data_cfg.batch_size = cfg.batch_size
    return data_cfg  # type: ignore[return-value]


def data_for_model(data_cfg: DictConfig, clip_len: int | None) -> DictConfig:
    """``data_cfg`` giving the samples the model reads: clips of its ``clip_len`` crops for a clip
    model (``data.clips=true``, ``data.clip_len``), single crops for a frame model
    (``data.clips=false``). A clip model needs a data config with clips (a face-crop dataset)."""
    if "clips" not in data_cfg:
        if clip_len:
            raise ValueError(
                f"data {data_cfg.get('_target_')} gives no clips (it has no data.clips): a clip model "
                f"(clip_len={clip_len}) is evaluated on a face-crop dataset, data=<name>"
            )
        return data_cfg
    data_cfg.clips = bool(clip_len)
    if clip_len:
        data_cfg.clip_len = int(clip_len)
    return data_cfg


def check_selection_guard(
    cfg: DictConfig, run_cfg: DictConfig | None, data_cfg: DictConfig, trained_on: str | None = None
) -> None:
    """With ``guard.enabled``, refuse ``split=test`` on data used for model selection.

    Selection data are the folders (or folder names) in ``guard.data``, or, when that list is
    empty, the data the run was trained and selected on: ``run_cfg``'s, or for an exported
    folder (no run config) the dataset folder name its training record gives (``trained_on``).
    """
    guard = cfg.get("guard")
    if not guard or not guard.get("enabled") or cfg.split != "test":
        return
    root = data_root(data_cfg)
    listed = [str(d) for d in guard.get("data") or []]
    if listed:  # folders, or bare dataset folder names such as "ffpp"
        reserved = any(root == Path(d).expanduser().resolve() or root.name == d for d in listed)
    elif run_cfg is not None:
        reserved = root == data_root(run_cfg.data)
    else:
        reserved = trained_on is not None and root.name == trained_on
    if reserved:
        raise PermissionError(
            f"guard.enabled=true: {root} was used for model selection, so its test split is reserved for the "
            "final report. Evaluate split=val while developing; for the one final evaluation run with guard.enabled=false."
        )


def load_for_eval(
    cfg: DictConfig, ckpt_path: Path, data_run_cfg: DictConfig | None = None
) -> tuple[DictConfig, L.LightningModule, L.LightningDataModule, DictConfig]:
    """``(run config, model, datamodule, data config)`` to score ``cfg.split`` with a checkpoint.

    Checks ``cfg.split``, rebuilds the model from its run, prepares the data (``cfg.data`` or,
    when null, that of ``data_run_cfg``, by default the checkpoint's own run) and applies the
    selection guard.
    """
    check_split(cfg.split)
    run_cfg = run_config_for(ckpt_path)
    model = load_model(ckpt_path, run_cfg, allow_pickle=bool(cfg.get("allow_pickle")))
    data_run_source = (
        run_dir_of(ckpt_path) / "config.yaml" if data_run_cfg is None else "the data run's config.yaml"
    )
    data_cfg = eval_data_config(cfg, data_run_cfg if data_run_cfg is not None else run_cfg, data_run_source)
    data_cfg = data_for_model(data_cfg, getattr(model.net, "clip_len", None))
    datamodule = instantiate(data_cfg)
    datamodule.verify()
    datamodule.set_input_spec(model.net.input_spec)
    if hasattr(datamodule, "set_localization"):  # a localising net is scored on the masks too (pixel metrics)
        datamodule.set_localization(getattr(model.net, "localization", False))
    check_selection_guard(cfg, run_cfg, data_cfg)
    warn_if_cropped_differently(getattr(model, "preprocessing", None), datamodule)
    return run_cfg, model, datamodule, data_cfg


def load_folder_for_eval(cfg: DictConfig, folder: Path) -> tuple[Detector, Any, DictConfig]:
    """``(detector, datamodule, data config)`` to score ``cfg.split`` with an exported model folder.

    The folder carries no data config, so ``cfg.data`` is required. The folder is loaded with
    ``cfg.backend`` (onnx | torch) on ``cfg.device``, its pinned ``cfg.digest`` honoured; the
    data take its input spec (size, mean, std); the selection guard reads the training data its
    record names; crops made unlike its training crops are warned about.
    """
    check_split(cfg.split)
    if cfg.get("data") is None:
        raise ValueError(
            f"ckpt_path={folder} is an exported model folder, which carries no data config: "
            "name the data to evaluate on with data=<name> (e.g. data=celebdf)"
        )
    if is_ensemble_folder(folder) or is_ensemble_run(folder):
        raise ValueError(
            f"ckpt_path={folder} is an ensemble: dfd.eval evaluates one model (a checkpoint or an exported "
            "model folder); dfd.ensemble reports an ensemble on split=test when it fits it"
        )
    batch_size = int(cfg.get("batch_size") or cfg.data.get("batch_size") or 32)
    detector = load_detector(
        folder, str(cfg.get("backend", "onnx")), batch_size, resolve_device(str(cfg.get("device", "auto"))),
        digest=cfg.get("digest"),
    )  # fmt: skip
    data_cfg = data_for_model(eval_data_config(cfg, None), detector.clip_len)
    datamodule = instantiate(data_cfg)
    datamodule.verify()
    datamodule.set_input_spec(detector.info.input_spec)
    trained_on = (detector.info.extra.get("training") or {}).get("data")
    check_selection_guard(cfg, None, data_cfg, trained_on=str(trained_on) if trained_on else None)
    warn_if_cropped_differently(detector.info.preprocessing, datamodule)
    return detector, datamodule, data_cfg


def warn_if_cropped_differently(trained: dict[str, Any] | None, datamodule: Any) -> dict[str, tuple]:
    """Warn, naming the settings, when the data was cropped unlike the model's training crops."""
    diff = differences(trained, datamodule.fingerprint() if trained else None)
    if diff:
        log.warning(
            "the model was trained on crops made differently from these (%s): expect lower scores than "
            "on data cropped as in training; re-run dfd.preprocess with the training settings",
            describe(diff),
        )
    return diff


def run_split(
    trainer: L.Trainer, model: L.LightningModule, datamodule: Any, split: str, **kwargs: Any
) -> list:
    """``trainer.validate`` for ``split=val``, ``trainer.test`` for ``split=test``."""
    return (trainer.validate if split == "val" else trainer.test)(model, datamodule=datamodule, **kwargs)


def score_split(cfg: DictConfig, ckpt_path: Path, data_run_cfg: DictConfig | None = None) -> dict[str, Any]:
    """Score ``cfg.split`` with the checkpoint; return its gathered ``logits``, ``labels``, ``video_idx``
    (and ``index``), each sample's ``video_id`` and ``method`` (arrays of str) and the model's ``unit`` (``frame``,
    or ``clip`` for a clip model, whose samples are clips).

    The data is ``cfg.data`` or, when that is null, the data of ``data_run_cfg`` (default: the
    checkpoint's own run), set to the model's unit (:func:`data_for_model`).
    """
    _, model, datamodule, _ = load_for_eval(cfg, ckpt_path, data_run_cfg)
    trainer: L.Trainer = instantiate(cfg.trainer, logger=False)
    run_split(trainer, model, datamodule, cfg.split, verbose=False)
    outputs: dict[str, Any] = dict(model.eval_outputs[cfg.split])
    add_sample_columns(outputs, datamodule, cfg.split)
    outputs["unit"] = "clip" if getattr(model.net, "clip_len", None) else "frame"
    return outputs


def add_sample_columns(outputs: dict[str, Any], datamodule: Any, split: str) -> dict[str, Any]:
    """Each scored sample's ``video_id`` and manipulation ``method`` (arrays of str, where the
    datamodule's sample table has them), added to ``outputs`` by its ``index``."""
    if "index" in outputs and hasattr(datamodule, "sample_table"):
        table = datamodule.sample_table(split)
        index = outputs["index"].numpy()
        outputs["video_id"] = table["video_id"].to_numpy()[index]
        if "method" in table:
            outputs["method"] = table["method"].fillna("").astype(str).to_numpy()[index]
    return outputs


def score_detector_split(
    detector: Detector, datamodule: Any, split: str
) -> tuple[dict[str, torch.Tensor], dict[str, float]]:
    """Score ``split`` of a set-up datamodule with ``detector``, batch by batch of its own loader
    (the samples, order and evaluation transform a checkpoint's evaluation reads); return the
    outputs a checkpoint's evaluation gathers (``logits``, ``labels``, ``video_idx``, ``index``,
    via the same :class:`~dfd.models.detector_module.EvalStore`) and its ``<split>/auc``, … at
    0.5. An exported folder holds no training loss, so there is no ``<split>/loss``: the report's
    ``frame/log_loss`` is the plain cross-entropy."""
    datamodule.prepare_data()  # as Lightning does before setup (generated data are made here)
    datamodule.setup("test" if split == "test" else "validate")
    loader = datamodule.test_dataloader() if split == "test" else datamodule.val_dataloader()
    store = EvalStore()
    for batch in loader:
        if "image" not in batch:
            raise ValueError(
                f"the {split} split gives {sorted(batch)} and no face crops ('image'): an exported folder "
                "scores face crops; give data=<a frame dataset>"
            )
        logits = torch.from_numpy(detector.logits(batch["image"].numpy()))
        store.update(logits, batch["label"], batch["video_idx"], batch.get("index"))
    outputs = store.compute()
    values = split_metrics(DetectorModule.probs(outputs["logits"]), outputs["labels"])
    return outputs, {f"{split}/{k}": float(v) for k, v in values.items()}


def metrics_file_name(data: str, split: str, threshold: Any) -> str:
    """``metrics.<data>.<split>.<threshold>.json``: evaluations with other choices never overwrite it."""
    return f"metrics.{data}.{split}.{threshold}.json"


def summary_lines(metrics_path: Path, out_dir: Path, summary: dict[str, Any]) -> str:
    """The closing lines of an evaluation: where its files are and the headline numbers."""
    lines = [f"metrics written to {metrics_path}", f"report in {out_dir}"]
    for level in ("frame", "video"):
        if level in summary:
            s = summary[level]
            name = summary.get("unit", "frame") if level == "frame" else level
            lines.append(
                f"{name}: AUC {s['at_0.5']['auc']:.4f} | at 0.5: acc {s['at_0.5']['acc']:.4f} F1 {s['at_0.5']['f1']:.4f}"
                f" | at {summary['threshold_choice']} ({s['threshold']:.3f}): acc {s['calibrated']['acc']:.4f}"
                f" F1 {s['calibrated']['f1']:.4f}"
            )
    return "\n".join(lines)


def __getattr__(name: str) -> Any:
    """Names that moved to another module answer here, with a warning (:mod:`dfd.core.moved`)."""
    return moved_name(__name__, name)
