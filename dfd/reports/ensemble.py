"""The ensemble's part of the report: every member and the ensemble on the same test split.

:func:`member_rows` computes, per level (frame, video), each detector's AUC with its paired
bootstrap interval, DeLong's p-value of the ensemble against the best member (chosen on
validation AUC, never on test), log-loss and the member's mean weight in the fusion;
:func:`members_markdown` renders the table and :func:`members_roc_figure` draws every ROC curve
with the ensemble's on top.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")  # headless servers and CI: never open a window

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from sklearn.metrics import auc as area_under  # noqa: E402
from sklearn.metrics import roc_curve

from dfd.metrics.comparison import bootstrap_auc, delong_test  # noqa: E402
from dfd.metrics.detection import log_loss  # noqa: E402

ENSEMBLE = "ensemble"


def member_rows(
    probs: Mapping[str, np.ndarray],
    labels: np.ndarray,
    best_member: str,
    weights: Mapping[str, float],
    n_boot: int = 1000,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """One row per detector (members, then ``ensemble``) on one level; ``probs`` holds the
    ensemble's fused probabilities under :data:`ENSEMBLE`."""
    names = list(probs)
    y = torch.as_tensor(labels).long()
    cis = bootstrap_auc([probs[n] for n in names], y, n_boot=n_boot, seed=seed)
    delong = delong_test(probs[ENSEMBLE], probs[best_member], y)
    rows = []
    for name, ci in zip(names, cis, strict=True):
        rows.append({
            "detector": name,
            "auc": ci.auc, "auc_low": ci.low, "auc_high": ci.high,
            "delong_p_vs_best": delong.p_value if name == ENSEMBLE else (1.0 if name == best_member else math.nan),
            "log_loss": log_loss(torch.as_tensor(probs[name]).float(), y),
            "weight": float(weights.get(name, math.nan)),
            "best_member": name == best_member,
        })  # fmt: skip
    return rows


def _f(x: float, digits: int = 4) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def members_markdown(levels: Mapping[str, Sequence[Mapping[str, Any]]], n_boot: int) -> str:
    """The members-and-ensemble table of every level, as markdown."""
    lines = [
        "## Members and ensemble",
        "",
        f"AUC with its 95% paired bootstrap interval ({n_boot} replicates); DeLong's p-value of the "
        "ensemble against the best member (best on validation AUC, marked *); log-loss of the raw "
        "probabilities; the member's mean weight in the fusion on this split.",
    ]
    for level, rows in levels.items():
        lines += ["", f"### {level}", "", "| detector | AUC | 95% CI | DeLong p vs best | log-loss | weight |",
                  "|---|---:|---:|---:|---:|---:|"]  # fmt: skip
        for r in rows:
            name = f"{r['detector']} *" if r["best_member"] else r["detector"]
            p = "" if r["detector"] != ENSEMBLE else _f(r["delong_p_vs_best"], 3)
            lines.append(
                f"| {name} | {_f(r['auc'])} | [{_f(r['auc_low'], 3)}, {_f(r['auc_high'], 3)}] | {p} | "
                f"{_f(r['log_loss'])} | {'' if r['detector'] == ENSEMBLE else _f(r['weight'], 3)} |"
            )
    return "\n".join(lines) + "\n"


def members_roc_figure(levels: Mapping[str, tuple[Mapping[str, np.ndarray], np.ndarray]]) -> Figure:
    """ROC curves of every member and the ensemble, one panel per level."""
    fig, axes = plt.subplots(1, len(levels), figsize=(5.0 * len(levels), 4.4), squeeze=False)
    for ax, (level, (probs, labels)) in zip(axes[0], levels.items(), strict=True):
        for name, p in probs.items():
            fpr, tpr, _ = roc_curve(labels, p)
            auc = float(area_under(fpr, tpr))
            style = (
                {"linewidth": 2.6, "color": "black"}
                if name == ENSEMBLE
                else {"linewidth": 1.3, "alpha": 0.85}
            )
            ax.plot(fpr, tpr, label=f"{name} ({auc:.3f})", **style)
        ax.plot([0, 1], [0, 1], linestyle=":", color="grey", linewidth=0.8)
        ax.set_xlabel("false positive rate")
        ax.set_ylabel("true positive rate")
        ax.set_title(f"{level}: members and ensemble")
        ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    return fig


def members_by_method(
    probs: Mapping[str, np.ndarray], labels: np.ndarray, methods: np.ndarray
) -> dict[str, dict[str, float]]:
    """``{method: {detector: AUC}}``: each manipulation method's fakes against all reals of the split."""
    from sklearn.metrics import roc_auc_score

    labels = np.asarray(labels).astype(int)
    methods = np.asarray(methods).astype(str)
    out = {}
    for method in sorted(set(methods[labels == 1])):
        keep = (labels == 0) | (methods == method)
        if len(set(labels[keep])) == 2:
            out[method] = {name: float(roc_auc_score(labels[keep], p[keep])) for name, p in probs.items()}
    return out


def by_method_markdown(table: Mapping[str, Mapping[str, float]]) -> str:
    """The frame AUC of every detector per method, as markdown."""
    if not table:
        return ""
    names = list(next(iter(table.values())))
    lines = ["### frame AUC by method (each method's fakes against all reals)", "",
             "| method | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]  # fmt: skip
    lines += [f"| {m} | " + " | ".join(_f(row[n]) for n in names) + " |" for m, row in table.items()]
    return "\n".join(lines) + "\n"
