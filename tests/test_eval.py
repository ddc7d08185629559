"""dfd.eval: the calibrated threshold chosen, the report and metrics in the evaluation's own folder."""

from __future__ import annotations

import json

import pytest

from dfd.metrics.calibration import load_calibration
from tests.conftest import eval_cfg, run_main, run_module

pytestmark = pytest.mark.slow


def test_eval_uses_the_chosen_calibrated_threshold(trained_runs, data_dir, tmp_path):
    from dfd.evaluation.tasks import evaluate

    root, _ = trained_runs
    before = sorted(p.name for p in (root / "a" / "checkpoints").iterdir())
    stored = load_calibration(root / "a" / "checkpoints" / "best.ckpt")
    m = evaluate(eval_cfg(root, data_dir, tmp_path, "threshold=youden", "video_aggregation=max"))
    assert m["frame/calibrated/threshold"] == pytest.approx(stored.thresholds["youden"])
    # video thresholds are the ones fitted on max-aggregated validation videos, not on mean ones
    assert m["video/calibrated/threshold"] == pytest.approx(stored.video_thresholds["max"]["youden"])
    assert stored.video_thresholds["max"]["youden"] != stored.video_thresholds["mean"]["youden"]
    assert m["frame/auc"] == pytest.approx(m["test/auc"], abs=1e-5)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["video_aggregation"] == "max"
    # the metrics go to the evaluation's own folder, named by data, split and threshold
    written = json.loads((tmp_path / "metrics.synthetic.test.youden.json").read_text())
    after = sorted(p.name for p in (root / "a" / "checkpoints").iterdir())
    assert after == before  # nothing written into the run
    assert written["metrics"]["frame/calibrated/f1"] == pytest.approx(m["frame/calibrated/f1"])
    assert (m["frame/calibrated/tp"], m["frame/calibrated/fp"]) != (m["frame/tp"], m["frame/fp"]) or (
        stored.thresholds["youden"] == pytest.approx(0.5, abs=0.01)
    )


@pytest.mark.slow
def test_ddp_scores_every_sample_once_on_an_odd_split(trained_runs, data_dir, tmp_path):
    """Lightning's DistributedSampler pads a 15-crop split to 16 on 2 ranks by repeating one: the
    repeated crop must count once, so DDP gives one process's predictions and metrics."""
    import pandas as pd

    root, _ = trained_runs
    odd = ["data=synthetic", "data.num_videos=25", "data.frames_per_video=3", "data.crop_size=64",
           "data.batch_size=4", "data.num_workers=0"]  # fmt: skip
    results = {}
    for name, trainer in (("single", ["trainer.accelerator=cpu"]), ("ddp", ["trainer=ddp_cpu"])):
        out = tmp_path / name
        # the single-process reference runs in this process; DDP starts its ranks from its own
        run = run_main if name == "single" else run_module
        proc = run(
            "dfd.eval",
            [f"ckpt_path={root / 'a' / 'checkpoints' / 'best.ckpt'}", f"paths.data_dir={data_dir}",
             f"paths.log_dir={tmp_path}", f"out_dir={out}", f"hydra.run.dir={out}", *odd, *trainer],
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr[-3000:]
        results[name] = (
            pd.read_csv(out / "predictions.csv"),
            json.loads((out / "metrics.synthetic.test.f1.json").read_text())["metrics"],
        )
    (single, m1), (ddp, m2) = results["single"], results["ddp"]
    assert len(single) == 15 and len(ddp) == 15  # 5 test videos × 3 crops, none twice
    assert ddp["index"].tolist() == single["index"].tolist() == list(range(15))
    assert ddp["video_id"].tolist() == single["video_id"].tolist()
    assert ddp["prob"].to_numpy() == pytest.approx(single["prob"].to_numpy(), abs=1e-5)
    for key in ("test/auc", "test/loss", "frame/auc", "video/auc", "frame/calibrated/f1"):
        assert m2[key] == pytest.approx(m1[key], abs=1e-5), key
