"""The tasks of the evaluation stage's commands: each is what ``dfd <verb>`` runs once its config is composed."""

from __future__ import annotations

import json
import logging
from dataclasses import asdict
from pathlib import Path
from typing import Any

import lightning as L
import pandas as pd
import torch
from hydra import compose
from omegaconf import DictConfig, OmegaConf, open_dict
from torch.utils.data import DataLoader

from dfd.artifacts.runs import (
    check_run_data,
    data_root,
    load_model,
    resolve_checkpoint,
    run_config_for,
    run_dir_of,
)
from dfd.config.instantiate import instantiate, instantiate_loggers
from dfd.core.errors import DfdError
from dfd.data.transforms import build_eval_transform
from dfd.evaluation.protocol import (
    bootstrap,
    data_overrides,
    display,
    evaluation_entries,
    footnote,
    paired,
    path_overrides,
    present,
    table,
    versus_display,
)
from dfd.evaluation.scoring import (
    add_sample_columns,
    load_folder_for_eval,
    load_for_eval,
    metrics_file_name,
    run_split,
    score_detector_split,
    score_split,
    summary_lines,
)
from dfd.inference.export import folder_digest
from dfd.metrics.calibration import Calibration, load_calibration
from dfd.metrics.comparison import compare_outputs
from dfd.metrics.localization import localization_summary
from dfd.metrics.robustness import evaluate_robustness, robustness_markdown
from dfd.models.linear_probe import evaluate_probe, extract_embeddings, fit_linear_probe
from dfd.published.results import detector_note, published_row, training_experiment
from dfd.reports import plots
from dfd.reports.report import flatten_summary, write_report
from dfd.reports.tables import comparison_markdown, to_markdown, write_cross_dataset
from dfd.training.tasks import train

log = logging.getLogger(__name__)


def compare(cfg: DictConfig) -> dict[str, Any]:
    """Score both models (each a checkpoint or an exported model folder, such as one imported by
    ``dfd.import_weights``) and write the comparison."""
    L.seed_everything(cfg.seed, workers=True)
    paths = {k: model_path(cfg[f"ckpt_{k}"], f"ckpt_{k}") for k in ("a", "b")}
    # B is scored on A's data unless data=<name>; a folder carries no data config
    data_run = None if paths["a"].is_dir() else run_config_for(paths["a"])
    outputs = {k: score_model(cfg, path, data_run, key=f"ckpt_{k}") for k, path in paths.items()}
    # each run's own `confident` parameters, stored with its calibration (defaults without one)
    calibrations = {k: None if path.is_dir() else load_calibration(path, bool(cfg.get("allow_pickle")))
                    for k, path in paths.items()}  # fmt: skip
    confident = {k: cal.confident_strategy() if cal else None for k, cal in calibrations.items()}
    result = compare_outputs(
        outputs["a"], outputs["b"], cfg.n_boot, cfg.alpha, cfg.seed, cfg.video_aggregation,
        confident_a=confident["a"], confident_b=confident["b"],
    )  # fmt: skip
    result.update(ckpt_a=str(paths["a"]), ckpt_b=str(paths["b"]), split=cfg.split)
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "compare.json").write_text(json.dumps(result, indent=2))
    md = comparison_markdown(result)
    (out / "compare.md").write_text(md)
    print(md + f"\nwritten to {out}", flush=True)
    return result


def model_path(path: Any, key: str) -> Path:
    """A checkpoint file or an exported model folder, made absolute; else the error naming ``key``."""
    folder = Path(str(path)).expanduser()
    return folder.resolve() if folder.is_dir() else resolve_checkpoint(path, key=key)


