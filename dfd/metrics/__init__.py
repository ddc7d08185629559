"""Evaluation metrics: detection metrics at frame and video level, threshold calibration,
DeLong's test and bootstrap intervals for AUCs, and plots."""
