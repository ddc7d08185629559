"""Tables across runs: the cross-dataset matrix and the A/B comparison, as markdown and figures."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from dfd.reports import plots


def cross_dataset_matrix(results: Mapping[tuple[str, str], float]) -> pd.DataFrame:
    """``{(trained_on, tested_on): value}`` → a DataFrame, rows trained-on, columns tested-on,
    in first-seen order; missing pairs are NaN."""
    rows = list(dict.fromkeys(r for r, _ in results))
    cols = list(dict.fromkeys(c for _, c in results))
    frame = pd.DataFrame(index=rows, columns=cols, dtype=float)
    for (r, c), v in results.items():
        frame.loc[r, c] = v
    frame.index.name, frame.columns.name = "trained on", "tested on"
    return frame


def to_markdown(frame: pd.DataFrame, fmt: str = ".4f") -> str:
    """A plain markdown table (no tabulate dependency)."""
    head = f"| {frame.index.name or ''} | " + " | ".join(map(str, frame.columns)) + " |"
    sep = "|---|" + "---:|" * len(frame.columns)
    body = [
        f"| {idx} | " + " | ".join("n/a" if pd.isna(v) else format(v, fmt) for v in row) + " |"
        for idx, row in zip(frame.index, frame.to_numpy(), strict=True)
    ]
    return "\n".join([head, sep, *body]) + "\n"


def write_cross_dataset(
    results: Mapping[tuple[str, str], float], out_dir: str | Path, metric: str = "auc"
) -> pd.DataFrame:
    """Write ``cross_dataset_<metric>.md``, ``.csv`` and ``.png`` (heatmap) to ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    frame = cross_dataset_matrix(results)
    (out_dir / f"cross_dataset_{metric}.md").write_text(f"# Cross-dataset {metric}\n\n" + to_markdown(frame))
    frame.to_csv(out_dir / f"cross_dataset_{metric}.csv")
    fig = plots.heatmap_figure(
        frame.to_numpy(),
        list(frame.index),
        list(frame.columns),
        f"{metric}: trained on (rows), tested on (columns)",
    )
    plots.save(fig, out_dir / f"cross_dataset_{metric}.png")
    return frame


def comparison_markdown(result: Mapping[str, Any]) -> str:
    """The A/B comparison of :mod:`dfd.compare` as markdown."""
    lines = ["# A/B comparison", ""]
    for key in ("ckpt_a", "ckpt_b", "data", "split"):
        if key in result:
            lines.append(f"- {key}: `{result[key]}`")
    units = result.get("units", {})
    if units and units.get("a") != units.get("b"):
        video = result.get("video", {})
        lines.append(
            f"- units: A scores {units['a']}s, B {units['b']}s: compared at video level only, on the "
            f"{video.get('n')} videos both scored (A scored {video.get('videos_a')}, B {video.get('videos_b')})"
        )
    for level in ("frame", "video"):
        if level not in result:
            continue
        r = result[level]
        a, b, d = r["bootstrap_a"], r["bootstrap_b"], r["delong"]
        pct = int(100 * (1 - r["alpha"]))
        lines += [
            "",
            f"## {(units.get('a', level) if level == 'frame' else level).capitalize()} level ({r['n']} samples)",
            "",
            f"| model | AUC | {pct}% bootstrap CI |",
            "|---|---:|---|",
            f"| A | {a['auc']:.4f} | [{a['low']:.4f}, {a['high']:.4f}] |",
            f"| B | {b['auc']:.4f} | [{b['low']:.4f}, {b['high']:.4f}] |",
            "",
            f"DeLong's test: AUC(A) - AUC(B) = {d['diff']:+.4f} (SE {d['se']:.4f}, "
            f"CI [{d['ci_low']:+.4f}, {d['ci_high']:+.4f}]), z = {d['z']:.3f}, p = {d['p_value']:.4g}.",
        ]
        if "difference" in r:
            diff = r["difference"]
            lines.append(
                f"Paired bootstrap of the difference: {diff['auc']:+.4f} [{diff['low']:+.4f}, {diff['high']:+.4f}]."
            )
        if r.get("by_method"):
            lines += [
                "",
                f"By manipulation method (its fakes against every real; paired stratified bootstrap, {pct}% CI):",
                "",
                "| method | fakes | AUC A [CI] | AUC B [CI] | A - B [CI] | DeLong p |",
                "|---|---:|---|---|---|---:|",
            ]
            for method, m in r["by_method"].items():
                lines.append(
                    f"| {method} | {m['n_fake']} | {_ci_cell(m['bootstrap_a'])} | {_ci_cell(m['bootstrap_b'])} | "
                    f"{_ci_cell(m['difference'], sign=True)} | {m['delong']['p_value']:.4g} |"
                )
    return "\n".join(lines) + "\n"


def _ci_cell(ci: Mapping[str, float], sign: bool = False) -> str:
    """``0.9123 [0.8810, 0.9420]`` (signed for a difference)."""
    f = "+.4f" if sign else ".4f"
    return f"{ci['auc']:{f}} [{ci['low']:{f}}, {ci['high']:{f}}]"