def score_model(cfg: DictConfig, path: Path, data_run: DictConfig | None, key: str) -> dict[str, Any]:
    """:func:`score_split` for a checkpoint; for an exported folder, its detector on ``cfg.data`` (or
    ``data_run``'s data when ``data`` is null), with the same outputs (``video_id``, ``method``, ``unit``)."""
    if not path.is_dir():
        return score_split(cfg, path, data_run_cfg=data_run)
    if cfg.get("data") is None:
        if data_run is None:
            raise ValueError(
                f"{key}={path} is an exported model folder, which carries no data config: give data=<name>"
            )
        check_run_data(data_run.data, "the data run's config.yaml")  # a run folder names only dfd's data
        cfg = cfg.copy()
        with open_dict(cfg):
            cfg.data = data_run.data
    detector, datamodule, _ = load_folder_for_eval(cfg, path)
    outputs: dict[str, Any] = dict(score_detector_split(detector, datamodule, cfg.split)[0])
    add_sample_columns(outputs, datamodule, cfg.split)
    outputs["unit"] = detector.info.unit
    return outputs


def cross_eval(cfg: DictConfig) -> dict[str, Any]:
    """Evaluate the grid; return ``{metric: DataFrame}`` and write the tables."""
    if not cfg.checkpoints:
        raise ValueError("no checkpoints given: add +checkpoints.<trained_on>=<run>/checkpoints/best.ckpt")
    out = Path(cfg.out_dir)
    runs: dict[str, dict[str, float]] = {}
    results: dict[str, dict[tuple[str, str], float]] = {m: {} for m in cfg.metrics}
    for row, ckpt in cfg.checkpoints.items():
        for col in cfg.datasets:
            overrides = [
                f"data={col}",
                f"ckpt_path={ckpt}",
                f"split={cfg.split}",
                f"out_dir={out / f'{row}_on_{col}'}",
                # the same folders as this run (overrides such as paths.data_dir=... carry over)
                *(f"paths.{k}={cfg.paths[k]}" for k in ("root_dir", "data_dir", "log_dir")),
                *([f"batch_size={cfg.batch_size}"] if cfg.batch_size else []),
                *cfg.eval_overrides,
            ]
            log.info("cross_eval: %s on %s", row, col)
            metrics = evaluate(compose(config_name="eval", overrides=overrides))
            runs[f"{row}_on_{col}"] = metrics
            for m in cfg.metrics:
                if m not in metrics:
                    raise KeyError(f"metric {m!r} is not among dfd.eval's keys: {sorted(metrics)}")
                results[m][(str(row), str(col))] = metrics[m]
    out.mkdir(parents=True, exist_ok=True)
    checkpoints = {
        str(row): str(Path(str(ckpt)).expanduser().resolve()) for row, ckpt in cfg.checkpoints.items()
    }
    record = {"checkpoints": checkpoints, "datasets": list(cfg.datasets), "split": cfg.split, "runs": runs}
    (out / "cross_eval.json").write_text(json.dumps(record, indent=2, sort_keys=True))
    frames = {m: write_cross_dataset(res, out, metric=m.replace("/", "_")) for m, res in results.items()}
    # columns <dataset>/<method>: each method's fakes against the dataset's reals, at frame level
    for key in METHOD_METRICS:
        by_method = method_results(runs, cfg.checkpoints, cfg.datasets, key)
        if by_method:
            frames[f"frame/by_method/{key}"] = write_cross_dataset(
                by_method, out, metric=f"by_method_frame_{key}"
            )
    for m, frame in frames.items():
        print(f"{m}\n{frame.to_string(float_format=lambda v: f'{v:.4f}')}\n", flush=True)
    return frames


#: The by-method matrices written: AUC and AP of each method's fakes against all reals, and the
#: accuracy on those samples at the calibrated threshold.
METHOD_METRICS = ("auc", "ap", "acc")


def method_results(
    runs: dict[str, dict[str, float]], rows: Any, columns: Any, metric: str = "auc"
) -> dict[tuple[str, str], float]:
    """``{(trained on, "<dataset>/<method>"): frame <metric>}`` from every cell's by-method metrics."""
    out = {}
    prefix, suffix = "frame/by_method/", f"/{metric}"
    for row in rows:
        for col in columns:
            for key, value in runs[f"{row}_on_{col}"].items():
                if key.startswith(prefix) and key.endswith(suffix):
                    out[(str(row), f"{col}/{key[len(prefix) : -len(suffix)]}")] = value
    return out


