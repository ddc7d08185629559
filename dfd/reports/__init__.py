"""Reports: what people read and look at. The evaluation report (metrics at 0.5 and at the
calibrated threshold, summary.json, report.md), the figures (:mod:`~dfd.reports.plots`), the
cross-dataset and comparison tables, run comparisons with multi-seed summaries, dataset statistics
and the logged scalars read back."""
