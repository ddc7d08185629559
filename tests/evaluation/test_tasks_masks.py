"""A localising net trained and evaluated on the mini FF++ crops with their manipulation masks: the
masks train its head (fakes without a mask left out) and ``dfd.eval`` reports pixel AUC and IoU on
the real manipulations, overall and per method."""

from __future__ import annotations

import json
import math

import pytest
from omegaconf import open_dict

from tests.conftest import FFPP_METHODS, base_overrides, compose_config


@pytest.mark.slow
def test_a_localising_run_on_masked_crops_reports_pixel_metrics(ffpp_out, data_dir, tmp_path):
    from dfd.evaluation.tasks import evaluate
    from dfd.preprocessing.manifest import read_manifest
    from dfd.reports.scalars import read_scalars
    from dfd.training.tasks import train

    _, crops, _ = ffpp_out
    rows, _ = read_manifest(crops)
    rows = rows[rows["status"] == "ok"]
    # the corrupt pair's fakes have no mask video: their crops say so, and are no pixel labels
    assert rows.loc[rows["video_id"].str.contains("990_991"), "mask_path"].isna().all()
    run = tmp_path / "run"
    data = ["data=ffpp", f"data.root={crops}", f"data.layout.methods=[{','.join(FFPP_METHODS)}]", "data.batch_size=8",
            "data.num_workers=0", "data.pin_memory=false", "data.leak_check=warn"]  # fmt: skip
    cfg = compose_config("train", base_overrides(run, data_dir) + data + [
        "model.net.input_size=64", "model.localization=true", "callbacks.early_stopping=null", "test=false"])  # fmt: skip
    with open_dict(cfg):
        for name in ("rich_progress_bar", "training_plots", "augmentation_preview", "val_mistakes",
                     "parameter_histograms", "dataset_stats", "evaluation_report"):  # fmt: skip
            cfg.callbacks.pop(name, None)
    train(cfg)
    scalars = read_scalars(run)
    mask_loss = scalars["train/mask_loss_epoch"]
    assert len(mask_loss) == 1 and all(math.isfinite(v) for _, v in mask_loss)
    # validation: the module's pixel metrics over the val split, the gallery from its real masks
    assert len(scalars["val/pixel_auc"]) == 1 and (run / "report" / "localization.png").is_file()

    out = tmp_path / "eval"
    metrics = evaluate(compose_config("eval", base_overrides(out, data_dir) + data + [
        f"ckpt_path={run / 'checkpoints' / 'best.ckpt'}", "split=test", f"out_dir={out}",
        "+trainer.enable_progress_bar=false"]))  # fmt: skip
    assert 0.0 <= metrics["test/pixel_auc"] <= 1.0 and 0.0 <= metrics["test/pixel_iou"] <= 1.0
    assert metrics["pixel/pixel_auc"] == pytest.approx(metrics["test/pixel_auc"])
    summary = json.loads((out / "summary.json").read_text())["localization"]
    test = rows[rows["split"] == "test"]
    known = test[(test["label"] == 0) | test["mask_path"].notna()]
    assert summary["crops"] == len(known) and summary["crops"] < len(test) + 1
    assert sorted(summary["by_method"]) == sorted(test.loc[test["mask_path"].notna(), "method"].unique())
    report = (out / "report.md").read_text()
    assert "## Localisation (manipulation masks)" in report and f"| all | {len(known)} |" in report
    written = json.loads(next(out.glob("metrics.*.json")).read_text())["metrics"]
    assert any(k.startswith("pixel/by_method/") for k in written)
    print(f"pixel metrics on the mini FF++ test split: {summary}")
