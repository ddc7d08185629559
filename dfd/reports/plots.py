"""Evaluation figures with matplotlib (Agg backend: no display needed).

Each function returns a ``matplotlib.figure.Figure``; :func:`save` writes it as PNG and
closes it. The report (:mod:`dfd.reports.report`) also sends the same figures to TensorBoard.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless servers and CI: never open a window

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from sklearn.calibration import calibration_curve  # noqa: E402
from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score, roc_curve  # noqa: E402

from dfd.metrics.calibration import threshold_sweep  # noqa: E402

Curves = Mapping[str, tuple[np.ndarray | torch.Tensor, np.ndarray | torch.Tensor]]


def _np(x) -> np.ndarray:
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


def save(fig: Figure, path: str | Path, dpi: int = 110) -> Path:
    """Write ``fig`` as PNG to ``path`` (folders created) and close it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return path


def roc_figure(curves: Curves) -> Figure:
    """ROC curves, one per named ``(probs, labels)`` pair (e.g. frame and video level)."""
    fig, ax = plt.subplots(figsize=(4.8, 4.4))
    for name, (p, y) in curves.items():
        p, y = _np(p), _np(y)
        fpr, tpr, _ = roc_curve(y, p)
        ax.plot(fpr, tpr, label=f"{name} (AUC {roc_auc_score(y, p):.3f})")
    ax.plot([0, 1], [0, 1], ls="--", c="grey", lw=0.8, label="chance")
    ax.set(xlabel="false positive rate (reals called fake)", ylabel="true positive rate", title="ROC")
    ax.legend(loc="lower right", fontsize=8)
    return fig


def pr_figure(curves: Curves) -> Figure:
    """Precision-recall curves, with the fake prevalence as the chance line."""
    fig, ax = plt.subplots(figsize=(4.8, 4.4))
    for name, (p, y) in curves.items():
        p, y = _np(p), _np(y)
        prec, rec, _ = precision_recall_curve(y, p)
        line = ax.step(rec, prec, where="post", label=f"{name} (AP {average_precision_score(y, p):.3f})")
        ax.axhline(y.mean(), ls="--", lw=0.8, c=line[0].get_color())
    ax.set(xlabel="recall (fakes caught)", ylabel="precision", title="Precision-recall", ylim=(0, 1.02))
    ax.legend(loc="lower left", fontsize=8)
    return fig


def confusion_figure(matrices: Mapping[str, np.ndarray]) -> Figure:
    """Confusion matrices side by side, e.g. ``{"threshold 0.5": cm, "f1 threshold 0.31": cm}``.

    Each ``cm`` is ``[[tn, fp], [fn, tp]]``; cells show the count and the row percentage.
    """
    fig, axes = plt.subplots(1, len(matrices), figsize=(3.6 * len(matrices), 3.4), squeeze=False)
    for ax, (name, cm) in zip(axes[0], matrices.items(), strict=True):
        cm = _np(cm).astype(float)
        rows = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
        ax.imshow(rows, cmap="Blues", vmin=0, vmax=1)
        for i in range(2):
            for j in range(2):
                ax.text(
                    j, i, f"{int(cm[i, j])}\n{100 * rows[i, j]:.1f}%", ha="center", va="center",
                    color="white" if rows[i, j] > 0.5 else "black", fontsize=9,
                )  # fmt: skip
        ax.set(xticks=[0, 1], yticks=[0, 1], xticklabels=["real", "fake"], yticklabels=["real", "fake"])
        ax.set(xlabel="predicted", ylabel="true", title=name)
    fig.tight_layout()
    return fig


def threshold_figure(probs, labels, marks: Mapping[str, float] | None = None) -> Figure:
    """Precision, recall and F1 against the decision threshold, with chosen thresholds marked."""
    s = threshold_sweep(torch.as_tensor(_np(probs)), torch.as_tensor(_np(labels)))
    t = s.thresholds.numpy()
    fig, ax = plt.subplots(figsize=(5.6, 4.0))
    ax.plot(t, s.precision.numpy(), label="precision", drawstyle="steps-post")
    ax.plot(t, s.recall.numpy(), label="recall (fake accuracy)", drawstyle="steps-post")
    ax.plot(t, s.f1.numpy(), label="F1", drawstyle="steps-post", lw=2)
    ax.plot(t, 1 - s.fpr.numpy(), label="real accuracy", drawstyle="steps-post", ls=":")
    for i, (name, value) in enumerate((marks or {}).items()):
        ax.axvline(value, c=f"C{4 + i}", ls="--", lw=1, label=f"{name} = {value:.3f}")
    ax.set(xlabel="threshold on fake probability", ylabel="value", xlim=(0, 1), ylim=(0, 1.02))
    ax.set_title("Threshold analysis")
    ax.legend(fontsize=7, loc="lower center", ncol=2)
    return fig