def linear_probe(cfg: DictConfig) -> dict[str, dict[str, float]]:
    """Fit and score the probes; return ``{"<plain|smote>/<split>": metrics}``."""
    L.seed_everything(cfg.seed)
    data_cfg = cfg.data
    if cfg.ckpt_path:
        ckpt = resolve_checkpoint(cfg.ckpt_path)
        model = load_model(ckpt, allow_pickle=cfg.allow_pickle)
        if cfg.data_from_run:
            data_cfg = run_config_for(ckpt).data
            check_run_data(data_cfg, run_dir_of(ckpt) / "config.yaml")  # a run folder names only dfd's data
    else:
        model = instantiate(cfg.model, loss=instantiate(cfg.loss))
    datamodule = instantiate(data_cfg)
    datamodule.verify()
    spec = model.net.input_spec
    datamodule.set_input_spec(spec)
    datamodule.prepare_data()
    datamodule.setup("fit")
    print(f"Training split class counts: {datamodule.class_counts('train')}")

    embeddings = {}
    for split in ("train", "val", "test"):
        dataset = datamodule.datasets[split]
        # every split, train included, is embedded without augmentation
        dataset.transform, dataset.label_transforms = build_eval_transform(spec), {}
        loader = DataLoader(
            dataset, batch_size=datamodule.batch_size, shuffle=False, num_workers=datamodule.num_workers
        )
        embeddings[split] = extract_embeddings(model.net, loader, device=cfg.device)

    x_train, y_train = embeddings["train"]
    variants = {"plain": False, **({"smote": True} if cfg.probe.smote else {})}
    results: dict[str, dict[str, float]] = {}
    for name, smote in variants.items():
        probe = fit_linear_probe(
            x_train, y_train, smote=smote, k_neighbors=cfg.probe.k_neighbors, c=cfg.probe.c, seed=cfg.seed
        )
        for split in ("val", "test"):
            results[f"{name}/{split}"] = vars(evaluate_probe(probe, *embeddings[split]))
    header = f"{'probe/split':<12}" + "".join(f"{k:>18}" for k in next(iter(results.values())))
    print(header)
    for key, metrics in results.items():
        print(f"{key:<12}" + "".join(f"{v:>18.4f}" for v in metrics.values()))
    out = Path(cfg.paths.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "linear_probe.json").write_text(json.dumps(results, indent=2))
    return results


def robustness(cfg: DictConfig) -> pd.DataFrame:
    """Run the suite for ``cfg.ckpt_path``; return the table (one row per perturbation level)."""
    L.seed_everything(cfg.seed, workers=True)
    ckpt_path = resolve_checkpoint(cfg.ckpt_path)
    _, model, datamodule, _ = load_for_eval(cfg, ckpt_path)
    datamodule.setup("test" if cfg.split == "test" else "validate")
    loader = datamodule.test_dataloader() if cfg.split == "test" else datamodule.val_dataloader()
    corruptions = [instantiate(c) for c in (cfg.get("corruptions") or {}).values() if c is not None]
    attacks = [instantiate(a) for a in (cfg.get("attacks") or {}).values() if a is not None]
    device = cfg.device if cfg.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")
    spec = model.net.input_spec
    table = evaluate_robustness(
        model.net, loader, spec.mean, spec.std, corruptions, attacks,
        device=device, max_batches=cfg.get("max_batches"), seed=cfg.seed,
    )  # fmt: skip

    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    table.to_csv(out / "robustness.csv", index=False)
    md = f"# Robustness of `{ckpt_path}` ({cfg.split} split)\n\n" + robustness_markdown(table, cfg.metric)
    (out / "robustness.md").write_text(md)
    clean = float(table.loc[table.perturbation == "clean", cfg.metric].iloc[0])
    curves = {
        name: (group.level.tolist(), group[cfg.metric].tolist())
        for name, group in table[table.perturbation != "clean"].groupby("perturbation", sort=False)
    }
    plots.save(plots.severity_figure(curves, clean, ylabel=cfg.metric), out / "robustness.png")
    print(md + f"\nwritten to {out}", flush=True)
    return table


