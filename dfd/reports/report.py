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

"Calibrated" means: decisions at the chosen fitted threshold (frame thresholds for frames, video
thresholds for videos) and log-loss of the temperature-scaled probabilities. AUC, AP and EER
do not depend on a threshold, so they are equal in both columns.
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
from dfd.metrics.detection import METRIC_KEYS, aggregate_video, detection_metrics, fake_logit, log_loss
from dfd.reports import plots

#: Rows of the markdown tables (the counts are in the confusion figures and summary.json).
TABLE_KEYS = ("auc", "ap", "eer", "log_loss", "acc", "precision", "recall", "f1", "real_acc", "fake_acc")


def _level(probs: Tensor, probs_t: Tensor, labels: Tensor, threshold: float) -> dict[str, dict[str, float]]:
    at_half = detection_metrics(probs, labels, 0.5)
    cal = detection_metrics(probs, labels, threshold)
    cal["log_loss"] = log_loss(probs_t, labels)
    change = {k: cal[k] - at_half[k] for k in METRIC_KEYS}
    return {"at_0.5": at_half, "calibrated": cal, "change": change, "threshold": threshold}


def compute_summary(
    outputs: Mapping[str, Tensor],
    calibration: Calibration | None,
    threshold: str | float = "f1",
    video_aggregation: str | None = None,
) -> tuple[dict[str, Any], dict[str, Tensor]]:
    """Metrics of a split at 0.5 and calibrated, plus the arrays the figures need."""
    if "logits" in outputs:
        z = fake_logit(outputs["logits"])
    else:  # probabilities only (e.g. an external detector): temperature cannot be applied
        z = torch.logit(outputs["probs"].detach().float().cpu().flatten().clamp(1e-7, 1 - 1e-7))
    labels = outputs["labels"].detach().flatten().long().cpu()
    temperature = calibration.temperature if calibration else 1.0
    agg = video_aggregation or (calibration.video_aggregation if calibration else "mean")
    probs, probs_t = torch.sigmoid(z), torch.sigmoid(z / temperature)
    choice = threshold if calibration is not None else 0.5
    summary: dict[str, Any] = {
        "threshold_choice": str(choice),
        "temperature": temperature,
        "video_aggregation": agg,
        "calibration": calibration.to_dict() if calibration else None,
        "n_samples": int(labels.numel()),
        "frame": _level(probs, probs_t, labels, resolve_threshold(choice, calibration, "frame")),
    }
    arrays = {"z": z, "probs": probs, "probs_t": probs_t, "labels": labels}
    video_idx = outputs.get("video_idx")
    if video_idx is not None:
        vp, vl, ids = aggregate_video(probs, labels, video_idx, agg)  # type: ignore[arg-type]
        vpt, _, _ = aggregate_video(probs_t, labels, video_idx, agg)  # type: ignore[arg-type]
        summary["n_videos"] = int(ids.numel())
        summary["video"] = _level(vp, vpt, vl, resolve_threshold(choice, calibration, "video"))
        arrays.update(video_probs=vp, video_labels=vl, video_idx=video_idx.detach().flatten().long().cpu())
    return summary, arrays


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
    parts = [f"# {title}", ""]
    for key, value in summary.get("meta", {}).items():
        parts.append(f"- {key}: `{value}`")
    parts.append(f"- samples: {summary['n_samples']}, videos: {summary.get('n_videos', 'n/a')}")
    if cal:
        th = ", ".join(f"{k} {v:.4f}" for k, v in cal["thresholds"].items())
        parts += [
            f"- calibration fitted on validation (epoch {cal.get('epoch')}): frame thresholds {th}; "
            f"temperature {cal['temperature']:.3f} (val NLL {cal['val']['nll']:.4f} -> "
            f"{cal['val']['nll_temperature']:.4f}, ECE {cal['val']['ece']:.4f} -> {cal['val']['ece_temperature']:.4f})",
        ]
        if not cal["precision_reached"]:
            parts.append(f"- precision target {cal['precision_target']} was not reached on validation")
    else:
        parts.append("- no calibration in the checkpoint: the calibrated column uses 0.5")
    parts += [
        "",
        "Calibrated: decisions at the threshold fitted on validation, log-loss after temperature scaling. "
        "AUC, AP and EER do not depend on a threshold.",
        "",
        "## Frame level",
        "",
        _table(summary["frame"], choice),
    ]
    if "video" in summary:
        parts += ["", f"## Video level ({summary['video_aggregation']} of frame probabilities)", ""]
        parts.append(_table(summary["video"], choice))
    parts += ["", "## Figures", ""]
    parts += [f"![{Path(f).stem}]({f})" for f in figures]
    return "\n".join(parts) + "\n"


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
) -> dict[str, Any]:
    """Write the report of one split to ``out_dir`` and return its summary.

    ``tb_writer`` is anything with ``add_figure(tag, figure, close=...)``, such as the
    ``SummaryWriter`` of Lightning's ``TensorBoardLogger.experiment``. ``run_dir`` is searched
    for TensorBoard events or ``metrics.csv`` to draw the learning curves.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    summary, a = compute_summary(outputs, calibration, threshold, video_aggregation)
    summary["meta"] = {k: str(v) for k, v in (meta or {}).items()}
    choice = summary["threshold_choice"]
    ft = summary["frame"]["threshold"]

    def cm(level: dict[str, Any], col: str) -> np.ndarray:
        m = level[col]
        return np.array([[m["tn"], m["fp"]], [m["fn"], m["tp"]]])

    figures: dict[str, Any] = {}
    two_classes = a["labels"].unique().numel() == 2
    if two_classes:
        curves = {"frame": (a["probs"], a["labels"])}
        if "video" in summary and a["video_labels"].unique().numel() == 2:
            curves["video"] = (a["video_probs"], a["video_labels"])
        figures["roc"] = plots.roc_figure(curves)
        figures["pr"] = plots.pr_figure(curves)
        marks = {"0.5": 0.5}
        if calibration is not None:
            marks.update({f"{k}": v for k, v in calibration.thresholds.items()})
        figures["threshold_analysis"] = plots.threshold_figure(a["probs"], a["labels"], marks)
    figures["confusion_frame"] = plots.confusion_figure(
        {"frames, threshold 0.5": cm(summary["frame"], "at_0.5"), f"frames, {choice} ({ft:.3f})": cm(summary["frame"], "calibrated")}
    )  # fmt: skip
    if "video" in summary:
        vt = summary["video"]["threshold"]
        figures["confusion_video"] = plots.confusion_figure(
            {"videos, threshold 0.5": cm(summary["video"], "at_0.5"), f"videos, {choice} ({vt:.3f})": cm(summary["video"], "calibrated")}
        )  # fmt: skip
    reliability = {"raw": a["probs"]}
    if calibration is not None:
        reliability[f"temperature {calibration.temperature:.2f}"] = a["probs_t"]
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

    predictions = pd.DataFrame(
        {
            "index": np.arange(a["labels"].numel()),
            "label": a["labels"].numpy(),
            "prob": a["probs"].numpy(),
            "prob_temperature": a["probs_t"].numpy(),
            "pred_0.5": (a["probs"] > 0.5).int().numpy(),
            "pred_calibrated": (a["probs"] > ft).int().numpy(),
        }
    )
    if "video_idx" in a:
        predictions.insert(1, "video_idx", a["video_idx"].numpy())
    predictions.to_csv(out_dir / "predictions.csv", index=False)
    summary["files"] = [*files, "predictions.csv", "summary.json", "report.md"]
    (out_dir / "summary.json").write_text(json.dumps(_json_safe(summary), indent=2))
    (out_dir / "report.md").write_text(_markdown(summary, files, title))
    if tb_writer is not None and hasattr(tb_writer, "add_text"):
        tb_writer.add_text("report/summary", _markdown(summary, [], title))
    return summary
