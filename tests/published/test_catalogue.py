"""The weights catalogue: every entry parses, names an importer that exists, and records the same
input contract as that importer; malformed entries are refused naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from dfd.published.catalogue import CatalogueError, load_catalogue, parse_entry
from dfd.published.sources import SOURCE_MODULES, get_source

ENTRIES = load_catalogue()


def test_the_catalogue_covers_every_importer() -> None:
    assert {e.source for e in ENTRIES.values()} == set(SOURCE_MODULES)


@pytest.mark.parametrize("name", sorted(ENTRIES))
def test_an_entry_records_its_importers_input_contract(name: str) -> None:
    entry = ENTRIES[name]
    source = get_source(entry.source)
    assert entry.contract == source.contract.to_dict()
    assert entry.licence == source.licence
    assert entry.reported or entry.notes, f"{name}: no reported numbers and no note saying why"
    for r in entry.reported:
        assert r["level"] in ("frame", "video") and r["metric"] and r["where"]
        assert all(0.0 <= float(v) <= 1.0 for v in r["values"].values())


def write(tmp_path: Path, text: str, name: str = "x") -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(text)
    return path


BASE = "name: x\nsource: sbi\ntitle: t\nfile: f.pth\nlicence: l\npaper: p\ntrained_on: t\nurl: http://h/f\n"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("sha256: abc\n", "expected 64 hex digits"),
        ("colour: red\n", "unknown key 'colour'"),
        ("hf: {repo_id: a/b, filename: m.safetensors, revision: main}\n", "pin a commit"),
    ],
)
def test_a_malformed_entry_is_refused_naming_the_key(tmp_path: Path, extra: str, message: str) -> None:
    with pytest.raises(CatalogueError, match=message):
        parse_entry(write(tmp_path, BASE + extra))


def test_an_entry_is_named_as_its_file(tmp_path: Path) -> None:
    with pytest.raises(CatalogueError, match="must be the file's name"):
        parse_entry(write(tmp_path, BASE, name="y"))
    assert parse_entry(write(tmp_path, BASE)).sha256 == "unknown"