def evaluate(cfg: DictConfig) -> dict[str, float]:
    """Evaluate ``cfg.ckpt_path`` (a checkpoint, or an exported model folder with ``data=<name>``) on
    ``cfg.split``; write the report and metrics to ``cfg.out_dir``."""
    L.seed_everything(cfg.seed, workers=True)
    if Path(str(cfg.ckpt_path)).expanduser().is_dir():
        return evaluate_folder(cfg, Path(str(cfg.ckpt_path)).expanduser().resolve())
    ckpt_path = resolve_checkpoint(cfg.ckpt_path)
    if cfg.get("digest") is not None:
        raise ValueError(
            f"digest={cfg.digest} pins an exported folder (dfd.export prints its digest), and {ckpt_path} is a "
            "training checkpoint: evaluate the exported folder, or drop digest"
        )
    _, model, datamodule, data_cfg = load_for_eval(cfg, ckpt_path)

    loggers = instantiate_loggers(cfg.get("logger"))
    trainer: L.Trainer = instantiate(cfg.trainer, logger=loggers or False)
    results = run_split(trainer, model, datamodule, cfg.split)[0]
    metrics = {k: float(v) for k, v in results.items()}

    calibration = load_calibration(ckpt_path, allow_pickle=bool(cfg.get("allow_pickle")))
    if calibration is None:
        log.warning("%s holds no calibration: the calibrated column uses threshold 0.5", ckpt_path)
    if not trainer.is_global_zero:
        return metrics
    writer = next((lg.experiment for lg in loggers if hasattr(lg.experiment, "add_figure")), None)
    run_dir = run_dir_of(ckpt_path)
    return write_evaluation(
        cfg, model.eval_outputs[cfg.split], metrics, calibration, data_cfg, datamodule.sample_table(cfg.split),
        record={"checkpoint": str(ckpt_path)}, name=run_dir.name, run_dir=run_dir, writer=writer,
        unit="clip" if getattr(model.net, "clip_len", None) else "frame",
        pixels=getattr(model, "pixel_outputs", {}).get(cfg.split),
    )  # fmt: skip


def evaluate_folder(cfg: DictConfig, folder: Path) -> dict[str, float]:
    """:func:`evaluate` for an exported model folder: the split scored with its
    :class:`~dfd.inference.detector.Detector` (``cfg.backend``), the thresholds from its calibration
    (0.5 when it has none, as a folder imported from a published checkpoint)."""
    detector, datamodule, data_cfg = load_folder_for_eval(cfg, folder)
    outputs, metrics = score_detector_split(detector, datamodule, cfg.split)
    calibration = detector.info.calibration
    if calibration is None:
        log.warning(
            "%s holds no calibration (a published checkpoint's import, or an export of a run without one): "
            "the calibrated column uses threshold 0.5",
            folder,
        )
    loggers = instantiate_loggers(cfg.get("logger"))
    writer = next((lg.experiment for lg in loggers if hasattr(lg.experiment, "add_figure")), None)
    record = {"checkpoint": str(folder), "model": detector.info.name, "digest": folder_digest(folder),
              "backend": str(cfg.get("backend", "onnx"))}  # fmt: skip
    return write_evaluation(
        cfg, outputs, metrics, calibration, data_cfg, datamodule.sample_table(cfg.split),
        record=record, name=folder.name, writer=writer, unit=detector.info.unit,
    )  # fmt: skip


