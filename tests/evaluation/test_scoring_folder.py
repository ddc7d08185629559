"""dfd.eval of an exported model folder: the same metrics and files as the checkpoint it was
exported from, data= required, the folder's calibration (or 0.5 without one) and its pinned digest."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
import torch

from tests.conftest import TINY_DATA, base_overrides, compose_config, run_main

#: How the untrained model's "training crops" were made: unlike the synthetic crops it is evaluated on.
TRAINED_CROPS = {"detector": "facenet-pytorch MTCNN", "crop_size": 256}


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> tuple[Path, Path]:
    """``(checkpoint, its exported folder)``: Meso4 at 64 px, untrained (its head scaled so that the
    scores spread), with a calibration fitted on made-up validation logits."""
    from dfd.artifacts.tasks import export
    from dfd.metrics.calibration import calibrate
    from tests.fake_runs import make_model_run

    root = tmp_path_factory.mktemp("folder_eval")
    with torch.random.fork_rng():
        torch.manual_seed(0)  # the untrained weights
        ckpt = make_model_run(root / "run", preprocessing=TRAINED_CROPS)
    checkpoint = torch.load(ckpt, weights_only=True)
    checkpoint["state_dict"]["net.head.5.weight"] *= 30
    labels = (torch.arange(40) // 4) % 2  # 10 validation videos of 4 frames
    logits = torch.randn(40, generator=torch.Generator().manual_seed(0)) + labels
    checkpoint["calibration"] = calibrate(logits, labels, torch.arange(40) // 4).to_dict()
    torch.save(checkpoint, ckpt)
    folder = export(
        compose_config(
            "export", [f"ckpt_path={ckpt}", f"out_dir={root / 'model'}", f"paths.output_dir={root}"]
        )
    )
    return ckpt, folder


def eval_config(model: Path, data_dir: Path, out: Path, *overrides: str):
    """dfd.eval of ``model`` on the tiny synthetic data's test split, writing into ``out``."""
    return compose_config(
        "eval",
        base_overrides(out, data_dir)
        + [f"ckpt_path={model}", f"out_dir={out}", "+trainer.enable_progress_bar=false", "data=synthetic",
           *TINY_DATA, "data.num_workers=0", "device=cpu", *overrides],
    )  # fmt: skip


@pytest.fixture(scope="module")
def reference(exported, data_dir, tmp_path_factory) -> tuple[dict[str, float], pd.DataFrame]:
    """The checkpoint's own evaluation (through Lightning): its metrics and ``predictions.csv``."""
    from dfd.evaluation.tasks import evaluate

    out = tmp_path_factory.mktemp("ckpt_eval")
    metrics = evaluate(eval_config(exported[0], data_dir, out))
    rows = pd.read_csv(out / "predictions.csv")
    assert rows["prob"].std() > 1e-3  # scores spread: the AUCs compared below rank them, not ties
    return metrics, rows


def assert_same_scores(
    metrics: dict[str, float], out: Path, reference: tuple[dict[str, float], pd.DataFrame]
):
    """The checkpoint's AUCs (within 1e-4) and per-crop scores (within 1e-5), crop for crop."""
    ref_metrics, ref_rows = reference
    for key in ("test/auc", "frame/auc", "video/auc", "frame/ap", "frame/eer"):
        assert metrics[key] == pytest.approx(ref_metrics[key], abs=1e-4), key
    rows = pd.read_csv(out / "predictions.csv")
    for column in ("index", "video_id", "label"):
        assert rows[column].tolist() == ref_rows[column].tolist(), column
    assert rows["prob"].to_numpy() == pytest.approx(ref_rows["prob"].to_numpy(), abs=1e-5)


