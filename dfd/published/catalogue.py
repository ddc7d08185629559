"""The weights catalogue: ``conf/weights/<entry>.yaml``, one file per published checkpoint.

Each entry records where the file is (``url``, or ``hf: {repo_id, filename, revision}`` on the
Hugging Face Hub at a pinned commit), what it is (``sha256``, ``size`` in bytes; ``sha256: unknown``
and ``revision: unknown`` where they could not be obtained: ``get`` then needs ``allow_unverified``), which importer reads it (``source``, a :mod:`dfd.published.sources` name), its
``licence`` and ``paper``, what it was trained on, the numbers its authors report (``reported``:
read from ``conf/published/results.yaml``, the one file of published numbers: the entry names its
row there as ``reported: [{detector, protocol}]``, :mod:`dfd.published.results`) and its input contract (which must equal
the source's: a test checks). Entries are data: read with OmegaConf, never instantiated.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dfd.core.errors import DfdError
from dfd.published.results import catalogue_reported

#: the ``sha256`` of an entry whose digest is not known yet (``get`` needs ``allow_unverified=true``)
UNKNOWN = "unknown"
SHA256 = re.compile(r"[0-9a-f]{64}")


class CatalogueError(DfdError, ValueError):
    """A catalogue entry is malformed or names something that does not exist."""


@dataclass(frozen=True)
class Entry:
    """One published checkpoint of the catalogue (see the module docstring)."""

    name: str
    source: str
    title: str
    file: str
    licence: str
    paper: str
    trained_on: str
    sha256: str = UNKNOWN
    size: int | None = None
    url: str | None = None
    hf: dict[str, str] | None = None
    reported: list[dict[str, Any]] = field(default_factory=list)
    contract: dict[str, Any] = field(default_factory=dict)
    notes: str = ""

    @property
    def verified(self) -> bool:
        """Whether the file can be checked: a known sha256 (and, on the Hub, a pinned revision)."""
        return self.sha256 != UNKNOWN and (self.hf is None or self.hf["revision"] != UNKNOWN)

    @property
    def location(self) -> str:
        """Where the file comes from, in one line."""
        if self.hf:
            revision = "main" if self.hf["revision"] == UNKNOWN else self.hf["revision"]
            return f"https://huggingface.co/{self.hf['repo_id']}/blob/{revision}/{self.hf['filename']}"
        return str(self.url)


def catalogue_dir() -> Path:
    """``conf/weights`` of the config tree dfd runs with (the checkout's, or the wheel's)."""
    from dfd.config.entry import CONF_DIR

    return Path(CONF_DIR) / "weights"


def parse_entry(path: Path) -> Entry:
    """One catalogue file, checked; :class:`CatalogueError` naming the file and key otherwise."""
    from omegaconf import OmegaConf

    raw = OmegaConf.to_container(OmegaConf.load(path), resolve=True)
    if not isinstance(raw, dict):
        raise CatalogueError(f"{path}: expected a mapping of keys (name, source, url, sha256, …)")
    known = set(Entry.__dataclass_fields__)
    unknown = sorted(set(raw) - known)
    if unknown:
        raise CatalogueError(f"{path}: unknown key {unknown[0]!r} (known: {', '.join(sorted(known))})")
    missing = [
        k for k in ("name", "source", "title", "file", "licence", "paper", "trained_on") if not raw.get(k)
    ]
    if missing:
        raise CatalogueError(f"{path}: {missing[0]} is missing")
    if raw["name"] != path.stem:
        raise CatalogueError(f"{path}: name={raw['name']!r} must be the file's name, {path.stem!r}")
    sha = str(raw.get("sha256", UNKNOWN)).lower()
    if sha != UNKNOWN and not SHA256.fullmatch(sha):
        raise CatalogueError(f"{path}: sha256={raw.get('sha256')!r}: expected 64 hex digits or 'unknown'")
    raw["sha256"] = sha
    if not raw.get("url") and not raw.get("hf"):
        raise CatalogueError(f"{path}: give url or hf: {{repo_id, filename, revision}}")
    hf = raw.get("hf")
    if hf is not None:
        if not isinstance(hf, dict) or not {"repo_id", "filename", "revision"} <= set(hf):
            raise CatalogueError(f"{path}: hf={hf!r}: expected repo_id, filename and revision")
        if hf["revision"] != UNKNOWN and not re.fullmatch(r"[0-9a-f]{40}", str(hf["revision"])):
            raise CatalogueError(
                f"{path}: hf.revision={hf['revision']!r}: pin a commit (40 hex digits), or 'unknown' until one is"
            )
    if "/" in raw["file"] or raw["file"] in ("", ".", ".."):
        raise CatalogueError(f"{path}: file={raw['file']!r}: expected a plain file name")
    raw["reported"] = [
        catalogue_reported(dict(r), f"{path}: reported[{i}]") for i, r in enumerate(raw.get("reported") or [])
    ]
    return Entry(**raw)


def load_catalogue(directory: str | Path | None = None) -> dict[str, Entry]:
    """Every entry of the catalogue, by name, in file-name order."""
    directory = Path(directory) if directory is not None else catalogue_dir()
    return {p.stem: parse_entry(p) for p in sorted(directory.glob("*.yaml"))}


def get_entry(name: str, directory: str | Path | None = None) -> Entry:
    """The entry called ``name``; a one-line error listing the catalogue otherwise."""
    entries = load_catalogue(directory)
    if name not in entries:
        raise CatalogueError(
            f"name={name!r} is not in the weights catalogue; python -m dfd.weights list shows "
            f"{', '.join(entries) or 'nothing'}"
        )
    return entries[name]


def entries_for(source: str, directory: str | Path | None = None) -> list[Entry]:
    """The catalogue's entries that the importer ``source`` reads."""
    return [e for e in load_catalogue(directory).values() if e.source == source]
