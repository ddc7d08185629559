"""Scoring trained detectors: a checkpoint on a split (:mod:`~dfd.evaluation.scoring`), benchmark
protocols (:mod:`~dfd.evaluation.protocol`), and the tasks of ``dfd eval``, ``cross_eval``,
``compare``, ``robustness``, ``linear_probe`` and ``protocol`` (:mod:`~dfd.evaluation.tasks`)."""
