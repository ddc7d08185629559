"""Is a raw copy complete? A tree compared with what its owners publish (``python -m dfd.verify``).

Three checks, each optional where the dataset gives nothing to check against:

- the layout's official metadata and split files (:data:`dfd.raw.expected.OFFICIAL_FILES`) are
  present and parse (JSON, CSV, text), with the file and line of the first error;
- the videos found per split and method against the published counts
  (:mod:`dfd.raw.expected`), and the files the metadata lists that are not on disk;
- with a checksum file (``sha256sum`` format: ``<hex>  <relative path>`` per line), every listed
  file's sha256.

A tree with manipulation mask videos (FF++ and DFD ``manipulated_sequences/<method>/masks/videos``,
the layout's ``VideoRecord.mask_path``) also gets its masks counted per method, with the fakes that
lack one named; a missing mask is reported, not a problem (the masks are a separate download).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

from tqdm.auto import tqdm

from dfd.core.digest import file_sha256
from dfd.raw.expected import Expect
from dfd.raw.records import (
    BAD_METADATA,
    MISSING_FILE,
    STATUS_OK,
    UNLISTED_FILE,
    MetadataError,
    VideoRecord,
    read_json,
)


@dataclass
class CountRow:
    """One published count against the tree: ``found`` usable videos, ``listed_missing`` listed by
    the metadata but absent."""

    what: str
    expected: int
    found: int
    listed_missing: int
    approx: bool

    @property
    def short(self) -> int:
        return max(self.expected - self.found, 0)


@dataclass
class MaskCount:
    """The mask videos of one manipulation method: of its ``fakes`` on disk, ``with_mask`` have one;
    ``without`` names the others (video ids)."""

    method: str
    fakes: int
    with_mask: int
    without: list[str] = field(default_factory=list)


@dataclass
class FileCheck:
    """An official file: ``status`` is ok, missing (required or not) or broken (with the error)."""

    path: str
    required: bool
    status: str
    error: str = ""


@dataclass
class Verification:
    """Everything ``dfd.verify`` found; :meth:`failed` under ``strict``, :meth:`lines` to print."""

    counts: list[CountRow] = field(default_factory=list)
    files: list[FileCheck] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    bad_metadata: list[str] = field(default_factory=list)
    unlisted: int = 0
    checksums: dict[str, list[str]] = field(default_factory=dict)
    layout_error: str = ""
    #: printed instead of "no published counts" when the layout's expectation is its own metadata
    note: str = ""
    #: per manipulation method, its mask videos (empty when the tree has none at all)
    masks: list[MaskCount] = field(default_factory=list)

    def problems(self) -> list[str]:
        """What makes the copy incomplete (approximate counts excepted)."""
        out = [f"cannot read the layout: {self.layout_error}"] if self.layout_error else []
        out += [f"{f.path}: {f.status}{' (' + f.error + ')' if f.error else ''}" for f in self.files
                if f.status != "ok" and (f.required or f.status == "broken")]  # fmt: skip
        out += [
            f"{c.what}: {c.short} of {c.expected} missing" for c in self.counts if c.short and not c.approx
        ]
        if self.missing:
            out.append(f"{len(self.missing)} files listed by the metadata are missing")
        if self.bad_metadata:
            out.append(f"{len(self.bad_metadata)} videos sit in a part whose metadata is damaged")
        for kind in ("mismatch", "absent"):
            if self.checksums.get(kind):
                out.append(f"{len(self.checksums[kind])} files with checksum {kind}")
        return out

    def failed(self) -> bool:
        return bool(self.problems())

    def lines(self) -> list[str]:
        rows = [("official file", "", "status", "")]
        rows += [(f.path, "required" if f.required else "optional", f.status, f.error) for f in self.files]
        out = _table(rows) if self.files else []
        if self.counts:
            table = [("videos", "expected", "found", "missing")]
            for c in self.counts:
                table.append(
                    (c.what, f"{'≈' if c.approx else ''}{c.expected:,}", f"{c.found:,}", f"{c.short:,}")
                )
            out += ["", *_table(table)]
        elif not self.layout_error:
            out += ["", self.note or "no published counts for this layout: only its files were checked"]
        if self.masks:
            table = [("mask videos", "fakes", "with mask", "without")]
            table += [
                (m.method, f"{m.fakes:,}", f"{m.with_mask:,}", f"{m.fakes - m.with_mask:,}")
                for m in self.masks
            ]
            out += ["", *_table(table)]
            for m in self.masks:
                if m.without and m.with_mask:  # a method with no mask at all ships none (FF++'s FaceShifter)
                    more = f" and {len(m.without) - 5} more" if len(m.without) > 5 else ""
                    out.append(f"{m.method} fakes without a mask video: {', '.join(m.without[:5])}{more}")
        if self.unlisted:
            out.append(f"{self.unlisted} files on disk are in no metadata or split file (unlisted)")
        if self.checksums:
            out.append("checksums: " + ", ".join(f"{k} {len(v)}" for k, v in self.checksums.items()))
        problems = self.problems()
        out += ["", "complete" if not problems else "incomplete:", *("  " + p for p in problems)]
        return out


def _table(rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    fmt = [f"{{:<{widths[0]}}}", *(f"{{:>{w}}}" for w in widths[1:])]
    return ["  ".join(f.format(v) for f, v in zip(fmt, r, strict=True)).rstrip() for r in rows]


def check_file(path: Path) -> str:
    """'' when ``path`` parses as its kind (JSON, CSV, text), else the error naming the line."""
    try:
        if path.suffix == ".json":
            read_json(path, "metadata")
        elif path.suffix == ".csv":
            with path.open(newline="", encoding="utf-8") as f:
                rows = list(csv.reader(f))
            widths = {len(r) for r in rows if r}
            if len(widths) > 1:
                bad = next(n for n, r in enumerate(rows, 1) if r and len(r) != len(rows[0]))
                return f"line {bad}: {len(rows[bad - 1])} fields where the header has {len(rows[0])}"
        else:
            path.read_text(encoding="utf-8")
    except MetadataError as err:
        return str(err).split(": ", 1)[1]
    except UnicodeDecodeError as err:
        return f"not text ({err.reason} at byte {err.start})"
    return ""


def check_official_files(root: Path, patterns: list[tuple[str, bool]]) -> list[FileCheck]:
    """Each official file (glob patterns relative to ``root``) present and parseable."""
    out = []
    for pattern, required in patterns:
        found = sorted(root.glob(pattern))
        if not found:
            out.append(FileCheck(pattern, required, "missing"))
        for path in found:
            error = check_file(path)
            out.append(FileCheck(str(path.relative_to(root)), required, "broken" if error else "ok", error))
    return out


def count(records: list[VideoRecord], expects: list[Expect]) -> list[CountRow]:
    """Published counts against the records: usable (ok) videos found, and those listed but missing."""
    rows = []
    for e in expects:
        mine = [r for r in records if e.matches(r)]
        rows.append(
            CountRow(
                what=e.what,
                expected=e.n,
                found=sum(r.status == STATUS_OK for r in mine),
                listed_missing=sum(r.status == MISSING_FILE for r in mine),
                approx=e.approx,
            )
        )
    return rows


def check_checksums(root: Path, checksum_file: Path) -> dict[str, list[str]]:
    """``{"ok": [...], "mismatch": [...], "absent": [...]}`` for the files of a ``sha256sum`` file
    (paths relative to ``root``; a ``*`` before the name, binary mode, is accepted)."""
    entries = []
    for n, line in enumerate(checksum_file.read_text().splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        digest, _, name = line.strip().partition(" ")
        name = name.strip().lstrip("*")
        if len(digest) != 64 or not name:
            raise MetadataError(checksum_file, f"line {n}: expected '<sha256>  <path>', got {line!r}")
        entries.append((digest.lower(), name))
    result: dict[str, list[str]] = {"ok": [], "mismatch": [], "absent": []}
    for digest, name in tqdm(entries, desc="sha256", unit="file", dynamic_ncols=True):
        path = root / name
        if not path.is_file():
            result["absent"].append(name)
        else:
            result["ok" if file_sha256(path) == digest else "mismatch"].append(name)
    return result


def verify_records(records: list[VideoRecord], expects: list[Expect], root: Path) -> Verification:
    """Counts, missing and damaged entries of a parsed tree (official files and checksums apart)."""
    v = Verification(counts=count(records, expects))
    v.missing = sorted(_rel(r.path, root) for r in records if r.status == MISSING_FILE)
    v.bad_metadata = sorted(_rel(r.path, root) for r in records if r.status == BAD_METADATA)
    v.unlisted = sum(r.status == UNLISTED_FILE for r in records)
    v.masks = count_masks(records)
    return v


def count_masks(records: list[VideoRecord]) -> list[MaskCount]:
    """Per method of the fakes on disk, how many have a mask video; empty when none has one."""
    fakes = [r for r in records if r.label == 1 and r.status == STATUS_OK]
    if not any(r.mask_path is not None for r in fakes):
        return []
    out = []
    for method in sorted({r.method for r in fakes}):
        mine = [r for r in fakes if r.method == method]
        without = sorted(r.video_id for r in mine if r.mask_path is None)
        out.append(MaskCount(method, len(mine), len(mine) - len(without), without))
    return out


def _rel(path: Path, root: Path) -> str:
    return str(path.relative_to(root)) if path.is_relative_to(root) else str(path)
