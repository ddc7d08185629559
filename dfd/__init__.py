"""dfd: deepfake detection experiments.

The package reads in pipeline order: ``raw`` (datasets as shipped, media decoding) →
``preprocessing`` (face crops, audio, manifests) → ``data`` (datasets and DataModules) →
``models`` (nets and LightningModules, with ``losses``) → ``callbacks``, ``metrics`` and
``reports`` (selection, calibration, figures) → ``utils`` (configs, runs, the commands' wrapper).
Each command is a ``dfd/<verb>.py`` (``python -m dfd.<verb>``). Map: ``docs/architecture.md``.
"""
