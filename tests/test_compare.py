"""dfd.compare: bootstrap intervals and DeLong's test of two trained runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf
from sklearn.metrics import roc_auc_score

import dfd.evaluation.tasks
from dfd.metrics.calibration import calibrate
from dfd.metrics.detection import ConfidentStrategy, aggregate_video
from tests.conftest import run_module


@pytest.mark.slow
def test_compare_entry_point(trained_runs, data_dir, tmp_path):
    root, _ = trained_runs
    a, b = (root / r / "checkpoints" / "best.ckpt" for r in ("a", "b"))
    proc = run_module(
        "dfd.compare",
        [f"ckpt_a={a}", f"ckpt_b={b}", f"paths.data_dir={data_dir}", f"paths.log_dir={tmp_path}",
         f"out_dir={tmp_path}", "n_boot=300", "trainer.accelerator=cpu", "+trainer.enable_progress_bar=false"],
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads((tmp_path / "compare.json").read_text())
    frame = result["frame"]
    summary_a = json.loads((root / "a" / "report" / "summary.json").read_text())
    assert frame["bootstrap_a"]["auc"] == pytest.approx(summary_a["frame"]["at_0.5"]["auc"], abs=1e-5)
    assert frame["delong"]["auc_a"] == pytest.approx(frame["bootstrap_a"]["auc"])
    assert 0 <= frame["delong"]["p_value"] <= 1 and frame["n"] == summary_a["n_samples"]
    assert "DeLong's test" in (tmp_path / "compare.md").read_text()


def test_confident_aggregation_uses_each_runs_own_parameters(tmp_path, monkeypatch):
    """Run A was calibrated with its own `confident` parameters, run B with none stored: compare
    aggregates A's videos with A's and B's with the defaults (scoring is stubbed)."""
    g = torch.Generator().manual_seed(0)
    video_idx = torch.arange(60).repeat_interleave(8)
    labels = (torch.arange(60) % 2)[video_idx]
    scores = {k: {"logits": (1.5 * labels.float() - 0.75 + 1.5 * torch.randn(480, generator=g))[:, None],
                  "labels": labels, "video_idx": video_idx} for k in ("a.ckpt", "b.ckpt")}  # fmt: skip
    own = ConfidentStrategy(fake_threshold=0.6, real_threshold=0.4, fake_fraction=0.25)
    cal = calibrate(scores["a.ckpt"]["logits"], labels, video_idx, confident=own)
    torch.save({"calibration": cal.to_dict()}, tmp_path / "a.ckpt")
    torch.save({}, tmp_path / "b.ckpt")
    monkeypatch.setattr(dfd.evaluation.tasks, "resolve_checkpoint", lambda path, key: Path(path))
    monkeypatch.setattr(dfd.evaluation.tasks, "run_config_for", lambda path: None)
    monkeypatch.setattr(
        dfd.evaluation.tasks, "score_split", lambda cfg, path, data_run_cfg: scores[path.name]
    )
    cfg = OmegaConf.create(
        {"seed": 0, "ckpt_a": str(tmp_path / "a.ckpt"), "ckpt_b": str(tmp_path / "b.ckpt"), "split": "test",
         "n_boot": 50, "alpha": 0.05, "video_aggregation": "confident", "out_dir": str(tmp_path / "out"),
         "allow_pickle": False}
    )  # fmt: skip
    video = dfd.evaluation.tasks.compare(cfg)["video"]

    def video_auc(key: str, confident: ConfidentStrategy) -> float:
        probs = torch.sigmoid(scores[key]["logits"][:, 0])
        vp, vl, _ = aggregate_video(probs, labels, video_idx, "confident", confident)
        return roc_auc_score(vl.numpy(), vp.numpy())

    assert video["bootstrap_a"]["auc"] == pytest.approx(video_auc("a.ckpt", own))
    # the parameters matter on these scores: the defaults would have given A another AUC
    assert video_auc("a.ckpt", own) != pytest.approx(video_auc("a.ckpt", ConfidentStrategy()))
    assert video["bootstrap_b"]["auc"] == pytest.approx(video_auc("b.ckpt", ConfidentStrategy()))
    assert video["confident_a"]["fake_threshold"] == 0.6 and video["confident_b"]["fake_threshold"] == 0.8


def test_a_checkpoint_against_its_exported_folder_agrees_per_method(data_dir, tmp_path):
    """ckpt_b=<exported folder> (what dfd.import_weights writes): scored by its detector on A's data,
    the same AUCs at every level and per method, DeLong's p = 1."""
    from dfd.artifacts.tasks import export
    from tests.conftest import TINY_DATA, base_overrides, compose_config
    from tests.fake_runs import make_model_run

    with torch.random.fork_rng():
        torch.manual_seed(0)
        ckpt = make_model_run(tmp_path / "run")
    checkpoint = torch.load(ckpt, weights_only=True)
    checkpoint["state_dict"]["net.head.5.weight"] *= 30  # scores spread: ranks, not ties
    torch.save(checkpoint, ckpt)
    folder = export(
        compose_config(
            "export", [f"ckpt_path={ckpt}", f"out_dir={tmp_path / 'model'}", f"paths.output_dir={tmp_path}"]
        )
    )
    overrides = [o for o in base_overrides(tmp_path, data_dir) if not o.startswith("trainer.num_sanity")]
    cfg = compose_config("compare", [*overrides, f"ckpt_a={ckpt}", f"ckpt_b={folder}", "data=synthetic", *TINY_DATA,
                                     "data.num_workers=0", "data.methods=[swap,colour]", f"out_dir={tmp_path / 'out'}",
                                     "n_boot=200", "+trainer.enable_progress_bar=false"])  # fmt: skip
    result = dfd.evaluation.tasks.compare(cfg)
    for level in ("frame", "video"):
        r = result[level]
        assert r["bootstrap_a"]["auc"] == pytest.approx(r["bootstrap_b"]["auc"], abs=1e-4)
        assert r["delong"]["p_value"] > 0.9
        assert len(r["by_method"]) == 2
        for m in r["by_method"].values():
            assert m["bootstrap_a"]["auc"] == pytest.approx(m["bootstrap_b"]["auc"], abs=1e-4)
            assert m["bootstrap_a"]["low"] <= m["bootstrap_a"]["auc"] <= m["bootstrap_a"]["high"]
    assert "By manipulation method" in (tmp_path / "out" / "compare.md").read_text()
