"""Run comparison and multi-seed summaries: ``python -m dfd.summarize <run dir | multirun dir | glob> ...``.

A table of each run's key overrides (those that differ between the runs) and final metrics, the
learning curves overlaid, and for runs that differ only in ``seed`` each metric as mean ± std
with a Student-t interval. Two commands give a multi-seed result::

    python -m dfd.train -m seed=1,2,3 model=xception data=ffpp
    python -m dfd.summarize outputs/train/multiruns/<date>_<time>

Writes ``runs.csv``, ``seeds.csv``, ``summary.md`` and ``curves.png`` to ``out_dir``. Bare
arguments are the ``runs`` key (``runs=[a,b]`` works too). See :mod:`dfd.reports.run_comparison`.
"""

from __future__ import annotations

import logging
from typing import Any

from omegaconf import DictConfig, OmegaConf

from dfd.reports.run_comparison import missing_metrics, resolve_metrics, write_comparison
from dfd.reports.run_dirs import load_runs
from dfd.utils.entry import entry

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


main = entry("summarize", summarize, positional="runs")

if __name__ == "__main__":
    main()
