"""A file's sha256, read in chunks: the one checksum of every stage (a raw copy against its
published ``sha256sum`` file, a preprocessing manifest, the files of an exported model or
ensemble folder, an ensemble member's cache key).

It sits in :mod:`dfd.core`, below every stage, so that each one may import it.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

#: Bytes read at a time: memory stays flat on multi-gigabyte videos and weights.
CHUNK = 1 << 20


def file_sha256(path: str | Path, chunk: int = CHUNK) -> str:
    """The sha256 of the file at ``path`` as 64 lowercase hex digits (what ``sha256sum`` prints),
    read ``chunk`` bytes at a time."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()