def write_evaluation(
    cfg: DictConfig,
    outputs: dict[str, torch.Tensor],
    metrics: dict[str, float],
    calibration: Calibration | None,
    data_cfg: DictConfig,
    samples: pd.DataFrame,
    record: dict[str, str],
    name: str,
    run_dir: Path | None = None,
    writer: Any = None,
    unit: str = "frame",
    pixels: dict[str, torch.Tensor] | None = None,
) -> dict[str, float]:
    """The end of every evaluation: the report (figures, ``summary.json``, ``report.md``,
    ``predictions.csv``) and ``metrics.<data>.<split>.<threshold>.json`` (``record``, the data
    config, the calibration, the ``unit`` a sample is (frame, or clip for a clip model) and
    ``metrics`` with the summary's added) in ``cfg.out_dir``; returns the metrics.

    ``pixels``: a localising net's per-crop pixel counts on the crops with a known manipulation
    mask (:attr:`~dfd.models.detector_module.DetectorModule.pixel_outputs`): the report gets their
    pixel AUC and IoU, overall and per manipulation method."""
    data_name = data_root(data_cfg).name
    localization = None
    if pixels is not None:
        rows = samples.iloc[pixels["index"].numpy()]
        localization = localization_summary(pixels["counts"], rows["method"].tolist(), rows["label"].tolist())
    out = Path(cfg.out_dir)
    threshold = cfg.get("threshold", "f1")
    summary = write_report(
        outputs,
        out,
        calibration,
        threshold=threshold,
        video_aggregation=cfg.get("video_aggregation"),
        run_dir=run_dir,
        tb_writer=writer,
        title=f"{name}: {data_name} {cfg.split}",
        meta={**record, "data": data_name, "split": cfg.split},
        samples=samples,
        unit=unit,
        localization=localization,
    )
    metrics.update(flatten_summary(summary))
    payload = {
        **record,
        "data": OmegaConf.to_container(data_cfg, resolve=True),
        "split": cfg.split,
        "unit": unit,
        "threshold": str(threshold),
        "calibration": calibration.to_dict() if calibration else None,
        "metrics": metrics,
    }
    path = out / metrics_file_name(data_name, cfg.split, threshold)
    path.write_text(json.dumps(payload, indent=2, sort_keys=True))
    print(summary_lines(path, out, summary), flush=True)
    return metrics


def train_run(cfg: DictConfig, out: Path) -> Path:
    """Train the protocol's model in ``out/train`` with the training task, in this process, from the
    ``train`` config composed with the protocol's overrides (after the experiment that trains its
    ``protocol.detector``, :func:`dfd.published.results.training_experiment`); return its best checkpoint."""
    run = out / "train"
    detector = cfg.protocol.get("detector")
    overrides = [
        *(training_experiment(str(detector)) if detector else []),
        *cfg.protocol.train,
        *cfg.train_overrides,
        *path_overrides(cfg),
        f"paths.output_dir={run}",
        f"seed={cfg.seed}",
    ]
    log.info("protocol %s: dfd train %s", cfg.protocol.name, " ".join(overrides))
    train_cfg = compose(config_name="train", overrides=overrides)
    strategy = str(train_cfg.trainer.get("strategy", "auto"))
    if "ddp" in strategy and "spawn" not in strategy:
        raise DfdError(
            f"the training strategy {strategy!r} relaunches the command in every rank, which would run the whole "
            "protocol there: train with `dfd train` first and give the protocol its ckpt_path=<best.ckpt>"
        )
    train(train_cfg)
    best = run / "checkpoints" / "best.ckpt"
    if not best.is_file():
        raise RuntimeError(
            f"training for protocol {cfg.protocol.name} saved no best checkpoint; its log: {run}"
        )
    return best


