"""Pack a preprocessed dataset's crops: ``python -m dfd.pack data=<name> [chunk_bytes=64MB]``.

Writes each split's crops as LitData chunks under ``<data.root>/packed/<split>/`` and
``packed/pack.json``; ``dfd.train data.format=packed`` then reads them instead of one file per
crop. See :mod:`dfd.data.packed`; the task is :func:`dfd.data.tasks.pack`.
"""

from __future__ import annotations

from dfd.config.entry import entry
from dfd.data.tasks import pack

main = entry("pack", pack)

if __name__ == "__main__":
    main()
