"""Lightning callbacks: checkpointing by validation AUC, calibration, reports."""

from dfd.callbacks.checkpoint import ModelCheckpoint

__all__ = ["ModelCheckpoint"]
