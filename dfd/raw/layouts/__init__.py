"""Layout parsers: one module per dataset, each with a ``parse_<name>(root, ...) -> list[VideoRecord]``.

A data config names its parser as a partial (``data.layout._target_``); ``dfd.preprocess`` calls
it. Parsers follow the owners' official structure and split files; each module's docstring cites
the dataset's paper, and :mod:`dfd.raw.expected` the sources of its published counts.
"""
