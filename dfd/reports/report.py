"""The evaluation report of one split: metrics at 0.5 beside the calibrated threshold, and figures.

:func:`write_report` takes a split's gathered outputs (``DetectorModule.eval_outputs[stage]``:
``logits``, ``labels``, ``video_idx``) and the validation :class:`Calibration`, and writes to
``out_dir``:

- ``summary.json``: frame and video metrics at 0.5, at the calibrated threshold, and the change;
- ``report.md``: the same as tables, with the figures;
- ``predictions.csv``: one row per sample (index in the split, video, label, probabilities and
  decisions), to browse mistakes;
- PNG figures: ``roc``, ``pr``, ``confusion_frame``, ``confusion_video``, ``threshold_analysis``,
  ``reliability`` and, given the run folder, ``learning_curves`` and ``training_metrics``.

A clip model (a temporal net) scores clips of consecutive crops: its samples are clips, and the
report names that unit (``unit="clip"``: "Clip level", "clip thresholds") where a frame model's
says "frame"; the keys of ``summary.json`` and of the flat metrics (``frame/auc``, …) stay the
same for both, and ``summary.json`` records the ``unit``.

"Calibrated" means: decisions at the chosen fitted threshold (frame thresholds for frames, video
thresholds for videos) and log-loss of the temperature-scaled probabilities (unscaled, temperature
1, when validation supported no fit; the report says why). AUC, AP and EER do not depend on a
threshold, so they are equal in both columns.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from dfd.metrics.calibration import Calibration, resolve_threshold
from dfd.metrics.detection import (
    METRIC_KEYS,
    ConfidentStrategy,
    aggregate_video,
    detection_metrics,
    fake_logit,
    log_loss,
)
from dfd.reports import plots

#: Rows of the markdown tables (the counts are in the confusion figures and summary.json).
TABLE_KEYS = ("auc", "ap", "eer", "log_loss", "acc", "precision", "recall", "f1", "real_acc", "fake_acc")


def _level(probs: Tensor, probs_t: Tensor, labels: Tensor, threshold: float) -> dict[str, dict[str, float]]:
    at_half = detection_metrics(probs, labels, 0.5)
    cal = detection_metrics(probs, labels, threshold)
    cal["log_loss"] = log_loss(probs_t, labels)
    change = {k: cal[k] - at_half[k] for k in METRIC_KEYS}
    return {"at_0.5": at_half, "calibrated": cal, "change": change, "threshold": threshold}


#: A calibrated log-loss this much worse than the raw one is flagged in the report.
LOG_LOSS_WORSE = 1.1


def compute_summary(
    outputs: Mapping[str, Tensor],
    calibration: Calibration | None,
    threshold: str | float = "f1",
    video_aggregation: str | None = None,
    samples: pd.DataFrame | None = None,
    unit: str = "frame",
) -> tuple[dict[str, Any], dict[str, Tensor]]:
    """Metrics of a split at 0.5 and calibrated, by method when ``samples`` (one row per sample
    with its ``method``, :meth:`FrameDataset.sample_table`) is given, plus the arrays the
    figures need. ``unit`` is what one sample is (``frame``, or ``clip`` for a clip model)."""
    if "logits" in outputs:
        z = fake_logit(outputs["logits"])
    else:  # probabilities only (e.g. an external detector): temperature cannot be applied
        z = torch.logit(outputs["probs"].detach().float().cpu().flatten().clamp(1e-7, 1 - 1e-7))
    labels = outputs["labels"].detach().flatten().long().cpu()
    fitted = calibration is not None and calibration.temperature_fitted
    temperature = calibration.temperature if fitted else 1.0
    agg = video_aggregation or (calibration.video_aggregation if calibration else "mean")
    confident = calibration.confident_strategy() if calibration else ConfidentStrategy()
    probs, probs_t = torch.sigmoid(z), torch.sigmoid(z / temperature)
    choice = threshold if calibration is not None else 0.5
    summary: dict[str, Any] = {
        "unit": unit,
        "threshold_choice": str(choice),
        "temperature": temperature,
        "temperature_fitted": fitted,
        "temperature_note": calibration.temperature_note
        if calibration
        else "no calibration in the checkpoint",
        "video_aggregation": agg,
        "calibration": calibration.to_dict() if calibration else None,
        "n_samples": int(labels.numel()),
        "frame": _level(probs, probs_t, labels, resolve_threshold(choice, calibration, "frame")),
        "warnings": [],
    }
    arrays = {"z": z, "probs": probs, "probs_t": probs_t, "labels": labels}
    video_idx = outputs.get("video_idx")
    if video_idx is not None:
        vp, vl, ids = aggregate_video(probs, labels, video_idx, agg, confident)  # type: ignore[arg-type]
        vpt, _, _ = aggregate_video(probs_t, labels, video_idx, agg, confident)  # type: ignore[arg-type]
        summary["n_videos"] = int(ids.numel())
        summary["video"] = _level(vp, vpt, vl, resolve_threshold(choice, calibration, "video", agg))
        arrays.update(video_probs=vp, video_labels=vl, video_idx=video_idx.detach().flatten().long().cpu())
    for level in ("frame", "video"):
        raw, scaled = (
            (summary[level]["at_0.5"]["log_loss"], summary[level]["calibrated"]["log_loss"])
            if level in summary
            else (0, 0)
        )
        if fitted and scaled > LOG_LOSS_WORSE * raw:
            summary["warnings"].append(
                f"{unit if level == 'frame' else level} log-loss is worse after temperature scaling ({scaled:.4f} against {raw:.4f}): the "
                f"temperature {temperature:.3g} fitted on validation does not carry over to this split"
            )
    if samples is not None and "method" in samples:
        summary["by_method"] = by_method(arrays, samples, summary, agg, confident)
    return summary, arrays


def _method_scores(
    probs: Tensor, labels: Tensor, methods: np.ndarray, threshold: float
) -> dict[str, dict[str, float]]:
    """AUC, AP and accuracy of each method's fakes against all reals of the split."""
    labels_np = labels.numpy()
    real = labels_np == 0
    out: dict[str, dict[str, float]] = {}
    for method in sorted({m for m, y in zip(methods, labels_np, strict=True) if y == 1}):
        fake = (methods == method) & (labels_np == 1)
        keep = torch.from_numpy(real | fake)
        m = detection_metrics(probs[keep], labels[keep], threshold)
        out[str(method)] = {"n_fake": int(fake.sum()), "n_real": int(real.sum()), "auc": m["auc"], "ap": m["ap"],
                            "acc": m["acc"], "fake_acc": m["fake_acc"]}  # fmt: skip
    return out


