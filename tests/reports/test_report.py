"""The report: its numbers agree with the metrics, its figures are real images, TensorBoard gets them."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image
from torch.utils.tensorboard import SummaryWriter

from dfd.metrics.calibration import calibrate
from dfd.metrics.detection import aggregate_video, detection_metrics
from dfd.reports.report import write_report
from dfd.reports.scalars import read_scalars


def _split(seed: int, n_videos: int = 60, frames: int = 4):
    g = torch.Generator().manual_seed(seed)
    video_idx = torch.arange(n_videos).repeat_interleave(frames)
    labels = (torch.rand(n_videos, generator=g) < 0.4).long()[video_idx]
    # over-confident logits with a bias: the best threshold is not 0.5
    logits = 3.0 * (1.2 * labels.float() - 0.2 + torch.randn(labels.numel(), generator=g))
    return {"logits": logits.unsqueeze(1), "labels": labels, "video_idx": video_idx}


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    root = tmp_path_factory.mktemp("run")
    writer = SummaryWriter(str(root / "tensorboard"))
    for step in range(5):  # a run's logged scalars
        writer.add_scalar("train/loss", 1.0 / (step + 1), step)
        writer.add_scalar("val/loss", 1.2 / (step + 1), step)
        writer.add_scalar("val/auc", 0.6 + 0.05 * step, step)
    val, test = _split(0), _split(1)
    cal = calibrate(val["logits"], val["labels"], val["video_idx"], precision_target=0.9)
    summary = write_report(test, root / "report", cal, threshold="f1", run_dir=root, tb_writer=writer)
    writer.close()
    return root, summary, cal, test


def test_summary_numbers_are_the_metrics(report):
    root, summary, cal, test = report
    probs = torch.sigmoid(test["logits"][:, 0])
    want_half = detection_metrics(probs, test["labels"], 0.5)
    want_cal = detection_metrics(probs, test["labels"], cal.thresholds["f1"])
    on_disk = json.loads((root / "report" / "summary.json").read_text())
    for key in ("auc", "acc", "f1", "precision", "recall", "tp"):
        assert on_disk["frame"]["at_0.5"][key] == pytest.approx(want_half[key])
        assert on_disk["frame"]["calibrated"][key] == pytest.approx(want_cal[key])
        assert on_disk["frame"]["change"][key] == pytest.approx(want_cal[key] - want_half[key])
    # temperature scaling is what the calibrated log-loss measures
    scaled = torch.sigmoid(test["logits"][:, 0] / cal.temperature)
    assert on_disk["frame"]["calibrated"]["log_loss"] == pytest.approx(
        detection_metrics(scaled, test["labels"])["log_loss"]
    )
    vp, vl, _ = aggregate_video(probs, test["labels"], test["video_idx"])
    assert on_disk["video"]["calibrated"]["f1"] == pytest.approx(
        detection_metrics(vp, vl, cal.video_thresholds["mean"]["f1"])["f1"]
    )
    assert on_disk["n_videos"] == 60 and on_disk["threshold_choice"] == "f1"


def test_calibration_helps_on_biased_logits(report):
    _, summary, _, _ = report
    # the logits are shifted towards fake and over-confident: the fitted threshold and the
    # temperature must beat 0.5 and T = 1 on a test split drawn the same way
    assert summary["frame"]["calibrated"]["f1"] > summary["frame"]["at_0.5"]["f1"]
    assert summary["frame"]["calibrated"]["log_loss"] < summary["frame"]["at_0.5"]["log_loss"]


def test_figures_are_nonempty_images(report):
    root, summary, _, _ = report
    names = {
        "roc", "pr", "confusion_frame", "confusion_video", "threshold_analysis", "reliability",
        "learning_curves", "training_metrics",
    }  # fmt: skip
    assert {f[:-4] for f in summary["files"] if f.endswith(".png")} == names
    for name in names:
        img = np.asarray(Image.open(root / "report" / f"{name}.png").convert("L"), dtype=float)
        assert img.shape[0] > 200 and img.shape[1] > 200
        assert img.std() > 10, f"{name}.png is blank"
    md = (root / "report" / "report.md").read_text()
    assert "| f1 |" in md and "## Video level" in md and "![roc](roc.png)" in md
    preds = (root / "report" / "predictions.csv").read_text().splitlines()
    assert len(preds) == 1 + 240


def test_tensorboard_received_the_figures(report):
    root, _, _, _ = report
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(root / "tensorboard"), size_guidance={"images": 0})
    acc.Reload()
    assert {"report/roc", "report/reliability", "report/confusion_frame"} <= set(acc.Tags()["images"])
    scalars = read_scalars(root)
    assert [v for _, v in scalars["val/auc"]] == pytest.approx([0.6, 0.65, 0.7, 0.75, 0.8])


def test_results_by_method_compare_each_methods_fakes_with_all_reals(tmp_path):
    test = _split(1)
    n = test["labels"].numel()
    # the outputs arrive in another order than the dataset's: output row j is dataset sample n-1-j
    outputs = {**test, "index": torch.arange(n).flip(0)}
    labels = test["labels"].numpy()  # per output row
    video = test["video_idx"].numpy()
    methods = np.where(labels == 0, "original", np.where(video % 2 == 0, "Deepfakes", "FaceSwap"))
    samples = (
        pd.DataFrame(
            {
                "video_id": test["video_idx"].numpy().astype(str),
                "frame_idx": 0,
                "method": methods,
                "split": "test",
                "label": labels,
            }
        )
        .iloc[::-1]
        .reset_index(drop=True)
    )
    samples.insert(2, "crop_path", [f"crops/{k}.png" for k in range(n)])  # dataset order
    summary = write_report(outputs, tmp_path, None, threshold=0.5, samples=samples)
    probs = torch.sigmoid(test["logits"][:, 0])
    for method in ("Deepfakes", "FaceSwap"):
        keep = torch.from_numpy((labels == 0) | (methods == method))
        want = detection_metrics(probs[keep], test["labels"][keep], 0.5)
        got = summary["by_method"]["frame"][method]
        assert got["auc"] == pytest.approx(want["auc"]) and got["n_fake"] == int((methods == method).sum())
        assert got["fake_acc"] == pytest.approx(want["fake_acc"])
    assert set(summary["by_method"]["video"]) == {"Deepfakes", "FaceSwap"}
    assert "## By manipulation method" in (tmp_path / "report.md").read_text()
    predictions = pd.read_csv(tmp_path / "predictions.csv")
    assert {"video_id", "crop_path", "method", "split"} <= set(predictions.columns)
    # each prediction row names its own sample
    assert (predictions["crop_path"] == [f"crops/{k}.png" for k in predictions["index"]]).all()
    assert (predictions["method"] == methods).all() and (predictions["label"] == labels).all()


def _four_frame_videos(seed: int, n_videos: int = 40):
    g = torch.Generator().manual_seed(seed)
    video_idx = torch.arange(n_videos).repeat_interleave(4)
    labels = (torch.arange(n_videos) % 2)[video_idx]
    return g, video_idx, labels


def test_separable_validation_reports_the_temperature_it_used(tmp_path):
    """The demo's case: validation is separable, so no temperature is fitted; the report gives the
    temperature the calibrated column used (1, a finite number) and why it was not fitted."""
    g, video_idx, labels = _four_frame_videos(6)
    val = (2 * labels.float() - 1) * (0.5 + torch.rand(labels.numel(), generator=g))  # margin 0.5
    cal = calibrate(val[:, None], labels, video_idx)
    test = {"logits": ((2 * labels.float() - 1) + torch.randn(labels.numel(), generator=g))[:, None],
            "labels": labels, "video_idx": video_idx}  # fmt: skip
    summary = write_report(test, tmp_path, cal)
    assert summary["temperature"] == 1.0 and not summary["temperature_fitted"]
    # unscaled: the calibrated log-loss is the raw one, so nothing is flagged as worse
    assert summary["frame"]["calibrated"]["log_loss"] == pytest.approx(summary["frame"]["at_0.5"]["log_loss"])
    assert summary["warnings"] == []
    md = (tmp_path / "report.md").read_text()
    assert "temperature 1.000 (not fitted: validation is perfectly separable" in md
    assert "log-loss unscaled (temperature 1.000, not fitted)" in md
    assert "no temperature**" not in md


def test_a_temperature_that_makes_test_log_loss_worse_is_flagged(report, tmp_path):
    """A sharpening temperature fitted on near-separable validation, applied to a noisy test split:
    the report warns instead of presenting the worse log-loss as calibration."""
    g, video_idx, labels = _four_frame_videos(5)
    val = (2 * labels.float() - 1) * (0.5 + torch.rand(labels.numel(), generator=g))
    val[0], labels[0] = 3.0, 0  # one wrong pair: a fitted temperature well below 1
    cal = calibrate(val[:, None], labels, video_idx)
    assert cal.temperature_fitted and cal.temperature < 0.5
    noisy = (2 * labels.float() - 1) * 0.3 + torch.randn(labels.numel(), generator=g)
    summary = write_report(
        {"logits": noisy[:, None], "labels": labels, "video_idx": video_idx}, tmp_path, cal
    )
    frame = summary["frame"]
    assert frame["calibrated"]["log_loss"] > 1.1 * frame["at_0.5"]["log_loss"]
    assert any(w.startswith("frame log-loss is worse after temperature scaling") for w in summary["warnings"])
    md = (tmp_path / "report.md").read_text()
    assert (
        f"- **warning**: frame log-loss is worse after temperature scaling ({frame['calibrated']['log_loss']:.4f}"
        in md
    )
    assert f"- temperature {cal.temperature:.3f} (val NLL" in md
    # where the temperature helps (the biased split of the shared report) nothing is flagged
    assert not any("worse after temperature" in w for w in report[1]["warnings"])


def test_a_localisation_gallery_in_the_report_folder_is_shown_in_the_report(tmp_path):
    g, video_idx, labels = _four_frame_videos(7)
    test = {"logits": ((2 * labels.float() - 1) + torch.randn(labels.numel(), generator=g))[:, None],
            "labels": labels, "video_idx": video_idx}  # fmt: skip
    assert "localization.png" not in write_report(test, tmp_path / "a", None, threshold=0.5)["files"]
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "localization.png").write_bytes(b"\x89PNG")  # as dfd.callbacks.localization leaves it
    summary = write_report(test, tmp_path / "b", None, threshold=0.5)
    assert "localization.png" in summary["files"]
    assert "![localization](localization.png)" in (tmp_path / "b" / "report.md").read_text()


def test_a_clip_models_report_names_its_samples_clips(report, tmp_path):
    _, frame_summary, cal, test = report
    samples = pd.DataFrame({"method": np.where(test["labels"].numpy() == 1, "Deepfakes", "")})
    summary = write_report(test, tmp_path, cal, samples=samples, unit="clip")
    md = (tmp_path / "report.md").read_text()
    assert summary["unit"] == "clip" and json.loads((tmp_path / "summary.json").read_text())["unit"] == "clip"
    assert "## Clip level" in md and "## Video level (mean of clip probabilities)" in md
    assert "clip thresholds f1" in md and f"samples (clips): {test['labels'].numel()}" in md
    assert "| method | fakes | clip auc |" in md and "Frame level" not in md and "frame " not in md
    # the numbers and their keys are a frame model's: only the names differ
    assert summary["frame"] == frame_summary["frame"] and summary["video"] == frame_summary["video"]
    assert frame_summary["unit"] == "frame"
