"""A benchmark protocol end to end (``python -m dfd.protocol``): train as the protocol says (or
take a checkpoint), then evaluate on every dataset it names that is present on this machine, and
write one table: frame and video AUC with 95% bootstrap intervals, and a row per manipulation
method. A dataset that is absent (no crops, no raw folder) is skipped with a line saying why.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pandas as pd
from hydra import compose
from omegaconf import DictConfig

from dfd.config.instantiate import instantiate
from dfd.core.moved import moved_name
from dfd.metrics.comparison import bootstrap_auc

log = logging.getLogger(__name__)


def path_overrides(cfg: DictConfig) -> list[str]:
    return [f"paths.{k}={cfg.paths[k]}" for k in ("root_dir", "data_dir", "log_dir")]


def present(cfg: DictConfig, name: str) -> str:
    """'' when dataset ``name``'s evaluation data is on this machine, else why not."""
    overrides = [f"data={name}", *path_overrides(cfg), *cfg.dataset_overrides.get(name, [])]
    data_cfg = compose(config_name="eval", overrides=[*overrides, "ckpt_path=unused"]).data
    try:
        instantiate(data_cfg).verify()
    except (FileNotFoundError, ValueError) as err:
        return " ".join(line.strip() for line in str(err).splitlines() if line.strip())
    return ""


def bootstrap(pred_csv: Path, n_boot: int, seed: int) -> dict[str, float]:
    """Frame and video (mean of frames) AUC intervals from an evaluation's predictions."""
    rows = pd.read_csv(pred_csv)
    out: dict[str, float] = {}
    levels = {"frame": rows}
    if "video_idx" in rows:
        levels["video"] = rows.groupby("video_idx").agg(prob=("prob", "mean"), label=("label", "max"))
    for level, table in levels.items():
        if table["label"].nunique() < 2:
            continue
        (ci,) = bootstrap_auc([table["prob"].to_numpy()], table["label"].to_numpy(), n_boot=n_boot, seed=seed)
        out[f"{level}/auc_low"], out[f"{level}/auc_high"] = ci.low, ci.high
    return out


def table(results: dict[str, dict[str, float]]) -> pd.DataFrame:
    """One row per dataset and one per (dataset, method): AUCs with their intervals."""
    rows = []
    for name, m in results.items():
        rows.append({"dataset": name, "method": "all", "frame_auc": m.get("frame/auc"), "frame_ci":
                     _ci(m, "frame"), "video_auc": m.get("video/auc"), "video_ci": _ci(m, "video")})  # fmt: skip
        methods = sorted({k.split("/")[2] for k in m if k.startswith("frame/by_method/")})
        for method in methods:
            rows.append({"dataset": name, "method": method, "frame_auc": m.get(f"frame/by_method/{method}/auc"),
                         "frame_ci": "", "video_auc": m.get(f"video/by_method/{method}/auc"), "video_ci": ""})  # fmt: skip
    return pd.DataFrame(rows)


def display(frame: pd.DataFrame) -> pd.DataFrame:
    """The table as text: ``0.9123 [0.881, 0.942]`` per level, one row per dataset and method."""

    def cell(auc: Any, ci: str) -> str:
        return "n/a" if auc is None or pd.isna(auc) else f"{auc:.4f} {ci}".strip()

    out = pd.DataFrame(
        {
            "frame AUC [95% CI]": [
                cell(a, c) for a, c in zip(frame["frame_auc"], frame["frame_ci"], strict=True)
            ],
            "video AUC [95% CI]": [
                cell(a, c) for a, c in zip(frame["video_auc"], frame["video_ci"], strict=True)
            ],
        },
        index=[
            d if m == "all" else f"{d} / {m}" for d, m in zip(frame["dataset"], frame["method"], strict=True)
        ],
    )
    out.index.name = "dataset"
    return out


def _ci(m: dict[str, float], level: str) -> str:
    low, high = m.get(f"{level}/auc_low"), m.get(f"{level}/auc_high")
    return "" if low is None else f"[{low:.3f}, {high:.3f}]"


def __getattr__(name: str) -> Any:
    """Names that moved to another module answer here, with a warning (:mod:`dfd.core.moved`)."""
    return moved_name(__name__, name)