def reliability_figure(labels, probs: Mapping[str, np.ndarray | torch.Tensor], n_bins: int = 10) -> Figure:
    """Reliability diagram: observed fake frequency per confidence bin, one line per named
    probability vector (e.g. before and after temperature scaling), with ECE in the legend."""
    from dfd.metrics.calibration import expected_calibration_error

    y = _np(labels)
    fig, (ax, hist) = plt.subplots(
        2, 1, figsize=(4.8, 5.6), sharex=True, gridspec_kw={"height_ratios": [3, 1]}
    )  # fmt: skip
    ax.plot([0, 1], [0, 1], ls="--", c="grey", lw=0.8, label="perfectly calibrated")
    for name, p in probs.items():
        p = _np(p)
        frac, mean = calibration_curve(y, p, n_bins=n_bins, strategy="uniform")
        ece = expected_calibration_error(torch.as_tensor(p), torch.as_tensor(y), n_bins)
        ax.plot(mean, frac, marker="o", label=f"{name} (ECE {ece:.3f})")
        hist.hist(p, bins=n_bins, range=(0, 1), histtype="step", label=name)
    ax.set(ylabel="fraction of fakes", title="Reliability", xlim=(0, 1), ylim=(0, 1))
    ax.legend(fontsize=8, loc="upper left")
    hist.set(xlabel="predicted fake probability", ylabel="count")
    hist.set_yscale("log")
    fig.tight_layout()
    return fig


Scalars = Mapping[str, Sequence[tuple[int, float]]]


def per_epoch(scalars: Mapping[str, Sequence[tuple[int, float]]], tag: str) -> list[float]:
    """Epoch-level values of ``tag``: its ``_epoch`` series when it was also logged per step."""
    points = scalars.get(f"{tag}_epoch") or scalars.get(tag) or []
    return [v for _, v in points]


def learning_curves_figure(scalars: Mapping[str, Sequence[tuple[int, float]]]) -> Figure:
    """Training and validation loss per epoch (``scalars``: tag → ``[(step, value)]``)."""
    fig, ax = plt.subplots(figsize=(6, 4))
    plotted = False
    for split in ("train", "val"):
        values = per_epoch(scalars, f"{split}/loss")
        if values:
            ax.plot(range(1, len(values) + 1), values, marker="o", label=split)
            plotted = True
    if plotted:
        ax.legend()
    else:
        ax.text(0.5, 0.5, "no loss was logged", ha="center", va="center", transform=ax.transAxes)
    ax.set(xlabel="epoch", ylabel="loss", title="Learning curves")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def metrics_panel_figure(scalars: Mapping[str, Sequence[tuple[int, float]]]) -> Figure:
    """One panel per epoch-level metric (AUC, F1, …; AVFF stage 1: its loss terms), train and val."""
    names = sorted(
        {
            tag.split("/", 1)[1].removesuffix("_epoch")
            for tag in scalars
            if tag.startswith(("train/", "val/")) and not tag.endswith("_step")
        }
        - {"loss"}
    )
    cols = max(1, min(len(names), 4))
    rows = max(1, math.ceil(len(names) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.8 * rows), squeeze=False)
    for ax in axes.flat[len(names) :]:
        ax.axis("off")
    for ax, name in zip(axes.flat, names, strict=False):
        for split in ("train", "val"):
            values = per_epoch(scalars, f"{split}/{name}")
            if values:
                ax.plot(range(1, len(values) + 1), values, marker="o", ms=3, label=split)
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("epoch", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    if names:
        axes.flat[0].legend(fontsize=7)
    else:
        axes[0, 0].text(0.5, 0.5, "no train/ or val/ metric was logged", ha="center", va="center")
    fig.suptitle("Training metrics")
    fig.tight_layout()
    return fig


def heatmap_figure(
    matrix: np.ndarray, rows: Sequence[str], cols: Sequence[str], title: str, fmt: str = ".3f"
) -> Figure:
    """Annotated heatmap (cross-dataset AUC matrix, robustness table)."""
    m = np.asarray(matrix, dtype=float)
    fig, ax = plt.subplots(figsize=(1.2 + 1.1 * len(cols), 1.0 + 0.6 * len(rows)))
    im = ax.imshow(m, cmap="viridis", vmin=np.nanmin(m) if np.isfinite(m).any() else 0, vmax=1)
    for i in range(m.shape[0]):
        for j in range(m.shape[1]):
            ax.text(j, i, "n/a" if np.isnan(m[i, j]) else format(m[i, j], fmt), ha="center", va="center",
                    color="white" if m[i, j] < 0.75 else "black", fontsize=9)  # fmt: skip
    ax.set(xticks=range(len(cols)), yticks=range(len(rows)), title=title)
    ax.set_xticklabels(cols, rotation=30, ha="right")
    ax.set_yticklabels(rows)
    fig.colorbar(im, ax=ax, fraction=0.046)
    fig.tight_layout()
    return fig


def severity_figure(
    curves: Mapping[str, tuple[Sequence[float], Sequence[float]]], baseline: float, ylabel: str = "AUC"
) -> Figure:
    """One panel per perturbation: the metric against its severity, clean value dashed."""
    n = max(len(curves), 1)
    cols = min(n, 4)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.6 * rows), squeeze=False)
    for ax in axes.flat[len(curves) :]:
        ax.axis("off")
    for ax, (name, (levels, values)) in zip(axes.flat, curves.items(), strict=False):
        ax.plot(levels, values, marker="o")
        ax.axhline(baseline, ls="--", c="grey", lw=0.8)
        ax.set_title(name, fontsize=9)
        ax.set_ylim(min(0.4, min(values) - 0.05) if len(values) else 0, 1.01)
        ax.tick_params(labelsize=7)
        ax.set_ylabel(ylabel, fontsize=8)
    fig.suptitle(f"{ylabel} against severity (dashed: clean)")
    fig.tight_layout()
    return fig
