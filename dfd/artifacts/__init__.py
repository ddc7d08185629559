"""What dfd writes and reads back: training run folders and their checkpoints, exported model
folders and ensemble runs. :mod:`~dfd.artifacts.runs` is **the** loader of all of them (plain
values only, nothing executable from a folder); :mod:`~dfd.artifacts.exporting` turns a checkpoint or
an ensemble run into a self-describing folder; :mod:`~dfd.artifacts.tasks` is ``dfd export``."""
