"""The published-numbers file: every value cited and keyed by a dataset dfd knows, the weights
catalogue shows the very numbers it holds (one source), and empty rows say why."""

from __future__ import annotations

from pathlib import Path

import pytest

from dfd.published.catalogue import load_catalogue
from dfd.published.results import (
    PublishedError,
    dataset_label,
    load_results,
    published_row,
    training_experiment,
)
from tests.conftest import CONF

RAW = load_results()


def test_deepfakebench_row_holds_its_table_by_dfd_data_config_name() -> None:
    row = published_row("xception", "deepfakebench_v1")
    assert row is not None and row.level == "frame" and "2307.01426" in row.citation()
    # DeepfakeBench's README: Xception's FF++ c23, c40, FF-NT and CDFv2 columns
    assert (row.values["ffpp"], row.values["ffpp_c40"], row.values["ffpp/NeuralTextures"]) == (
        0.9637,
        0.8261,
        0.9385,
    )
    assert row.values["celebdf"] == 0.7365 and dataset_label("celebdf") == "Celeb-DF v2"
    # every key names a data config (or an entry of the deepfakebench_v1 preset), every value an AUC
    entries = {
        "ffpp_c40",
        "ffiw",
    }  # an evaluation entry made from conf/data/ffpp.yaml; FFIW has no config yet
    for key in RAW["datasets"]:
        assert key.split("/")[0] in entries or (CONF / "data" / f"{key.split('/')[0]}.yaml").is_file(), key


@pytest.mark.parametrize("name", sorted(RAW["detectors"]))
def test_each_detector_names_the_experiment_that_trains_it_and_says_why_when_it_has_no_numbers(
    name: str,
) -> None:
    det = RAW["detectors"][name]
    assert (CONF / "experiment" / f"{det['experiment']}.yaml").is_file()
    assert training_experiment(name)[0] == f"experiment={det['experiment']}"
    assert det["results"] or det["note"]
    for protocol, row in det["results"].items():
        assert row["values"] or row["note"], f"{name}/{protocol}"


def test_the_catalogue_shows_the_numbers_of_this_file() -> None:
    entries = load_catalogue()
    reported = entries["deepfakebench_meso4"].reported[0]
    row = published_row("meso4", "deepfakebench_v1")
    assert row is not None
    assert reported["values"] == {dataset_label(k): v for k, v in row.values.items()}
    assert reported["level"] == "frame" and "DeepfakeBench" in reported["where"]
    assert entries["sbi_effb4_ffraw"].reported[0]["values"]["Celeb-DF v2"] == 0.9382
    # no copies: the catalogue files name their row instead of holding values
    assert "0.6091" not in (CONF / "weights" / "deepfakebench_meso4.yaml").read_text()


def test_an_unknown_detector_or_a_malformed_row_is_refused_naming_the_key(tmp_path: Path) -> None:
    with pytest.raises(PublishedError, match="protocol.detector='resnet' is not in"):
        published_row("resnet", "deepfakebench_v1")
    assert published_row("effort", "deepfakebench_v1") is None
    bad = tmp_path / "results.yaml"
    bad.write_text(
        "sources: {s: {cite: c}}\ndatasets: {celebdf: CDF}\n"
        "detectors: {x: {experiment: e, results: {p: {source: s, level: clip, values: {celebdf: 0.5}}}}}\n"
    )
    with pytest.raises(PublishedError, match="detectors.x.results.p.level='clip'"):
        load_results(bad)
