"""dfd.export from the command line: the folder, its description and card, cross-dataset figures in the card,
the digest it prints and dfd.predict and dfd.serve honour."""

from __future__ import annotations

import json

import pytest
import torch

from tests.conftest import run_main, run_module

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
    from pathlib import Path

    from dfd.inference.export import folder_digest

    digest = folder_digest(out)
    assert proc.stdout.strip().splitlines()[-1] == f"digest: {digest}" and f"digest: `{digest}`" in card
    # portable: the run by its name, the checkpoint inside it; no path of this machine in any file
    assert (
        d["training"]["run"] == ffpp_run.parent.parent.name
        and d["training"]["checkpoint"] == "checkpoints/best.ckpt"
    )
    for file in out.iterdir():
        data = file.read_bytes()
        assert str(ffpp_run.parent.parent).encode() not in data and str(Path.home()).encode() not in data, (
            file
        )


def test_export_of_a_checkpoint_that_needs_pickle_is_refused(tmp_path):
    from tests.core.test_safe_load import crafted

    (tmp_path / "run" / "checkpoints").mkdir(parents=True)
    ckpt, marker = crafted(tmp_path / "run" / "checkpoints")
    (tmp_path / "run" / "config.yaml").write_text("model: {}\n")
    proc = run_module("dfd.export", [f"ckpt_path={ckpt}", f"hydra.run.dir={tmp_path / 'out'}"])
    assert proc.returncode != 0 and "could run code" in proc.stderr and "allow_pickle=true" in proc.stderr
    assert not marker.exists()


def test_predict_and_serve_honour_a_pinned_digest(exported_model, ffpp_run, tmp_path):
    import shutil

    import numpy as np
    from PIL import Image

    from dfd.inference.export import folder_digest

    digest = folder_digest(exported_model)
    image = tmp_path / "noise.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (80, 80, 3), dtype=np.uint8)).save(image)
    ok = run_main("dfd.predict", [f"ckpt_path={exported_model}", f"digest={digest}", f"input={image}",
                                    f"output={tmp_path / 'p.csv'}", f"hydra.run.dir={tmp_path / 'r0'}"])  # fmt: skip
    assert ok.returncode == 0, ok.stderr[-3000:]
    assert "noise.png" in (tmp_path / "p.csv").read_text()
    copy = tmp_path / "model"
    shutil.copytree(exported_model, copy)
    d = json.loads((copy / "dfd_model.json").read_text())
    d["calibration"]["thresholds"] = {k: 0.0 for k in d["calibration"]["thresholds"]}  # all "fake"
    (copy / "dfd_model.json").write_text(json.dumps(d))
    refused = run_main("dfd.predict", [f"ckpt_path={copy}", f"digest={digest}", f"input={image}",
                                         f"hydra.run.dir={tmp_path / 'r1'}"])  # fmt: skip
    assert refused.returncode != 0 and "dfd_model.json itself changed" in refused.stderr
    served = run_module("dfd.serve", [f"model={copy}", f"digest={digest}", "port=8765",
                                      f"hydra.run.dir={tmp_path / 'r2'}"], timeout=300)  # fmt: skip
    # refused before the server binds its port or starts a worker
    assert served.returncode != 0 and "dfd_model.json itself changed" in served.stderr
    for value, reason in ((digest[:-2], "expected sha256:<64 hex digits>"),):
        bad = run_main("dfd.predict", [f"ckpt_path={exported_model}", f"digest={value}", f"input={image}",
                                         f"hydra.run.dir={tmp_path / 'r3'}"])  # fmt: skip
        assert bad.returncode != 0 and f"digest={value}: {reason}" in bad.stderr
    ckpt = run_main("dfd.predict", [f"ckpt_path={ffpp_run}", f"digest={digest}", f"input={image}",
                                      f"hydra.run.dir={tmp_path / 'r4'}"])  # fmt: skip
    assert ckpt.returncode != 0 and "pins an exported folder" in ckpt.stderr
