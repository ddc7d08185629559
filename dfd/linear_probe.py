"""Linear probe entry point: ``python -m dfd.linear_probe [ckpt_path=<run ckpt>] [data=...] [probe.smote=true]``.

Freezes a backbone (a trained run's net, or the configured model), extracts the penultimate
embeddings of the train, val and test splits with the evaluation transform, fits a logistic
regression on train without and with SMOTE (:mod:`dfd.models.linear_probe`) and reports both
on val and test. Writes ``linear_probe.json`` into the run directory.
"""

from __future__ import annotations

from dfd.config.entry import entry
from dfd.evaluation.tasks import linear_probe

main = entry("linear_probe", linear_probe)

if __name__ == "__main__":
    main()
