"""Train a detector: ``python -m dfd.train model=<name> data=<name> [overrides]``.

Builds the datamodule, model, callbacks, loggers and trainer from the composed config, fits
(resuming from ``ckpt_path`` when given), selects the checkpoint on ``val/auc``, tests the best
checkpoint with ``test=true`` and returns ``optimized_metric`` for sweeps.
"""

from __future__ import annotations

from dfd.config.entry import entry
from dfd.training.tasks import train

main = entry("train", train)

if __name__ == "__main__":
    main()
