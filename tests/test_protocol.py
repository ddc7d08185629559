"""``python -m dfd.protocol``: the FF++ cross protocol end to end on mini trees: a tiny model
trained on FF++ crops (selected on val), reported on FF++ test by method and on Celeb-DF with
bootstrap intervals, and the datasets that are not here skipped with a line each."""

from __future__ import annotations

import json

import pytest

from tests.conftest import ROOT, run_module

pytestmark = pytest.mark.slow


def test_the_ffpp_cross_protocol_trains_reports_and_skips_what_is_absent(
    ffpp_out, celebdf_tree, cropper, tmp_path, monkeypatch
):
    from dfd.preprocessing.options import PreprocessOptions
    from dfd.preprocessing.runner import run_preprocessing
    from dfd.raw.layouts.celebdf import parse_celebdf

    _, ffpp_crops, _ = ffpp_out
    celebdf_crops = tmp_path / "celebdf"
    run_preprocessing(
        parse_celebdf(celebdf_tree), celebdf_crops, cropper, PreprocessOptions(num_frames=4), progress=False
    )
    train = ["data=ffpp", f"data.root={ffpp_crops}", "data.train_methods=[Deepfakes]", "model.net._target_=tests.tiny_detector.TinyNet",
             "model.net.input_size=64", "trainer.max_epochs=2", "trainer.accelerator=cpu", "data.num_workers=0",
             "callbacks.rich_progress_bar=null", "logger=csv", "test=false"]  # fmt: skip
    args = [
        "protocol.train=[" + ",".join(f"'{a}'" for a in train) + "]",
        "protocol.evaluate_on=[ffpp,celebdf,dfdc,uadfv]",
        f"+dataset_overrides.ffpp=['data.root={ffpp_crops}']", f"+dataset_overrides.celebdf=['data.root={celebdf_crops}']",
        "eval_overrides=['trainer.accelerator=cpu','data.num_workers=0']",
        "n_boot=200", f"paths.data_dir={tmp_path / 'nothing_here'}", f"paths.log_dir={tmp_path}",
        f"out_dir={tmp_path / 'out'}", f"hydra.run.dir={tmp_path / 'run'}",
    ]  # fmt: skip
    monkeypatch.setenv("DFD_TRUSTED_TARGETS", "tests.*")  # restored afterwards, as other fixtures set it too
    proc = run_module("dfd.protocol", args, cwd=ROOT, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = tmp_path / "out"
    assert (out / "train" / "checkpoints" / "best.ckpt").is_file()
    record = json.loads((out / "protocol.json").read_text())
    assert set(record["results"]) == {"ffpp", "celebdf"} and set(record["skipped"]) == {"dfdc", "uadfv"}
    assert "skipped dfdc: " in proc.stdout and "python -m dfd.preprocess data=dfdc" in proc.stdout
    for name in ("ffpp", "celebdf"):
        m = record["results"][name]
        assert 0.0 <= m["frame/auc_low"] <= m["frame/auc"] <= m["frame/auc_high"] <= 1.0
    text = (out / "protocol.md").read_text()
    assert "ffpp / FaceSwap" in text and "celebdf" in text and "[" in text  # by-method rows, intervals
