"""Re-encode a raw tree with FF++'s H.264 recipe: ``python -m dfd.recompress data=<name> data.raw_dir=<tree> crf=23|40 out=<new tree>``.

Any dataset becomes a c23 or c40 copy of itself (libx264 at that constant rate factor, audio
copied), keeping its layout, split files and metadata, so that cross-compression tests run on
every dataset: preprocess and evaluate the new tree as the old one. FF++'s ``raw``/``c23``/``c40``
folder names become ``c<crf>`` (``rename_compression=false`` keeps them). The work is
:mod:`dfd.preprocessing.recompress`.
"""

from __future__ import annotations

from dfd.config.entry import entry
from dfd.preprocessing.tasks import recompress

main = entry("recompress", recompress)

if __name__ == "__main__":
    main()
