"""Configuration: the library code that knows Hydra. Building objects from configs through the
trusted targets (:mod:`~dfd.config.instantiate`), the commands' shared wrapper and start-up checks
(:mod:`~dfd.config.entry`, :mod:`~dfd.config.validate`), and Optuna sweeps whose studies are shared
through a database (:mod:`~dfd.config.sweeper`, :mod:`~dfd.config.study_storage`,
:mod:`~dfd.config.optuna_summary`)."""
