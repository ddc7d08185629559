"""Evaluation end to end on one trained tiny run: the training report with the calibrated
column, dfd.eval (thresholds, guard), robustness falling with severity, A/B comparison,
the cross-dataset entry point and the notebook."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from omegaconf import open_dict

from dfd.callbacks.calibration import load_calibration
from dfd.metrics.robustness import (
    Attack,
    Downscale,
    GaussianBlur,
    GaussianNoise,
    JpegCompression,
    evaluate_robustness,
)

from .conftest import ROOT, _test_overrides, compose_config, run_module

pytestmark = pytest.mark.slow

TINY_RUN = [
    "model.net._target_=tests.tiny_detector.TinyNet",
    "model.net.dropout=0.0",
    "model.net.input_size=64",
    "model.optimizer.lr=3e-3",
    "data.num_videos=120",
    "data.frames_per_video=4",
    "data.image_size=64",
    "data.batch_size=16",
    "callbacks.early_stopping=null",
]


def _train(run_dir: Path, data_dir: Path, epochs: int, seed: int):
    from dfd.train import train

    cfg = compose_config(
        "train",
        _test_overrides(run_dir, data_dir) + TINY_RUN + [f"trainer.max_epochs={epochs}", f"seed={seed}"],
    )
    with open_dict(cfg):
        cfg.callbacks.pop("rich_progress_bar", None)
        cfg.data.num_workers = 0
    return train(cfg)


@pytest.fixture(scope="module")
def run(tmp_path_factory, data_dir):
    """A trained run (8 epochs, test=true) and a weaker one (1 epoch) on the same data."""
    root = tmp_path_factory.mktemp("evalrun")
    with pytest.MonkeyPatch.context() as mp:
        # lets configs name tests.tiny_detector.TinyNet, here and in the subprocesses
        mp.setenv("DFD_TRUSTED_TARGETS", "tests.*")
        metrics = _train(root / "a", data_dir, epochs=8, seed=0)
        _train(root / "b", data_dir, epochs=1, seed=1)
        yield root, metrics


def _eval_cfg(run_root: Path, data_dir: Path, out: Path, *overrides: str):
    cfg = compose_config(
        "eval",
        _test_overrides(out, data_dir)
        + [
            f"ckpt_path={run_root / 'a' / 'checkpoints' / 'best.ckpt'}",
            "+trainer.enable_progress_bar=false",
            *overrides,
        ],
    )
    return cfg


def test_training_run_writes_report_with_calibrated_column(run):
    root, metrics = run
    report = root / "a" / "report"
    summary = json.loads((report / "summary.json").read_text())
    stored = load_calibration(root / "a" / "checkpoints" / "best.ckpt")
    assert summary["calibration"] == stored.to_dict()
    assert summary["frame"]["threshold"] == pytest.approx(stored.thresholds["f1"])
    # the report's AUC is the AUC the module logged on the same test split
    assert summary["frame"]["at_0.5"]["auc"] == pytest.approx(metrics["test/auc"], abs=1e-5)
    # a tiny CPU-trained model: well above chance, run-to-run float noise aside
    assert summary["frame"]["at_0.5"]["auc"] > 0.8
    assert metrics["test/video_auc"] == pytest.approx(summary["video"]["at_0.5"]["auc"])  # in metrics.json
    md = (report / "report.md").read_text()
    assert "calibrated (f1, t = " in md and "| f1 |" in md
    for png in (
        "roc",
        "pr",
        "confusion_frame",
        "confusion_video",
        "threshold_analysis",
        "reliability",
        "learning_curves",
        "training_metrics",
    ):
        assert (report / f"{png}.png").stat().st_size > 5_000


def test_eval_uses_the_chosen_calibrated_threshold(run, data_dir, tmp_path):
    from dfd.eval import evaluate

    root, _ = run
    stored = load_calibration(root / "a" / "checkpoints" / "best.ckpt")
    m = evaluate(_eval_cfg(root, data_dir, tmp_path, "threshold=youden", "video_aggregation=max"))
    assert m["frame/calibrated/threshold"] == pytest.approx(stored.thresholds["youden"])
    assert m["video/calibrated/threshold"] == pytest.approx(stored.video_thresholds["youden"])
    assert m["frame/auc"] == pytest.approx(m["test/auc"], abs=1e-5)
    summary = json.loads((tmp_path / "report" / "summary.json").read_text())
    assert summary["video_aggregation"] == "max"
    written = json.loads(next((root / "a" / "checkpoints").glob("best.*.test.metrics.json")).read_text())
    assert written["metrics"]["frame/calibrated/f1"] == pytest.approx(m["frame/calibrated/f1"])
    assert (m["frame/calibrated/tp"], m["frame/calibrated/fp"]) != (m["frame/tp"], m["frame/fp"]) or (
        stored.thresholds["youden"] == pytest.approx(0.5, abs=0.01)
    )


def test_guard_refuses_test_split_of_selection_data(run, data_dir, tmp_path):
    from dfd.eval import check_selection_guard, data_root, eval_data_config, evaluate, run_config_for

    root, _ = run
    with pytest.raises(PermissionError, match="guard.enabled"):
        evaluate(_eval_cfg(root, data_dir, tmp_path, "guard.enabled=true"))
    # dfd.robustness and dfd.compare share the guard (and the split check) through load_for_eval
    from dfd.compare import compare
    from dfd.robustness import robustness

    ckpt = root / "a" / "checkpoints" / "best.ckpt"
    base = [f"paths.data_dir={data_dir}", f"paths.log_dir={tmp_path}", f"paths.output_dir={tmp_path}"]
    with pytest.raises(PermissionError, match="guard.enabled"):
        robustness(compose_config("robustness", [*base, f"ckpt_path={ckpt}", "guard.enabled=true"]))
    with pytest.raises(PermissionError, match="guard.enabled"):
        compare(compose_config("compare", [*base, f"ckpt_a={ckpt}", f"ckpt_b={ckpt}", "guard.enabled=true"]))
    with pytest.raises(ValueError, match="split='train'"):
        robustness(compose_config("robustness", [*base, f"ckpt_path={ckpt}", "split=train"]))
    run_cfg = run_config_for(root / "a" / "checkpoints" / "best.ckpt")
    data_cfg = eval_data_config(_eval_cfg(root, data_dir, tmp_path), run_cfg)
    for overrides, refused in [
        (["guard.enabled=false"], False),
        (["guard.enabled=true", "split=val"], False),  # validation is for development
        (["guard.enabled=true", "guard.data=[ffpp]"], False),  # the guard lists other data
        (["guard.enabled=true", f"guard.data=[{data_root(data_cfg)}]"], True),
    ]:
        cfg = _eval_cfg(root, data_dir, tmp_path, *overrides)
        if refused:
            with pytest.raises(PermissionError):
                check_selection_guard(cfg, run_cfg, data_cfg)
        else:
            check_selection_guard(cfg, run_cfg, data_cfg)


def test_robustness_auc_falls_with_severity(run, data_dir):
    from dfd.eval import load_model, prepare_data, run_config_for

    root, _ = run
    ckpt = root / "a" / "checkpoints" / "best.ckpt"
    run_cfg = run_config_for(ckpt)
    model = load_model(ckpt, run_cfg)
    dm, _ = prepare_data(compose_config("eval", [f"ckpt_path={ckpt}"]), run_cfg, model)
    dm.prepare_data()
    dm.setup("test")
    spec = model.net.input_spec
    table = evaluate_robustness(
        model.net, dm.test_dataloader(), spec.mean, spec.std,
        corruptions=[JpegCompression([90, 10]), GaussianBlur([0.5, 3.0]), GaussianNoise([0.02, 0.3]), Downscale([0.75, 0.15])],
        attacks=[Attack("fgsm", (0.5 / 255, 8 / 255)), Attack("pgd", (0.5 / 255, 8 / 255), steps=5)],
    )  # fmt: skip
    auc = {(r.perturbation, r.level): r.auc for r in table.itertuples()}
    clean = auc[("clean", 0.0)]
    assert clean > 0.8
    for name in ("jpeg", "blur", "noise", "downscale", "fgsm", "pgd"):
        mild, strong = table[table.perturbation == name].auc.tolist()
        # JPEG at quality 10 costs this model only ~0.03 AUC (the crops were JPEG-compressed)
        assert strong < mild - (0.0 if name == "jpeg" else 0.1), (name, mild, strong)
        assert mild <= clean + 0.02
    assert auc[("pgd", 8 / 255)] < 0.5  # a white-box attack at 8/255 inverts the ranking


def test_robustness_entry_point(run, data_dir, tmp_path):
    root, _ = run
    ckpt = root / "a" / "checkpoints" / "best.ckpt"
    proc = run_module(
        "dfd.robustness",
        [f"ckpt_path={ckpt}", f"paths.data_dir={data_dir}", f"paths.log_dir={tmp_path}", f"out_dir={tmp_path / 'rob'}",
         "max_batches=1", "corruptions.jpeg.levels=[50]", "corruptions.blur=null", "corruptions.brightness_contrast=null",
         "corruptions.downscale=null", "corruptions.noise.levels=[0.3]", "attacks.pgd=null", "attacks.fgsm.epsilons=[0.03]"],
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = (tmp_path / "rob" / "robustness.csv").read_text().splitlines()
    assert lines[0].startswith("perturbation,level,auc") and len(lines) == 1 + 4
    assert (tmp_path / "rob" / "robustness.png").stat().st_size > 5_000


def test_compare_entry_point(run, data_dir, tmp_path):
    root, _ = run
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


def test_cross_eval_entry_point(run, data_dir, tmp_path):
    root, _ = run
    proc = run_module(
        "dfd.cross_eval",
        [f"+checkpoints.long={root / 'a' / 'checkpoints' / 'best.ckpt'}",
         f"+checkpoints.short={root / 'b' / 'checkpoints' / 'best.ckpt'}", "datasets=[synthetic]",
         f"paths.data_dir={data_dir}", f"paths.log_dir={tmp_path}", f"out_dir={tmp_path}",
         'eval_overrides=["trainer.accelerator=cpu","+trainer.enable_progress_bar=false","data.num_workers=0"]'],
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    md = (tmp_path / "cross_dataset_frame_auc.md").read_text().splitlines()
    rows = [line for line in md if line.startswith("| ")]
    assert len(rows) == 1 + 2 and rows[0].startswith("| trained on | synthetic |")
    assert (tmp_path / "cross_dataset_video_auc.png").is_file()
    assert (tmp_path / "long_on_synthetic" / "summary.json").is_file()


def test_notebook_runs_on_the_run(run):
    import nbformat
    from nbclient import NotebookClient

    root, _ = run
    nb = nbformat.read(ROOT / "notebooks" / "inspect_run.ipynb", as_version=4)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), (
        "commit the notebook without outputs"
    )
    os.environ["DFD_RUN_DIR"] = str(root / "a")
    try:
        NotebookClient(
            nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}
        ).execute()
    finally:
        os.environ.pop("DFD_RUN_DIR", None)
    text = "\n".join(
        o.get("text", "") for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "stream"
    )
    assert "misclassified at the calibrated threshold" in text
    images = sum("image/png" in o.get("data", {}) for c in nb.cells for o in c.get("outputs", []))
    assert images >= 8  # the report's figures and the crops
