"""dfd.export from the command line: the folder, its description and card, cross-dataset figures in the card."""

from __future__ import annotations

import json

import pytest
import torch

from tests.conftest import run_module

pytestmark = pytest.mark.slow


def test_export_writes_a_folder_that_describes_the_run(ffpp_run, tmp_path):
    cross = tmp_path / "cross"
    cross.mkdir()
    (cross / "cross_eval.json").write_text(json.dumps({
        "checkpoints": {"ffpp": str(ffpp_run)}, "datasets": ["celebdf"],
        "runs": {"ffpp_on_celebdf": {"frame/auc": 0.61, "video/auc": 0.64, "frame/calibrated/acc": 0.55}},
    }))  # fmt: skip
    out = tmp_path / "model"
    proc = run_module("dfd.export", [f"ckpt_path={ffpp_run}", f"out_dir={out}", f"cross_eval={cross}",
                                     f"hydra.run.dir={tmp_path / 'run'}"])  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "ONNX Runtime vs torch: max |Δ logit|" in proc.stdout
    d = json.loads((out / "dfd_model.json").read_text())
    assert d["net"]["target"] == "dfd.models.nets.mesonet.Meso4" and d["net"]["kwargs"]["input_size"] == 64
    assert d["preprocessing"]["detector"] == "facenet-pytorch MTCNN" and d["preprocessing"]["crop_size"] == 96
    assert set(d["calibration"]["video_thresholds"]) == {"mean", "max", "confident"}
    assert d["training"]["data"] and "val/auc" in d["training"]["metrics"]
    assert d["training"]["epoch"] == torch.load(ffpp_run, weights_only=True)["epoch"]
    card = (out / "MODEL_CARD.md").read_text()
    assert "| dataset | frame/auc | frame/calibrated/acc | video/auc |" in card
    assert "| celebdf | 0.6100 | 0.5500 | 0.6400 |" in card  # the known limit: another dataset


def test_export_of_a_checkpoint_that_needs_pickle_is_refused(tmp_path):
    from tests.test_safe_load import crafted

    (tmp_path / "run" / "checkpoints").mkdir(parents=True)
    ckpt, marker = crafted(tmp_path / "run" / "checkpoints")
    (tmp_path / "run" / "config.yaml").write_text("model: {}\n")
    proc = run_module("dfd.export", [f"ckpt_path={ckpt}", f"hydra.run.dir={tmp_path / 'out'}"])
    assert proc.returncode != 0 and "could run code" in proc.stderr and "allow_pickle=true" in proc.stderr
    assert not marker.exists()
