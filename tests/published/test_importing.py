"""The importer's contract with the catalogue, the card and dfd.predict (on DeepfakeBench's Meso4
layout, the cheapest release to build)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import torch

from dfd.published import importing
from dfd.published.catalogue import get_entry
from tests.published.test_mesonet import _randomised


@pytest.fixture(scope="module")
def release(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("release") / "meso4_best.pth"
    torch.save(_randomised("deepfakebench_meso4").state_dict(), path)
    return path


def test_the_terms_of_a_non_commercial_source_are_printed_once_per_process(monkeypatch) -> None:
    from dfd.published.sources import get_source

    monkeypatch.setattr(importing, "_TERMS_SHOWN", set())
    said: list[str] = []
    source = get_source("deepfakebench_meso4")
    importing.show_terms(source, said.append)
    importing.show_terms(source, said.append)
    assert len(said) == 1 and "CC BY-NC 4.0" in said[0] and "non-commercial" in said[0]


def test_a_file_matching_no_entry_carries_every_release_of_its_source_labelled(
    release: Path, tmp_path: Path
) -> None:
    out = importing.import_checkpoint("deepfakebench_meso4", release, tmp_path / "m", say=lambda s: None)
    d = json.loads((out / "dfd_model.json").read_text())
    pub = d["published"]
    assert pub["entry"] is None and pub["file_sha256"] == hashlib.sha256(release.read_bytes()).hexdigest()
    assert [r["checkpoint"] for r in pub["reported"]] == ["meso4_best.pth"]
    assert pub["reported"][0]["values"]["Celeb-DF v2"] == 0.6091 and pub["reported"][0]["level"] == "frame"
    assert d["preprocessing"]["align"] is True and d["preprocessing"]["crop_size"] == 256
    card = (out / "MODEL_CARD.md").read_text()
    assert "**CC BY-NC 4.0** (non-commercial use only)" in card
    assert "differs from the source: faces found by MTCNN" in card
    from dfd.inference.export import load_exported
    from dfd.inference.predictor import make_predictor

    predictor, diff = make_predictor(load_exported(out))
    assert diff == {} and predictor.cropper.align and predictor.cropper.crop_size == 256


def test_entry_names_the_catalogue_release_and_must_be_of_the_same_source(
    release: Path, tmp_path: Path
) -> None:
    out = importing.import_checkpoint(
        "deepfakebench_meso4", release, tmp_path / "m", entry="deepfakebench_meso4", say=lambda s: None
    )
    pub = json.loads((out / "dfd_model.json").read_text())["published"]
    assert (
        pub["entry"] == "deepfakebench_meso4"
        and pub["trained_on"] == get_entry("deepfakebench_meso4").trained_on
    )
    with pytest.raises(ValueError, match="is a sbi checkpoint, not deepfakebench_meso4"):
        importing.import_checkpoint("deepfakebench_meso4", release, tmp_path / "n", entry="sbi_effb4_ffraw")


def test_a_file_whose_digest_differs_from_its_named_entry_is_refused(release, tmp_path, monkeypatch) -> None:
    from dataclasses import replace

    pinned = replace(get_entry("deepfakebench_meso4"), sha256="0" * 64)
    monkeypatch.setattr(importing, "get_entry", lambda name: pinned)
    with pytest.raises(ValueError, match="a different or damaged file"):
        importing.import_checkpoint(
            "deepfakebench_meso4", release, tmp_path / "m", entry="deepfakebench_meso4"
        )


def test_a_missing_file_names_the_release_to_download(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="meso4_best.pth"):
        importing.import_checkpoint("deepfakebench_meso4", tmp_path / "nope.pth", tmp_path / "m")
