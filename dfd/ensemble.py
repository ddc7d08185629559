"""Ensemble trained detectors: ``python -m dfd.ensemble members=[<ckpt or exported folder>, ...] method=<rule> [data=<name>]``.

Every member scores the same crops (each with its own input size and normalisation) once per
split, cached; the fusion rule (``mean``, ``weighted``, ``confidence``, ``stacking``,
``attention``: ``conf/ensemble/``) and the ensemble's calibration are fitted on validation; the
report on the test split shows every member against the ensemble. ``python -m dfd.export
ckpt_path=<this run's folder>`` then writes one folder that ``dfd.predict`` and ``dfd.serve``
run like a single model. ``setup=<name>`` loads a named set-up (``conf/ensemble_setup/``). The
steps are :mod:`dfd.ensembles.tasks`.
"""

from __future__ import annotations

from dfd.config.entry import entry
from dfd.ensembles.tasks import run_ensemble

main = entry("ensemble", run_ensemble, renames={"method": "ensemble", "setup": "ensemble_setup"})

if __name__ == "__main__":
    main()