def by_method(
    arrays: Mapping[str, Tensor],
    samples: pd.DataFrame,
    summary: Mapping[str, Any],
    aggregation: str,
    confident: ConfidentStrategy,
) -> dict[str, dict[str, dict[str, float]]]:
    """Per manipulation method, frame and video level: AUC and AP of that method's fakes against all
    reals of the split, accuracy on the same samples and the fakes' detection rate (``fake_acc``),
    at the calibrated threshold."""
    methods = samples["method"].fillna("").astype(str).to_numpy()
    if len(methods) != arrays["labels"].numel():
        raise ValueError(f"{len(methods)} sample rows for {arrays['labels'].numel()} scored samples")
    out = {"frame": _method_scores(arrays["probs"], arrays["labels"], methods, summary["frame"]["threshold"])}
    if "video_idx" in arrays:
        vp, vl, ids = aggregate_video(
            arrays["probs"], arrays["labels"], arrays["video_idx"], aggregation, confident
        )  # type: ignore[arg-type]
        first = pd.Series(methods).groupby(arrays["video_idx"].numpy()).first()
        out["video"] = _method_scores(
            vp, vl, first.loc[ids.numpy()].to_numpy(), summary["video"]["threshold"]
        )
    return out


def scalar_metrics(summary: dict[str, Any], prefix: str) -> dict[str, float]:
    """Flat ``<prefix>/…`` scalars of a summary for loggers, beside the module's own metrics:
    frame ``eer``, ``log_loss``, ``real_acc``, ``fake_acc``; ``video_*`` at 0.5; and
    ``calibrated_*`` / ``video_calibrated_*`` at the calibrated threshold."""
    out: dict[str, float] = {}
    frame, video = summary["frame"], summary.get("video")
    for k in ("eer", "log_loss", "real_acc", "fake_acc"):
        out[f"{prefix}/{k}"] = frame["at_0.5"][k]
    for k in ("acc", "precision", "recall", "f1", "real_acc", "fake_acc", "log_loss"):
        out[f"{prefix}/calibrated_{k}"] = frame["calibrated"][k]
    out[f"{prefix}/calibrated_threshold"] = frame["threshold"]
    if video:
        for k in ("auc", "ap", "eer", "log_loss", "acc", "precision", "recall", "f1"):
            out[f"{prefix}/video_{k}"] = video["at_0.5"][k]
        for k in ("acc", "f1"):
            out[f"{prefix}/video_calibrated_{k}"] = video["calibrated"][k]
    return {k: float(v) for k, v in out.items()}


