"""``dfd.linear_probe`` on a trained run: embeddings of every split (the net's forward_features),
probes with and without SMOTE."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dfd.evaluation.tasks import linear_probe
from tests.conftest import ROOT, compose_config


@pytest.mark.slow
def test_linear_probe_on_a_trained_checkpoint(trained_runs, tmp_path: Path, data_dir: Path) -> None:
    pytest.importorskip("imblearn")
    root, metrics = trained_runs  # TinyNet, test AUC > 0.8 (tests/conftest.py)
    out = tmp_path / "probe"
    cfg = compose_config(
        "linear_probe",
        [f"ckpt_path={root / 'a' / 'checkpoints' / 'best.ckpt'}", f"paths.root_dir={ROOT}",
         f"paths.data_dir={data_dir}", f"paths.output_dir={out}", "probe.k_neighbors=3"],
    )  # fmt: skip
    results = linear_probe(cfg)
    assert set(results) == {"plain/val", "plain/test", "smote/val", "smote/test"}
    # a logistic regression on the trained net's features separates the classes nearly as well as
    # the net's own head does (test AUC > 0.8); random features would sit near 0.5. The probe is
    # fitted on un-augmented train crops and trails the head on test (0.80 against 0.92 at seed 42)
    assert results["plain/test"]["auc"] > 0.75 and results["plain/val"]["auc"] > 0.8
    assert metrics["test/auc"] - 0.15 < results["plain/test"]["auc"] < metrics["test/auc"] + 0.1
    # the synthetic data is balanced, so SMOTE has nothing to add to the ranking
    assert abs(results["smote/test"]["auc"] - results["plain/test"]["auc"]) < 0.05
    assert json.loads((out / "linear_probe.json").read_text()) == results
