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

from dfd.config.entry import entry
from dfd.reports.tasks import summarize

main = entry("summarize", summarize, positional="runs")

if __name__ == "__main__":
    main()
