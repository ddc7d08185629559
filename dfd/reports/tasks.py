"""The tasks of the reports stage's commands: each is what ``dfd <verb>`` runs once its config is composed."""

from __future__ import annotations

import logging
from typing import Any

from omegaconf import DictConfig, OmegaConf

from dfd.config.instantiate import instantiate
from dfd.reports.dataset import report
from dfd.reports.run_comparison import missing_metrics, resolve_metrics, write_comparison
from dfd.reports.run_dirs import load_runs


def stats(cfg: DictConfig) -> str:
    """Print and return the statistics of ``cfg.data``."""
    datamodule = instantiate(cfg.data)
    datamodule.verify()
    rows = datamodule.load_rows()
    text = report(rows, datamodule.skipped, datamodule.root, cfg.out_dir, cfg.audit_sample)
    print(text, flush=True)
    return text


log = logging.getLogger(__name__)


def summarize(cfg: DictConfig) -> dict[str, Any]:
    """Read the runs, print and write the tables and the curves."""
    patterns = [cfg.runs] if isinstance(cfg.runs, str) else list(cfg.runs)
    runs = load_runs(patterns, base=cfg.paths.work_dir, ignore=list(cfg.ignore_overrides))
    requested = OmegaConf.to_object(cfg.metrics) if OmegaConf.is_list(cfg.metrics) else cfg.metrics
    metrics = resolve_metrics(requested, runs)
    if missing := missing_metrics(metrics, runs):
        log.warning("metrics %s: in no run's metrics.json (set metrics=[...] or metrics=all)", missing)
    text, runs_table, seeds_table = write_comparison(runs, metrics, cfg.out_dir, cfg.confidence, cfg.band)
    print(text + f"\nwritten to {cfg.out_dir}: runs.csv, seeds.csv, summary.md, curves.png", flush=True)
    return {"runs": runs_table.to_dict("records"), "seeds": seeds_table.to_dict("records")}