def test_a_folder_is_evaluated_like_its_checkpoint(exported, reference, data_dir, tmp_path, caplog):
    from dfd.evaluation.tasks import evaluate
    from dfd.inference.export import folder_digest
    from dfd.metrics.calibration import load_calibration

    ckpt, folder = exported
    with caplog.at_level("WARNING"):
        metrics = evaluate(eval_config(folder, data_dir, tmp_path))  # backend=onnx, the default
    assert "crops made differently from these" in caplog.text and "crop_size 256 → 64" in caplog.text
    # every metric of the checkpoint's evaluation, but the training loss the folder does not hold
    assert set(reference[0]) - set(metrics) == {"test/loss"}
    assert_same_scores(metrics, tmp_path, reference)
    # the thresholds are the folder's calibration (the checkpoint's, exported), not 0.5
    fitted = load_calibration(ckpt)
    assert metrics["frame/calibrated/threshold"] == pytest.approx(fitted.thresholds["f1"]) != 0.5
    assert metrics["video/calibrated/threshold"] == pytest.approx(fitted.video_thresholds["mean"]["f1"])
    assert metrics["frame/calibrated/f1"] == pytest.approx(reference[0]["frame/calibrated/f1"], abs=1e-6)
    for name in ("report.md", "summary.json", "predictions.csv", "roc.png", "confusion_video.png"):
        assert (tmp_path / name).is_file(), name
    written = json.loads((tmp_path / "metrics.synthetic.test.f1.json").read_text())
    assert written["digest"] == folder_digest(folder) and written["backend"] == "onnx"
    assert written["metrics"]["video/auc"] == pytest.approx(metrics["video/auc"])
    assert written["calibration"]["thresholds"] == fitted.thresholds


def test_a_folder_without_data_or_on_its_selection_data_is_refused(exported, data_dir, tmp_path):
    from dfd.evaluation.tasks import evaluate

    _, folder = exported
    proc = run_main(
        "dfd.eval", [f"ckpt_path={folder}", f"hydra.run.dir={tmp_path}", f"paths.log_dir={tmp_path}"]
    )
    assert proc.returncode == 1
    first = [line for line in proc.stderr.splitlines() if line.strip()][0]
    assert first.startswith(f"dfd.eval: error: ckpt_path={folder} is an exported model folder")
    assert "data=<name>" in first
    # the guard knows the folder's training data from its record (here the synthetic data)
    with pytest.raises(PermissionError, match="guard.enabled"):
        evaluate(eval_config(folder, data_dir, tmp_path / "guarded", "guard.enabled=true"))
    # an exported ensemble is dfd.ensemble's to report, not scored as one net
    ensemble = tmp_path / "ensemble"
    ensemble.mkdir()
    (ensemble / "dfd_ensemble.json").write_text("{}")
    with pytest.raises(ValueError, match="is an ensemble"):
        evaluate(eval_config(ensemble, data_dir, tmp_path / "ensemble_eval"))
    assert not list(tmp_path.rglob("metrics.*.json"))


def test_an_imported_folder_without_calibration_uses_half_and_its_pinned_digest(
    exported, reference, data_dir, tmp_path, caplog
):
    """A published checkpoint's import has no calibration: 0.5, said so. A pinned digest is honoured:
    the edited copy is refused under the original's digest and evaluated under its own (here by
    its safetensors, backend=torch: the same scores as the checkpoint)."""
    from dfd.evaluation.tasks import evaluate
    from dfd.inference.export import TamperedModel, folder_digest

    ckpt, folder = exported
    copy = tmp_path / "imported"
    shutil.copytree(folder, copy)
    description = json.loads((copy / "dfd_model.json").read_text())
    description["calibration"] = None
    (copy / "dfd_model.json").write_text(json.dumps(description))
    with pytest.raises(TamperedModel, match="dfd_model.json"):
        evaluate(eval_config(copy, data_dir, tmp_path / "refused", f"digest={folder_digest(folder)}"))
    assert not (tmp_path / "refused").exists()
    with caplog.at_level("WARNING"):
        metrics = evaluate(
            eval_config(copy, data_dir, tmp_path / "out", f"digest={folder_digest(copy)}", "backend=torch")
        )
    assert "holds no calibration" in caplog.text and "threshold 0.5" in caplog.text
    assert_same_scores(metrics, tmp_path / "out", reference)
    assert metrics["frame/calibrated/threshold"] == metrics["video/calibrated/threshold"] == 0.5
    assert metrics["frame/calibrated/f1"] == metrics["frame/f1"]
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["threshold_choice"] == "0.5" and summary["calibration"] is None
    # a digest pins a folder, never a checkpoint
    with pytest.raises(ValueError, match="pins an exported folder"):
        evaluate(eval_config(ckpt, data_dir, tmp_path / "ckpt", f"digest={folder_digest(folder)}"))