def run_protocol(cfg: DictConfig) -> dict[str, Any]:
    """Train (unless ``ckpt_path``), evaluate every present dataset (and ``published_path``, the
    published detector, on the same ones), write ``protocol.md``/``.json``/``.csv``."""
    out = Path(str(cfg.out_dir))
    out.mkdir(parents=True, exist_ok=True)
    entries = evaluation_entries(cfg.protocol)  # a malformed entry fails before training
    detector = cfg.protocol.get("detector")
    published = published_row(str(detector), cfg.protocol.name) if detector else None
    reference = Path(str(cfg.published_path)).expanduser().resolve() if cfg.get("published_path") else None
    if reference is not None and not reference.exists():
        raise FileNotFoundError(
            f"published_path={cfg.published_path}: no such folder or checkpoint; import the published detector "
            "with python -m dfd.import_weights (or dfd.weights get) and give its folder"
        )
    ckpt = Path(str(cfg.ckpt_path)).expanduser() if cfg.get("ckpt_path") else train_run(cfg, out)
    results: dict[str, dict[str, float]] = {}
    versus: dict[str, dict[str, Any]] = {}
    skipped: dict[str, str] = {}
    n_boot, seed, alpha = int(cfg.n_boot), int(cfg.seed), float(cfg.get("alpha", 0.05))
    for entry in entries:
        why = present(cfg, entry)
        if why:
            skipped[entry.name] = why
            print(f"skipped {entry.name}: {why}", flush=True)
            continue
        log.info("protocol %s: evaluating on %s", cfg.protocol.name, entry.name)
        common = [*data_overrides(cfg, entry), f"split={cfg.protocol.split}",
                  *cfg.protocol.get("eval_overrides", []), *cfg.eval_overrides]  # fmt: skip
        metrics = evaluate(
            compose(
                config_name="eval", overrides=[f"ckpt_path={ckpt}", f"out_dir={out / entry.name}", *common]
            )
        )
        metrics.update(bootstrap(out / entry.name / "predictions.csv", n_boot, seed))
        results[entry.name] = metrics
        if reference is not None:
            ref_out = out / entry.name / "published"
            evaluate(
                compose(
                    config_name="eval", overrides=[f"ckpt_path={reference}", f"out_dir={ref_out}", *common]
                )
            )
            versus[entry.name] = paired(
                out / entry.name / "predictions.csv", ref_out / "predictions.csv", n_boot, alpha, seed
            )
    frame = table(results, published, names=[e.name for e in entries])
    frame.to_csv(out / "protocol.csv", index=False)
    text = protocol_markdown(cfg, ckpt, frame, published, versus, skipped, reference)
    (out / "protocol.md").write_text(text + "\n")
    record = {"protocol": OmegaConf.to_container(cfg.protocol, resolve=True), "checkpoint": str(ckpt),
              "results": results, "skipped": skipped,
              "published": asdict(published) if published else None,
              "published_path": str(reference) if reference else None, "versus_published": versus}  # fmt: skip
    (out / "protocol.json").write_text(json.dumps(record, indent=2, default=float))
    print(text, flush=True)
    return record


def protocol_markdown(
    cfg: DictConfig,
    ckpt: Path,
    frame: pd.DataFrame,
    published: Any,
    versus: dict[str, dict[str, Any]],
    skipped: dict[str, str],
    reference: Path | None,
) -> str:
    """``protocol.md``: the table (dfd's frame and video AUC beside the published number), the
    comparison with the published detector where it was evaluated, the skipped datasets and the citation."""
    detector = cfg.protocol.get("detector")
    lines = [
        f"# Protocol {cfg.protocol.name}", "", f"checkpoint: `{ckpt}`" + (f" (detector: {detector})" if detector else ""),
        f"split: {cfg.protocol.split}; intervals: 95% paired stratified bootstrap ({cfg.n_boot} replicates), per dataset "
        "and per manipulation method (its fakes against every real); video score: mean of its frames' probabilities",
        "", to_markdown(display(frame), fmt=""),
    ]  # fmt: skip
    if published is not None and published.values:
        lines += [footnote(published), ""]
    elif detector:
        why = published.note if published is not None else detector_note(str(detector))
        lines += [f"No published numbers for {detector} under {cfg.protocol.name}: {why}", ""]
    if versus:
        lines += [
            f"## Against the published detector, measured by dfd (`{reference}`)", "",
            "On the same samples: its AUC with a 95% paired bootstrap interval, dfd's AUC minus it with the interval of "
            "the difference (the same replicates), and DeLong's two-sided p-value.", "",
            to_markdown(versus_display(versus), fmt=""),
        ]  # fmt: skip
    lines += [f"- skipped {k}: {v}" for k, v in skipped.items()]
    return "\n".join(lines)
