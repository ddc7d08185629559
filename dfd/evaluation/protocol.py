"""A benchmark protocol end to end (``python -m dfd.protocol``): train as the protocol says (or
take a checkpoint), then evaluate on every dataset it names that is present on this machine, and
write one table: frame and video AUC side by side with 95% paired stratified bootstrap intervals, a
row per manipulation method (with its own intervals), and the published number for the same
detector beside them (``conf/published/results.yaml``: its level and a citation footnote). A
dataset that is absent (no crops, no raw folder) is skipped with a line saying why; one the
published table has that the protocol could not evaluate shows the published number with "not run".

With a published detector evaluated on the same datasets (``published_path``), the report adds per
dataset its AUC as dfd measures it, the difference with its paired bootstrap interval, and DeLong's
p-value, at frame and video level (:func:`dfd.metrics.comparison.compare_scores`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from hydra import compose
from omegaconf import DictConfig

from dfd.config.instantiate import instantiate
from dfd.core.moved import moved_name
from dfd.metrics.comparison import bootstrap_auc, compare_scores
from dfd.published.results import PublishedRow, dataset_label

log = logging.getLogger(__name__)

LEVELS = ("frame", "video")


@dataclass(frozen=True)
class EvalEntry:
    """One evaluation of a protocol: a report ``name``, the data config it loads (``conf/data/<data>.yaml``)
    and the overrides that make it this test set (DF40's JSON per test set, FF++ at c40, ...)."""

    name: str
    data: str
    overrides: tuple[str, ...] = field(default_factory=tuple)


def evaluation_entries(protocol: Any) -> list[EvalEntry]:
    """``protocol.evaluate_on`` as entries: a plain name is ``conf/data/<name>.yaml`` as it is; a mapping
    is ``{name, data (default: name), overrides}``. Names in ``protocol.exclude`` are left out."""
    exclude = set(protocol.get("exclude") or [])
    entries = []
    for i, item in enumerate(protocol.evaluate_on):
        if isinstance(item, str):
            entry = EvalEntry(item, item)
        else:
            if not item.get("name"):
                raise ValueError(
                    f"protocol.evaluate_on[{i}]={dict(item)}: give a name (and data, overrides), or a plain data config name"
                )
            entry = EvalEntry(
                str(item.name), str(item.get("data") or item.name), tuple(item.get("overrides") or ())
            )
        if entry.name not in exclude:
            entries.append(entry)
    names = [e.name for e in entries]
    if len(set(names)) != len(names):
        raise ValueError(
            f"protocol.evaluate_on names a test set twice: {sorted({n for n in names if names.count(n) > 1})}"
        )
    return entries


def path_overrides(cfg: DictConfig) -> list[str]:
    return [f"paths.{k}={cfg.paths[k]}" for k in ("root_dir", "data_dir", "log_dir")]


def data_overrides(cfg: DictConfig, entry: EvalEntry | str) -> list[str]:
    """The eval overrides that select ``entry``'s data: ``data=``, its own overrides, this run's paths
    and ``dataset_overrides.<name>``."""
    entry = EvalEntry(entry, entry) if isinstance(entry, str) else entry
    return [
        f"data={entry.data}",
        *entry.overrides,
        *path_overrides(cfg),
        *cfg.dataset_overrides.get(entry.name, []),
    ]


def present(cfg: DictConfig, entry: EvalEntry | str) -> str:
    """'' when ``entry``'s evaluation data (a data config name, or an :class:`EvalEntry`) is on this
    machine, else why not."""
    data_cfg = compose(config_name="eval", overrides=[*data_overrides(cfg, entry), "ckpt_path=unused"]).data
    try:
        instantiate(data_cfg).verify()
    except (FileNotFoundError, ValueError) as err:
        return " ".join(line.strip() for line in str(err).splitlines() if line.strip())
    return ""


def levels_of(rows: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Frame rows and video rows (mean of a video's frame probabilities, DeepfakeBench's video score)."""
    levels = {"frame": rows}
    if "video_idx" in rows:
        agg = {"prob": ("prob", "mean"), "label": ("label", "max")}
        if "method" in rows:
            agg["method"] = ("method", "first")
        levels["video"] = rows.groupby("video_idx").agg(**agg)
    return levels


def bootstrap(pred_csv: Path, n_boot: int, seed: int) -> dict[str, float]:
    """Frame and video AUC intervals from an evaluation's predictions, over the test set
    (``frame/auc_low``, ...) and per manipulation method, that method's fakes against every real
    (``frame/by_method/<method>/auc_low``, ...)."""
    rows = pd.read_csv(pred_csv, keep_default_na=False, na_values={"prob": [""]})
    out: dict[str, float] = {}
    for level, t in levels_of(rows).items():
        if t["label"].nunique() < 2:
            continue
        (ci,) = bootstrap_auc([t["prob"].to_numpy()], t["label"].to_numpy(), n_boot=n_boot, seed=seed)
        out[f"{level}/auc_low"], out[f"{level}/auc_high"] = ci.low, ci.high
        if "method" not in t:
            continue
        methods = t["method"].astype(str).to_numpy()
        labels = t["label"].to_numpy()
        for method in sorted(set(methods[labels == 1])):
            keep = (labels == 0) | (methods == method)
            (ci,) = bootstrap_auc([t["prob"].to_numpy()[keep]], labels[keep], n_boot=n_boot, seed=seed)
            key = f"{level}/by_method/{method}"
            out[f"{key}/auc"], out[f"{key}/auc_low"], out[f"{key}/auc_high"] = ci.auc, ci.low, ci.high
    return out


def paired(pred_a: Path, pred_b: Path, n_boot: int, alpha: float, seed: int) -> dict[str, Any]:
    """Model A against model B on the same test set, from their ``predictions.csv``: per level
    (frame, video) :func:`~dfd.metrics.comparison.compare_scores` (each AUC, the difference with its
    paired bootstrap interval, DeLong's test). Samples are paired by their ``index`` in the split."""
    a, b = (pd.read_csv(p).sort_values("index").reset_index(drop=True) for p in (pred_a, pred_b))
    if not (len(a) == len(b) and (a["index"].to_numpy() == b["index"].to_numpy()).all()
            and (a["label"].to_numpy() == b["label"].to_numpy()).all()):  # fmt: skip
        raise ValueError(
            f"{pred_a} and {pred_b} score different samples: the published detector must be evaluated on the "
            "same data (the same data config and dataset_overrides)"
        )
    out = {}
    b_levels = levels_of(b)
    for level, ta in levels_of(a).items():
        if level not in b_levels or ta["label"].nunique() < 2:
            continue
        tb = b_levels[level]
        out[level] = compare_scores(ta["prob"].to_numpy(), tb["prob"].to_numpy(), ta["label"].to_numpy(),
                                    n_boot=n_boot, alpha=alpha, seed=seed)  # fmt: skip
    return out


def table(
    results: dict[str, dict[str, float]],
    published: PublishedRow | None = None,
    names: list[str] | None = None,
) -> pd.DataFrame:
    """One row per dataset and one per (dataset, method): AUCs with their intervals, and the
    published value for the same key (``<dataset>`` or ``<dataset>/<method>``) with its level. Keys the
    published row has that were not evaluated come last, marked ``run: False``; ``names`` (every
    evaluation the protocol names, in order) places them with their dataset."""
    values = published.values if published else {}
    rows = []

    def add(name: str, method: str, m: dict[str, float] | None, prefix: str) -> None:
        key = name if method == "all" else f"{name}/{method}"
        row = {"dataset": name, "method": method, "run": m is not None}
        for level in LEVELS:
            row[f"{level}_auc"] = (m or {}).get(f"{prefix.format(level=level)}auc")
            row[f"{level}_ci"] = _ci(m or {}, prefix.format(level=level))
        row["published"] = values.get(key)
        row["published_level"] = published.level if published and key in values else ""
        rows.append(row)

    done = set()
    for name in dict.fromkeys([*(names or []), *results]):
        m = results.get(name)
        add(name, "all", m, "{level}/")
        done.add(name)
        methods = sorted({k.split("/")[2] for k in (m or {}) if k.startswith("frame/by_method/")})
        for method in methods:
            add(name, method, m, "{level}/by_method/" + method + "/")
            done.add(f"{name}/{method}")
        for key in values:  # the table's methods this dataset's evaluation did not have
            if key.startswith(f"{name}/") and key not in done:
                add(name, key.split("/", 1)[1], None, "")
                done.add(key)
    for key in values:
        if key not in done:
            name, _, method = key.partition("/")
            add(name, method or "all", None, "")
    return pd.DataFrame(rows)


def display(frame: pd.DataFrame, footnote: str = "[1]") -> pd.DataFrame:
    """The table as text: ``0.9123 [0.881, 0.942]`` per level, "not run" where the protocol did not
    evaluate, and the published value with its level and footnote mark."""

    def cell(auc: Any, ci: str, run: bool) -> str:
        if not run:
            return "not run"
        return "n/a" if auc is None or pd.isna(auc) else f"{auc:.4f} {ci}".strip()

    run = frame["run"] if "run" in frame else pd.Series(True, index=frame.index)
    columns = {
        f"{level} AUC [95% CI]": [
            cell(a, c, r) for a, c, r in zip(frame[f"{level}_auc"], frame[f"{level}_ci"], run, strict=True)
        ]
        for level in LEVELS
    }
    if "published" in frame and frame["published"].notna().any():
        columns["published AUC"] = [
            "" if v is None or pd.isna(v) else f"{v:.4f} ({lvl}) {footnote}"
            for v, lvl in zip(frame["published"], frame["published_level"], strict=True)
        ]
    out = pd.DataFrame(
        columns,
        index=[
            d if m == "all" else f"{d} / {m}" for d, m in zip(frame["dataset"], frame["method"], strict=True)
        ],
    )
    out.index.name = "dataset"
    return out


def versus_display(versus: dict[str, dict[str, Any]], alpha: float = 0.05) -> pd.DataFrame:
    """Per dataset: the published detector's AUC as dfd measures it, dfd's minus it with its paired
    bootstrap interval, and DeLong's p-value, at frame and video level."""
    rows = {}
    for name, levels in versus.items():
        row = {}
        for level in LEVELS:
            r = levels.get(level)
            if r is None:
                row |= {
                    f"{level}: published, measured": "n/a",
                    f"{level}: dfd - published [CI]": "n/a",
                    f"{level}: DeLong p": "n/a",
                }
                continue
            b, d = r["bootstrap_b"], r["difference"]
            row |= {
                f"{level}: published, measured": f"{b['auc']:.4f} [{b['low']:.3f}, {b['high']:.3f}]",
                f"{level}: dfd - published [CI]": f"{d['auc']:+.4f} [{d['low']:+.3f}, {d['high']:+.3f}]",
                f"{level}: DeLong p": f"{r['delong']['p_value']:.3g}",
            }
        rows[name] = row
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.name = "dataset"
    return out


def footnote(published: PublishedRow) -> str:
    """The citation of a published row, with what its level means."""
    return (
        f"[1] {published.detector}, protocol {published.protocol}: {published.level}-level {published.metric}; "
        f"{published.citation()}. Labels: " + ", ".join(f"{k} = {dataset_label(k)}" for k in published.values)
    )


def _ci(m: dict[str, float], prefix: str) -> str:
    low, high = m.get(f"{prefix}auc_low"), m.get(f"{prefix}auc_high")
    return "" if low is None else f"[{low:.3f}, {high:.3f}]"


def __getattr__(name: str) -> Any:
    """Names that moved to another module answer here, with a warning (:mod:`dfd.core.moved`)."""
    return moved_name(__name__, name)
