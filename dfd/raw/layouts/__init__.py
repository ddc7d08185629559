"""Layout parsers: one module per dataset, each with a ``parse_<name>(root, ...) -> list[VideoRecord]``.

A data config names its parser as a partial (``data.layout._target_``); ``dfd.preprocess`` calls
it. Parsers follow the owners' official structure and split files; each module's docstring cites
the dataset's paper, and :mod:`dfd.raw.expected` the sources of its published counts.

:data:`LAYOUTS` registers them. Adding a layout touches seven files:

1. ``dfd/raw/layouts/<module>.py``: the parser, a ``parse_<name>`` function;
2. its line in :data:`LAYOUTS` below;
3. ``dfd/data/synthetic/mini/trees.py``: ``make_<name>``, a mini tree in that layout;
4. ``conf/mini/<name>.yaml`` and 5. ``conf/data/<name>.yaml``: the tree's and the dataset's configs;
6. ``tests/raw/layouts/test_<module>.py``: its parser reading its mini tree;
7. ``README.md``, which lists the ``mini=`` and ``data=`` values for users.

A layout of images that its data module reads when built (``ImageListDataModule``) also gets a
small tree in ``raw_image_trees`` of ``tests/conftest.py``, for the data-contract test.

The trusted config targets (``dfd.config.instantiate``) and the mini-tree makers
(``dfd.data.synthetic.mini.MAKERS``) follow from the registry, and
``tests/raw/layouts/test_package.py`` checks each name against the parsers, the makers and ``conf/``.
Published counts and official files (:mod:`dfd.raw.expected`) are optional.
"""

#: The registry: every raw layout dfd reads, by the name of its mini tree (``conf/mini/<name>.yaml``,
#: made by ``dfd.data.synthetic.mini.trees.make_<name>``), and the parser that reads it (the
#: ``data.layout._target_`` of its data configs). DF40 is DeepfakeBench's format with its own tree.
LAYOUTS = {
    "avdeepfake": "dfd.raw.layouts.avdeepfake.parse_avdeepfake",
    "celebdf": "dfd.raw.layouts.celebdf.parse_celebdf",
    "celebdfpp": "dfd.raw.layouts.celebdfpp.parse_celebdfpp",
    "deeperforensics": "dfd.raw.layouts.deeperforensics.parse_deeperforensics",
    "deepfakebench": "dfd.raw.layouts.deepfakebench.parse_deepfakebench",
    "df40": "dfd.raw.layouts.deepfakebench.parse_deepfakebench",
    "dfd": "dfd.raw.layouts.ffpp.parse_dfd",
    "dfdc": "dfd.raw.layouts.dfdc.parse_dfdc",
    "dfdcp": "dfd.raw.layouts.dfdcp.parse_dfdcp",
    "fakeavceleb": "dfd.raw.layouts.fakeavceleb.parse_fakeavceleb",
    "ffpp": "dfd.raw.layouts.ffpp.parse_ffpp",
    "folder": "dfd.raw.layouts.folder.parse_folder",
    "uadfv": "dfd.raw.layouts.uadfv.parse_uadfv",
    "wilddeepfake": "dfd.raw.layouts.wilddeepfake.parse_wilddeepfake",
}

#: The mini-tree maker of each layout, by dotted name (``make_<name>``, one per ``conf/mini/`` file).
MINI_TREES = {name: f"dfd.data.synthetic.mini.trees.make_{name}" for name in LAYOUTS}
