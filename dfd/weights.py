"""The weights catalogue: ``python -m dfd.weights list`` and ``python -m dfd.weights get name=<entry>``.

``list`` prints every published checkpoint of ``conf/weights/`` with its source, licence, size,
checksum and the number its authors report. ``get`` downloads one (Hugging Face Hub entries at a
pinned revision; other URLs resuming an interrupted transfer) into a cache with a progress bar,
checks its sha256, and imports it into a model folder (``dfd.import_weights``). Offline it fails
at once, naming the URL and where to put the file by hand. See :mod:`dfd.published.download`.
"""

from __future__ import annotations

from dfd.config.entry import entry
from dfd.published.tasks import weights

main = entry("weights", weights, positional="action")

if __name__ == "__main__":
    main()