def flatten_summary(summary: dict[str, Any]) -> dict[str, float]:
    """``frame/auc``, ``video/f1``, … at 0.5, ``frame/calibrated/f1``, … at the calibrated threshold, and
    ``frame/by_method/<method>/auc``, … per manipulation method; with a localisation section,
    ``pixel/pixel_auc``, ``pixel/pixel_iou`` and ``pixel/by_method/<method>/pixel_auc``, …"""
    out: dict[str, float] = {}
    for level in ("frame", "video"):
        if level not in summary:
            continue
        for key, value in summary[level]["at_0.5"].items():
            out[f"{level}/{key}"] = float(value)
        for key, value in summary[level]["calibrated"].items():
            out[f"{level}/calibrated/{key}"] = float(value)
        out[f"{level}/calibrated/threshold"] = float(summary[level]["threshold"])
        for method, values in summary.get("by_method", {}).get(level, {}).items():
            for key in ("auc", "ap", "acc", "fake_acc"):
                out[f"{level}/by_method/{method}/{key}"] = float(values[key])
    loc = summary.get("localization") or {}
    for key in ("pixel_auc", "pixel_iou") if loc else ():
        out[f"pixel/{key}"] = float(loc[key])
        for method, values in loc.get("by_method", {}).items():
            out[f"pixel/by_method/{method}/{key}"] = float(values[key])
    return out


