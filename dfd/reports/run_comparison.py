"""Runs side by side: a table of each run's key overrides and final metrics, the multi-seed summary
(:mod:`~dfd.reports.seeds`) and the learning curves overlaid, written as ``runs.csv``, ``seeds.csv``,
``summary.md`` and ``curves.png``."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from dfd.reports import plots
from dfd.reports.run_dirs import Run, common_overrides, describe, key_overrides, short_names
from dfd.reports.seeds import seed_groups, seeds_frame
from dfd.reports.tables import to_markdown

#: The curves of ``curves.png``: tag → panel title.
CURVES = {"val/auc": "validation AUC", "train/loss": "training loss", "val/loss": "validation loss"}


def resolve_metrics(requested: str | Sequence[str], runs: Sequence[Run]) -> list[str]:
    """The metric columns: ``requested``, or with ``"all"`` every ``val/`` and ``test/`` key a run has
    (``val/auc_best`` first)."""
    if isinstance(requested, str) and requested != "all":
        requested = [requested]
    if requested != "all":
        return list(requested)
    keys = {k for run in runs for k in run.metrics if k.startswith(("val/", "test/"))}
    return sorted(keys, key=lambda k: (k != "val/auc_best", not k.startswith("test/"), k))


def missing_metrics(metrics: Sequence[str], runs: Sequence[Run]) -> list[str]:
    """The metrics no run has (a typo, or ``test=false`` runs asked for test metrics)."""
    return [m for m in metrics if not any(m in run.metrics for run in runs)]


def runs_frame(runs: Sequence[Run], metrics: Sequence[str]) -> pd.DataFrame:
    """One row per run: its name, status, the ``unit`` its samples are when clip and frame models are
    both given (a clip model's ``test/auc`` is over clips, its ``test/video_auc`` over the same videos
    as a frame model's), the overrides that differ between runs, the metrics, a note on why it is
    not done, and its path."""
    keys = key_overrides(runs)
    units = ["unit"] if len({run.unit for run in runs}) > 1 else []
    rows = []
    for run, name in zip(runs, short_names([r.path for r in runs]), strict=True):
        row = {"run": name, "status": run.status, **({"unit": run.unit} if units else {})}
        row.update({k: run.overrides.get(k, "") for k in keys})
        row.update({m: run.metrics.get(m, math.nan) for m in metrics})
        row.update(note=run.note, path=str(run.path))
        rows.append(row)
    return pd.DataFrame(rows, columns=["run", "status", *units, *keys, *metrics, "note", "path"])


def _cell(value: object, fmt: str = ".4f") -> str:
    if isinstance(value, float | np.floating):
        return "n/a" if math.isnan(value) else format(value, fmt)
    return str(value).replace("|", "\\|")


def runs_markdown(frame: pd.DataFrame) -> str:
    """The runs table as markdown (the path column left out: it is in ``runs.csv``)."""
    shown = frame.drop(columns=["path"]).set_index("run")
    if not shown["note"].astype(bool).any():
        shown = shown.drop(columns=["note"])
    return to_markdown(shown.map(_cell), fmt="")


def seeds_markdown(frame: pd.DataFrame, confidence: float = 0.95) -> str:
    """The seed summary as markdown: ``mean ± std`` and the interval per group × metric."""
    level = f"{100 * confidence:g}% CI"
    shown = pd.DataFrame(
        {
            "metric": frame["metric"].map(_cell),
            "n": frame["n"].astype(str),
            "mean ± std": [f"{_cell(m)} ± {_cell(s)}" for m, s in zip(frame["mean"], frame["std"], strict=True)],
            level: [f"[{_cell(lo)}, {_cell(hi)}]" for lo, hi in zip(frame["ci_low"], frame["ci_high"], strict=True)],
            "seeds": frame["seeds"].map(_cell),
        }
    )  # fmt: skip
    if frame["excluded"].any():
        shown["excluded"] = frame["excluded"].astype(str)
    shown.index = pd.Index(frame["group"].map(_cell), name="group")
    return to_markdown(shown, fmt="")


def curves_figure(runs: Sequence[Run], band: bool = True) -> Figure:
    """Validation AUC, training and validation loss per epoch, one line per run labelled by its key
    overrides (dashed: not done); with ``band``, the finished runs of each seed group are one line,
    their mean, with a ±1 std band."""
    import matplotlib.pyplot as plt

    keys = key_overrides(runs)
    names = dict(zip((id(r) for r in runs), short_names([r.path for r in runs]), strict=True))
    lines: list[tuple[str, list[Run]]] = []
    grouped: set[int] = set()
    if band:
        for label, members in seed_groups(runs):
            done = [r for r in members if r.done]  # as in seeds.csv: failed runs are drawn on their own
            if len(done) >= 2:
                lines.append((f"{label} (mean ± std of {len(done)} seeds)", done))
                grouped |= {id(r) for r in done}
    for run in runs:
        if id(run) not in grouped:
            label = ": ".join(filter(None, [names[id(run)], describe(run.overrides, keys)]))
            lines.append((label if run.done else f"{label} ({run.status})", [run]))
    fig, axes = plt.subplots(1, len(CURVES), figsize=(5.0 * len(CURVES), 4.0), squeeze=False)
    for ax, (tag, title) in zip(axes[0], CURVES.items(), strict=True):
        plotted = False
        for i, (label, members) in enumerate(lines):
            series = [plots.per_epoch(r.scalars, tag) for r in members]
            series = [s for s in series if s]
            if not series:
                continue
            plotted = True
            color = f"C{i % 10}"
            if len(members) == 1:
                ls = "-" if members[0].done else "--"
                ax.plot(
                    range(1, len(series[0]) + 1), series[0], marker="o", ms=3, c=color, ls=ls, label=label
                )
                continue
            epochs = max(map(len, series))
            stack = np.full((len(series), epochs), np.nan)
            for j, s in enumerate(series):
                stack[j, : len(s)] = s
            mean = np.nanmean(stack, axis=0)
            std = np.array(
                [np.std(c[~np.isnan(c)], ddof=1) if (~np.isnan(c)).sum() > 1 else 0.0 for c in stack.T]
            )
            x = np.arange(1, epochs + 1)
            ax.plot(x, mean, marker="o", ms=3, c=color, label=label)
            ax.fill_between(x, mean - std, mean + std, color=color, alpha=0.2, lw=0)
        if not plotted:
            ax.text(0.5, 0.5, f"no {tag} was logged", ha="center", va="center", transform=ax.transAxes)
        ax.set(xlabel="epoch", title=title)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    for ax in axes[0, 1:]:  # a run may miss a curve in one panel: collect every label once
        for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
            if lab not in labels:
                handles.append(h)
                labels.append(lab)
    if handles:
        fig.legend(handles, labels, loc="lower center", ncol=min(3, len(labels)), fontsize=8, frameon=False)
        rows = math.ceil(len(labels) / min(3, len(labels)))
        fig.tight_layout(rect=(0, min(0.5, 0.06 * rows + 0.02), 1, 1))
    else:
        fig.tight_layout()
    return fig


def summary_markdown(
    runs: Sequence[Run], runs_table: pd.DataFrame, seeds_table: pd.DataFrame, confidence: float = 0.95
) -> str:
    """``summary.md``: the runs, the shared overrides and the seed summary."""
    counts = pd.Series([r.status for r in runs]).value_counts()
    common = describe(common_overrides(runs), list(common_overrides(runs)))
    lines = [
        "# Run summary",
        "",
        f"{len(runs)} runs: " + ", ".join(f"{n} {status}" for status, n in counts.items()) + ".",
        f"Overrides shared by every run: `{common}`." if common else "No override is shared by every run.",
        "",
        "## Runs",
        "",
        runs_markdown(runs_table),
        f"## Seeds (mean ± std over seeds, Student-t {100 * confidence:g}% interval)",
        "",
    ]
    if seeds_table.empty:
        lines += ["No runs differ only in `seed`: nothing to summarise over seeds.", ""]
    else:
        lines += [
            "Failed and unfinished runs are excluded (`excluded`); the interval needs at least 2 seeds.",
            "",
            seeds_markdown(seeds_table, confidence),
        ]
    return "\n".join(lines)


def write_comparison(
    runs: Sequence[Run],
    metrics: Sequence[str],
    out_dir: str | Path,
    confidence: float = 0.95,
    band: bool = True,
) -> tuple[str, pd.DataFrame, pd.DataFrame]:
    """Write ``runs.csv``, ``seeds.csv``, ``summary.md`` and ``curves.png`` to ``out_dir``; return the
    markdown and both tables."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    runs_table = runs_frame(runs, metrics)
    seeds_table = seeds_frame(runs, metrics, confidence)
    runs_table.to_csv(out / "runs.csv", index=False)
    seeds_table.to_csv(out / "seeds.csv", index=False)
    text = summary_markdown(runs, runs_table, seeds_table, confidence)
    (out / "summary.md").write_text(text + "\n![learning curves](curves.png)\n")
    plots.save(curves_figure(runs, band), out / "curves.png")
    return text, runs_table, seeds_table
