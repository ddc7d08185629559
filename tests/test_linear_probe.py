"""``dfd.linear_probe`` on a trained synthetic run: embeddings of every split, probes with and without SMOTE."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dfd.linear_probe import linear_probe
from dfd.train import train
from tests.conftest import ROOT, TINY_DATA, compose_config


@pytest.mark.slow
def test_linear_probe_on_a_trained_checkpoint(make_cfg, tmp_path: Path, data_dir: Path) -> None:
    pytest.importorskip("imblearn")
    train(make_cfg(["trainer.max_epochs=2", "test=false"]))
    ckpt = tmp_path / "checkpoints" / "best.ckpt"
    out = tmp_path / "probe"
    cfg = compose_config(
        "linear_probe",
        [
            f"ckpt_path={ckpt}",
            f"paths.root_dir={ROOT}",
            f"paths.data_dir={data_dir}",
            f"paths.output_dir={out}",
            "probe.k_neighbors=3",
            *TINY_DATA,
        ],
    )
    results = linear_probe(cfg)
    assert set(results) == {"plain/val", "plain/test", "smote/val", "smote/test"}
    for metrics in results.values():
        assert 0.0 <= metrics["auc"] <= 1.0 and 0.0 <= metrics["recall_fake"] <= 1.0
    assert json.loads((out / "linear_probe.json").read_text()) == results
