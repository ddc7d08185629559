"""Evaluation metrics, as numbers: detection metrics at frame and video level, threshold and
temperature calibration, DeLong's test and bootstrap intervals for AUCs, robustness under
corruptions and attacks. Their tables and figures are :mod:`dfd.reports`."""
