"""Evaluation reports: metrics at 0.5 and at the calibrated threshold, figures, summary.json and
report.md in a run's ``report/`` folder."""
