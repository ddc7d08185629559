"""What ``dfd.predict input=...`` may name: a file, a folder, a glob, or a ``.txt`` list of paths."""

from __future__ import annotations

import glob
from pathlib import Path

from dfd.raw.records import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS

MEDIA_EXTENSIONS = IMAGE_EXTENSIONS + VIDEO_EXTENSIONS


def kind_of(path: str | Path) -> str:
    """``image``, ``video`` or ``unsupported``, by the file's extension."""
    suffix = Path(path).suffix.lower()
    if suffix in IMAGE_EXTENSIONS:
        return "image"
    if suffix in VIDEO_EXTENSIONS:
        return "video"
    return "unsupported"


def expand_inputs(spec: str | Path) -> list[Path]:
    """The files ``spec`` names, in a stable order.

    - a folder: every image and video under it (recursively);
    - a ``.txt`` file: one path per line (blank lines and ``#`` comments skipped), relative to
      the list's folder unless absolute;
    - a pattern with ``*``, ``?`` or ``[``: the files it matches (``**`` recurses);
    - anything else: that one path, even when it does not exist (the prediction then says so).
    """
    spec = str(spec)
    path = Path(spec).expanduser()
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in MEDIA_EXTENSIONS)
    if path.suffix.lower() == ".txt" and path.is_file():
        out = []
        for line in path.read_text().splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                entry = Path(line).expanduser()
                out.append(entry if entry.is_absolute() else path.parent / entry)
        return out
    if any(ch in spec for ch in "*?["):
        return sorted(Path(p) for p in glob.glob(str(path), recursive=True) if Path(p).is_file())
    return [path]
