"""dfd.eval of a clip model (a temporal net): its checkpoint on clip samples of its run's data, its
exported folder on ``data=<name>`` set to clips of its length, the same scores from both and a
report that names its samples clips."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import torch

from tests.conftest import TINY_DATA, base_overrides, compose_config
from tests.tiny_detector import TINY_CLIP_OVERRIDES, tiny_clip_net

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def clip_model(tmp_path_factory) -> tuple[Path, Path]:
    """``(checkpoint, its exported folder)``: the tiny clip model, untrained (its head scaled so that
    the scores spread), trained on the tiny synthetic data's clips of 4."""
    from dfd.artifacts.tasks import export
    from tests.fake_runs import make_model_run

    root = tmp_path_factory.mktemp("clip_eval")
    net = tiny_clip_net()
    with torch.no_grad():
        net.head[-1].weight.mul_(30)
    ckpt = make_model_run(root / "run", overrides=TINY_DATA + TINY_CLIP_OVERRIDES, net=net)
    folder = export(
        compose_config(
            "export", [f"ckpt_path={ckpt}", f"out_dir={root / 'model'}", f"paths.output_dir={root}"]
        )
    )
    return ckpt, folder


def eval_config(model: Path, data_dir: Path, out: Path, *overrides: str):
    return compose_config(
        "eval",
        base_overrides(out, data_dir)
        + [f"ckpt_path={model}", f"out_dir={out}", "+trainer.enable_progress_bar=false", "device=cpu", *overrides],
    )  # fmt: skip


def test_a_clip_checkpoint_and_its_folder_are_evaluated_on_clips_alike(clip_model, data_dir, tmp_path):
    from dfd.evaluation.tasks import evaluate

    ckpt, folder = clip_model
    # the checkpoint on its run's data (clips of 4); the folder on data=synthetic, which says clips: false
    metrics = evaluate(eval_config(ckpt, data_dir, tmp_path / "ckpt"))
    data = ["data=synthetic", *TINY_DATA, "data.num_workers=0"]
    folder_metrics = evaluate(eval_config(folder, data_dir, tmp_path / "folder", *data))
    rows, folder_rows = (pd.read_csv(tmp_path / d / "predictions.csv") for d in ("ckpt", "folder"))
    # the tiny synthetic videos are one track of 4 crops each: one clip per video
    assert len(rows) == rows["video_id"].nunique() > 0 and rows["prob"].std() > 1e-3
    assert rows[["index", "video_id", "label"]].equals(folder_rows[["index", "video_id", "label"]])
    assert folder_rows["prob"].to_numpy() == pytest.approx(rows["prob"].to_numpy(), abs=1e-5)
    for key in ("frame/auc", "video/auc", "frame/eer"):
        assert folder_metrics[key] == pytest.approx(metrics[key], abs=1e-4), key
    for out in ("ckpt", "folder"):
        md = (tmp_path / out / "report.md").read_text()
        assert "## Clip level" in md and "of clip probabilities" in md, out
        assert json.loads((tmp_path / out / "metrics.synthetic.test.f1.json").read_text())["unit"] == "clip"


def test_compare_puts_a_frame_model_and_a_clip_model_side_by_side_at_video_level(
    clip_model, data_dir, tmp_path
):
    from dfd.evaluation.tasks import compare, evaluate
    from tests.fake_runs import make_model_run

    clip_ckpt, _ = clip_model
    frame_ckpt = make_model_run(tmp_path / "frame", overrides=[*TINY_DATA, "model.net.input_size=64"])
    cfg = compose_config(
        "compare",
        base_overrides(tmp_path, data_dir)
        + [f"ckpt_a={frame_ckpt}", f"ckpt_b={clip_ckpt}", "data=synthetic", *TINY_DATA, "data.num_workers=0",
           "n_boot=50", f"out_dir={tmp_path / 'compare'}", "+trainer.enable_progress_bar=false"],
    )  # fmt: skip
    result = compare(cfg)  # B is scored on clips of the data A is scored on frames of
    assert result["units"] == {"a": "frame", "b": "clip"} and "frame" not in result
    clip_eval = evaluate(eval_config(clip_ckpt, data_dir, tmp_path / "clip", "data=synthetic", *TINY_DATA))
    video = result["video"]
    assert video["n"] == video["videos_a"] == video["videos_b"]  # every tiny video holds one clip
    assert video["bootstrap_b"]["auc"] == pytest.approx(clip_eval["video/auc"], abs=1e-6)
    assert "A scores frames, B clips" in (tmp_path / "compare" / "compare.md").read_text()
