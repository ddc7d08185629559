"""Robustness of a checkpoint: ``python -m dfd.robustness ckpt_path=<run>/checkpoints/best.ckpt [data=<name>]``.

Scores the test split (or ``split=val``) clean, under each corruption of ``conf/robustness.yaml``
at every severity, and under FGSM and PGD at every epsilon; writes ``robustness.csv``,
``robustness.md`` (AUC by severity) and ``robustness.png`` (AUC against severity, one panel
per perturbation) to ``out_dir``. See :mod:`dfd.metrics.robustness` for the methods.
"""

from __future__ import annotations

from dfd.config.entry import entry
from dfd.evaluation.tasks import robustness

main = entry("robustness", robustness)

if __name__ == "__main__":
    main()
