"""Is a raw copy complete? ``python -m dfd.verify data=<name> data.raw_dir=<dir> [strict=true] [checksums=<file>]``.

Checks the layout's official metadata and split files (present, parseable: the file and line
of the first error), counts the videos per split and method against what the dataset's owners
publish (a method or level not downloaded at all counts as 0 of its number) (:mod:`dfd.raw.expected`, each number with its source), lists the files the metadata
names that are not on disk, and with ``checksums=<sha256sum file>`` checks every listed file.
Prints a table of expected, found and missing; writes ``missing.txt`` (one path per line,
relative to the raw folder) and ``verify.json`` to ``out_dir``. With ``strict=true`` it exits
non-zero when anything published is missing or broken. The checks are :mod:`dfd.raw.verify`.
"""

from __future__ import annotations

from dfd.config.entry import entry
from dfd.raw.tasks import verify

main = entry("verify", verify)

if __name__ == "__main__":
    main()
