"""The library's top: building objects from configs (:mod:`~dfd.utils.instantiate`), the commands'
shared wrapper and start-up checks (:mod:`~dfd.utils.entry`, :mod:`~dfd.utils.validate`),
loading runs and checkpoints (:mod:`~dfd.utils.runs`), scoring a checkpoint on a split
(:mod:`~dfd.utils.evaluation`) and the Optuna sweep summary. The only library code that knows Hydra."""