def _json_safe(x: Any) -> Any:
    """NaN (undefined metric) becomes null: strict JSON has no NaN."""
    if isinstance(x, dict):
        return {str(k): _json_safe(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_json_safe(v) for v in x]
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def _table(level: dict[str, Any], choice: str) -> str:
    lines = [
        f"| metric | at 0.5 | calibrated ({choice}, t = {level['threshold']:.4f}) | change |",
        "|---|---:|---:|---:|",
    ]
    for k in TABLE_KEYS:
        a, c, d = level["at_0.5"][k], level["calibrated"][k], level["change"][k]
        lines.append(f"| {k} | {a:.4f} | {c:.4f} | {'n/a' if math.isnan(d) else f'{d:+.4f}'} |")
    return "\n".join(lines)


def _markdown(summary: dict[str, Any], figures: list[str], title: str) -> str:
    choice = summary["threshold_choice"]
    cal = summary["calibration"]
    unit = summary.get("unit", "frame")
    parts = [f"# {title}", ""]
    for key, value in summary.get("meta", {}).items():
        parts.append(f"- {key}: `{value}`")
    parts.append(f"- samples ({unit}s): {summary['n_samples']}, videos: {summary.get('n_videos', 'n/a')}")
    if cal:
        th = ", ".join(f"{k} {v:.4f}" for k, v in cal["thresholds"].items())
        parts.append(f"- calibration fitted on validation (epoch {cal.get('epoch')}): {unit} thresholds {th}")
        if summary["temperature_fitted"]:
            parts.append(
                f"- temperature {summary['temperature']:.3f} (val NLL {cal['val']['nll']:.4f} -> "
                f"{cal['val']['nll_temperature']:.4f}, ECE {cal['val']['ece']:.4f} -> {cal['val']['ece_temperature']:.4f})"
                + (f"; {summary['temperature_note']}" if summary["temperature_note"] else "")
            )
        else:  # the temperature used is still a number: 1, with why none was fitted
            parts.append(
                f"- **temperature {summary['temperature']:.3f} (not fitted: {summary['temperature_note']})**"
            )
        if not cal["precision_reached"]:
            parts.append(f"- precision target {cal['precision_target']} was not reached on validation")
    else:
        parts.append("- no calibration in the checkpoint: the calibrated column uses 0.5")
    parts += [f"- **warning**: {w}" for w in summary.get("warnings", [])]
    scaling = (
        "log-loss after temperature scaling"
        if summary["temperature_fitted"]
        else f"log-loss unscaled (temperature {summary['temperature']:.3f}, not fitted)"
    )
    parts += [
        "",
        f"Calibrated: decisions at the threshold fitted on validation, {scaling}. "
        "AUC, AP and EER do not depend on a threshold.",
        "",
        f"## {unit.capitalize()} level",
        "",
        _table(summary["frame"], choice),
    ]
    if "video" in summary:
        parts += ["", f"## Video level ({summary['video_aggregation']} of {unit} probabilities)", ""]
        parts.append(_table(summary["video"], choice))
    if summary.get("by_method"):
        parts += ["", "## By manipulation method", "",
                  "Each method's fakes against all reals of the split; acc on those samples and fake_acc (the "
                  "fakes' detection rate) at the calibrated threshold.", ""]  # fmt: skip
        parts.append(method_table(summary["by_method"], unit))
    if summary.get("localization"):
        parts += [
            "",
            "## Localisation (manipulation masks)",
            "",
            localization_markdown(summary["localization"]),
        ]
    parts += ["", "## Figures", ""]
    parts += [f"![{Path(f).stem}]({f})" for f in figures]
    return "\n".join(parts) + "\n"


def localization_markdown(loc: Mapping[str, Any]) -> str:
    """The localisation section: pixel AUC and IoU of the predicted masks against the real
    manipulation masks, over the crops whose mask is known, overall and per method."""

    def num(v: Any) -> str:
        return "n/a" if v is None or not math.isfinite(float(v)) else f"{float(v):.4f}"

    lines = [
        "Predicted masks against the dataset's manipulation masks (FF++/DFD mask videos, cut like the crops), "
        "every pixel of every crop whose mask is known (reals: all clean; fakes without a mask are left out). "
        "A method's row pairs its fake crops with all reals.",
        "",
        "| crops | count | pixel AUC | pixel IoU |",
        "|---|---:|---:|---:|",
        f"| all | {loc['crops']} | {num(loc['pixel_auc'])} | {num(loc['pixel_iou'])} |",
    ]
    for method, m in (loc.get("by_method") or {}).items():
        lines.append(f"| {method} | {m['crops']} fakes | {num(m['pixel_auc'])} | {num(m['pixel_iou'])} |")
    return "\n".join(lines)


def method_table(results: Mapping[str, Mapping[str, Mapping[str, float]]], unit: str = "frame") -> str:
    """Markdown: one row per method, frame (``unit``: clip for a clip model) and (when present) video
    AUC, AP, acc and fake_acc."""
    levels = [lv for lv in ("frame", "video") if lv in results]
    head = (
        "| method | fakes | "
        + " | ".join(
            f"{unit if lv == 'frame' else lv} {k}" for lv in levels for k in ("auc", "ap", "acc", "fake_acc")
        )
        + " |"
    )
    lines = [head, "|---|---:|" + "---:|" * 4 * len(levels)]
    for method, frame in results["frame"].items():
        cells = [
            f"{results[lv].get(method, {}).get(k, math.nan):.4f}"
            for lv in levels
            for k in ("auc", "ap", "acc", "fake_acc")
        ]
        lines.append(f"| {method} | {frame['n_fake']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_report(
    outputs: Mapping[str, Tensor],
    out_dir: str | Path,
    calibration: Calibration | None = None,
    threshold: str | float = "f1",
    video_aggregation: str | None = None,
    run_dir: str | Path | None = None,
    tb_writer: Any = None,
    title: str = "dfd evaluation report",
    meta: Mapping[str, Any] | None = None,
    samples: pd.DataFrame | None = None,
    extra_columns: Mapping[str, np.ndarray] | None = None,
    unit: str = "frame",
    localization: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Write the report of one split to ``out_dir`` and return its summary.

    ``tb_writer`` is anything with ``add_figure(tag, figure, close=...)``, such as the
    ``SummaryWriter`` of Lightning's ``TensorBoardLogger.experiment``. ``run_dir`` is searched
    for TensorBoard events or ``metrics.csv`` to draw the learning curves. ``samples`` (one row
    per sample of the split, in dataset order: video id, crop path, method, split) gives
    ``predictions.csv`` its evidence columns and the summary its results by method; the
    outputs' ``index`` selects its rows. ``extra_columns`` (one value per scored sample, in the
    outputs' order) are appended to ``predictions.csv``. ``unit`` names what one sample is
    (``frame``; ``clip`` for a clip model) in the report's headings and figures. ``localization``
    (:func:`dfd.metrics.localization.localization_summary`: a localising net's pixel AUC and IoU
    against the real manipulation masks) becomes its own section.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if samples is not None and "index" in outputs:
        samples = samples.iloc[outputs["index"].numpy()].reset_index(drop=True)
    summary, a = compute_summary(outputs, calibration, threshold, video_aggregation, samples, unit)
    summary["meta"] = {k: str(v) for k, v in (meta or {}).items()}
    if localization is not None:
        summary["localization"] = dict(localization)
    choice = summary["threshold_choice"]
    ft = summary["frame"]["threshold"]

    def cm(level: dict[str, Any], col: str) -> np.ndarray:
        m = level[col]
        return np.array([[m["tn"], m["fp"]], [m["fn"], m["tp"]]])

    figures: dict[str, Any] = {}
    two_classes = a["labels"].unique().numel() == 2
    if two_classes:
        curves = {unit: (a["probs"], a["labels"])}
        if "video" in summary and a["video_labels"].unique().numel() == 2:
            curves["video"] = (a["video_probs"], a["video_labels"])
        figures["roc"] = plots.roc_figure(curves)
        figures["pr"] = plots.pr_figure(curves)
        marks = {"0.5": 0.5}
        if calibration is not None:
            marks.update({f"{k}": v for k, v in calibration.thresholds.items()})
        figures["threshold_analysis"] = plots.threshold_figure(a["probs"], a["labels"], marks)
    figures["confusion_frame"] = plots.confusion_figure(
        {f"{unit}s, threshold 0.5": cm(summary["frame"], "at_0.5"), f"{unit}s, {choice} ({ft:.3f})": cm(summary["frame"], "calibrated")}
    )  # fmt: skip
    if "video" in summary:
        vt = summary["video"]["threshold"]
        figures["confusion_video"] = plots.confusion_figure(
            {"videos, threshold 0.5": cm(summary["video"], "at_0.5"), f"videos, {choice} ({vt:.3f})": cm(summary["video"], "calibrated")}
        )  # fmt: skip
    reliability = {"raw": a["probs"]}
    if summary["temperature_fitted"]:
        reliability[f"temperature {summary['temperature']:.2f}"] = a["probs_t"]
    figures["reliability"] = plots.reliability_figure(a["labels"], reliability)
    if run_dir is not None:
        from dfd.reports.scalars import read_scalars

        scalars = read_scalars(run_dir)
        if scalars:
            figures["learning_curves"] = plots.learning_curves_figure(scalars)
            figures["training_metrics"] = plots.metrics_panel_figure(scalars)

    files = []
    for name, fig in figures.items():
        if tb_writer is not None:
            tb_writer.add_figure(f"report/{name}", fig, close=False)
        plots.save(fig, out_dir / f"{name}.png")
        files.append(f"{name}.png")
    if (out_dir / "localization.png").exists():  # a training run's blend-mask gallery (LocalizationReport)
        files.append("localization.png")

    index = outputs["index"].numpy() if "index" in outputs else np.arange(a["labels"].numel())
    predictions = pd.DataFrame(
        {
            "index": index,
            "label": a["labels"].numpy(),
            "prob": a["probs"].numpy(),
            "prob_temperature": a["probs_t"].numpy(),
            "pred_0.5": (a["probs"] > 0.5).int().numpy(),
            "pred_calibrated": (a["probs"] > ft).int().numpy(),
        }
    )
    if "video_idx" in a:
        predictions.insert(1, "video_idx", a["video_idx"].numpy())
    if samples is not None:
        evidence = samples.drop(columns=["label"], errors="ignore").reset_index(drop=True)
        predictions = pd.concat([predictions.iloc[:, :2], evidence, predictions.iloc[:, 2:]], axis=1)
    for name, values in (extra_columns or {}).items():
        predictions[name] = np.asarray(values)
    predictions.to_csv(out_dir / "predictions.csv", index=False)
    summary["files"] = [*files, "predictions.csv", "summary.json", "report.md"]
    (out_dir / "summary.json").write_text(json.dumps(_json_safe(summary), indent=2))
    (out_dir / "report.md").write_text(_markdown(summary, files, title))
    if tb_writer is not None and hasattr(tb_writer, "add_text"):
        tb_writer.add_text("report/summary", _markdown(summary, [], title))
    return summary
