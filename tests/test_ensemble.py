"""dfd.ensemble end to end: two members trained in seconds on complementary cues, every rule fitted on
validation and reported on test, exported to one folder that predicts like the in-memory ensemble."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from omegaconf import open_dict

from tests.conftest import (
    CONF,
    base_overrides,
    built_once,
    compose_config,
    run_main,
    run_module,
    serving,
    synthetic_data,
)

#: Synthetic data whose fakes carry one cue each: a colour-shifted or a resampled inner face.
COMPLEMENTARY_DATA = [
    "data.num_videos=240",
    "data.frames_per_video=4",
    "data.crop_size=64",
    "data.batch_size=16",
    "data.methods=[colour,texture]",
]


@pytest.fixture(scope="session")
def ensemble_members(data_dir, tmp_path_factory) -> tuple[list[Path], Path]:
    """Meso4 at 64 px trained on the colour fakes only, MesoInception4 at 48 px on the texture fakes
    only (12 epochs each): each member sees one cue, so they are complementary."""
    members = built_once(tmp_path_factory, "members", lambda root: _train_members(root, data_dir))
    synthetic_data(data_dir, COMPLEMENTARY_DATA)  # the tests ensemble them on this worker's copy
    return members


def _train_members(root: Path, data_dir: Path) -> tuple[list[Path], Path]:
    from dfd.training.tasks import train

    ckpts = []
    for name, model, size, method in (("colour", "mesonet", 64, "synthetic_colour"),
                                      ("texture", "meso_inception", 48, "synthetic_texture")):  # fmt: skip
        run = root / name
        cfg = compose_config(
            "train",
            base_overrides(run, data_dir) + COMPLEMENTARY_DATA + [
                f"model={model}", f"model.net.input_size={size}", "model.net.dropout=0.2",
                f"data.train_methods=[{method}]", "trainer.max_epochs=12", "callbacks.early_stopping=null",
                "test=false",
            ],
        )  # fmt: skip
        with open_dict(cfg):
            cfg.callbacks.pop("rich_progress_bar", None)
            cfg.data.num_workers = 0
        train(cfg)
        ckpts.append(run / "checkpoints" / "best.ckpt")
    return ckpts, root


def _ensemble(members: list[Path], data_dir: Path, out: Path, method: str, *extra: str):
    """``dfd.ensemble`` in this process (its own process is under test in the refusal below)."""
    proc = run_main(
        "dfd.ensemble",
        [f"members=[{','.join(str(m) for m in members)}]", f"method={method}", f"paths.data_dir={data_dir}",
         f"paths.log_dir={out.parent}", f"hydra.run.dir={out}", "num_workers=0", "n_boot=200", *extra],
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


@pytest.mark.slow
def test_weighted_and_stacking_beat_the_best_member_and_the_report_shows_every_member(
    ensemble_members, data_dir, tmp_path
) -> None:
    members, _ = ensemble_members
    summaries = {}
    for method in ("weighted", "stacking"):
        proc = _ensemble(
            members,
            data_dir,
            tmp_path / method,
            method,
            "ensemble.n_trials=80" if method == "weighted" else "ensemble.k=5",
        )
        assert "ensemble (" in proc.stdout and "val log-loss" in proc.stdout
        summaries[method] = json.loads((tmp_path / method / "summary.json").read_text())
    for method, summary in summaries.items():
        val = summary["val_log_loss"]
        assert val["ensemble"] < min(val["colour"], val["texture"]), (method, val)
        rows = summary["members"]["frame"]
        assert [r["detector"] for r in rows] == ["colour", "texture", "ensemble"]
        ensemble_row = rows[-1]
        assert (
            0 <= ensemble_row["delong_p_vs_best"] <= 1
            and ensemble_row["auc_low"] <= ensemble_row["auc"] <= ensemble_row["auc_high"]
        )
        assert set(summary["members_by_method"]) == {"synthetic_colour", "synthetic_texture"}
        assert "video" in summary["members"] and "by_method" in summary
    weights = summaries["weighted"]["weights"]
    assert all(w >= 0 for w in weights.values()) and sum(weights.values()) == pytest.approx(1.0)
    # each member is best on the cue it was trained on
    by_method = summaries["weighted"]["members_by_method"]
    assert by_method["synthetic_colour"]["colour"] > by_method["synthetic_colour"]["texture"]
    assert by_method["synthetic_texture"]["texture"] > by_method["synthetic_texture"]["colour"]

    out = tmp_path / "stacking"
    report = (out / "report.md").read_text()
    assert "## Members and ensemble" in report and "frame AUC by method" in report
    assert (out / "members_roc.png").stat().st_size > 10_000
    predictions = pd.read_csv(out / "predictions.csv")
    assert {"agreement", "low_agreement", "prob_colour", "prob_texture", "method"} <= set(predictions)
    assert predictions["agreement"].isin([0.0, 0.5, 1.0]).all()
    assert (predictions["low_agreement"] == (predictions["agreement"] < 0.75)).all()
    # the members ran once: the second rule read their outputs from the cache, and the weighted
    # study is stored like the training sweeps
    assert len(list((tmp_path / "ensemble" / "cache").glob("*.safetensors"))) == 4  # 2 members x (val, test)
    assert "cached outputs" in (out / "ensemble.log").read_text()
    import optuna

    (study,) = optuna.get_all_study_summaries(f"sqlite:///{tmp_path}/optuna/ensemble.db")
    assert study.study_name.startswith("ensemble_weighted_") and study.n_trials == 80


@pytest.mark.slow
def test_the_exported_ensemble_predicts_as_the_in_memory_one(
    ensemble_members, data_dir, tmp_path, ffpp_tree
) -> None:
    from PIL import Image
    from skimage import data

    members, _ = ensemble_members
    run = tmp_path / "run"
    _ensemble(members, data_dir, run, "attention", "ensemble.use_features=true", "ensemble.max_epochs=80")
    exported = tmp_path / "exported"
    proc = run_main(
        "dfd.export", [f"ckpt_path={run}", f"out_dir={exported}", f"hydra.run.dir={tmp_path / 'x'}"]
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "(2 members)" in proc.stdout
    assert json.loads((exported / "dfd_ensemble.json").read_text())["agreement_threshold"] == 0.75
    from dfd.inference.export import folder_digest

    digest = folder_digest(exported)  # members included; pinned below
    assert proc.stdout.strip().splitlines()[-1] == f"digest: {digest}"
    Image.fromarray(data.astronaut()).save(tmp_path / "astronaut.jpg")
    video = next((ffpp_tree / "original_sequences/youtube/c23/videos").glob("*.mp4"))
    (tmp_path / "inputs.txt").write_text(f"{tmp_path / 'astronaut.jpg'}\n{video}\n")
    scores, agreement = {}, {}
    for name, model in (("in_memory", run), ("exported", exported)):
        out = tmp_path / f"{name}_predictions" / "predictions.csv"  # never inside the pinned folder
        pin = [f"digest={digest}"] if name == "exported" else []
        proc = run_main("dfd.predict", [f"ckpt_path={model}", *pin, f"input={tmp_path / 'inputs.txt'}", f"output={out}",
                                          "cropper.margin=0.2", "cropper.crop_size=64", f"hydra.run.dir={out.parent}"])  # fmt: skip
        assert proc.returncode == 0, proc.stderr[-3000:]
        rows = pd.read_csv(out)
        assert rows["status"].tolist() == ["ok", "ok"]
        scores[name] = rows["score"].to_numpy()
        agreement[name] = rows["agreement"].to_numpy()
        assert rows["agreement"].between(0, 1).all()
        assert (rows["low_agreement"] == (rows["agreement"] < 0.75)).all()
    assert np.abs(scores["in_memory"] - scores["exported"]).max() < 1e-4
    assert np.abs(agreement["in_memory"] - agreement["exported"]).max() < 1e-6
    # dfd.serve runs the exported ensemble like one model
    import requests

    with serving(exported, tmp_path / "serve", "cropper.margin=0.2", "cropper.crop_size=64") as url:
        with (tmp_path / "astronaut.jpg").open("rb") as f:
            answer = requests.post(f"{url}/predict", files={"file": ("astronaut.jpg", f)}, timeout=120)
    assert answer.status_code == 200, answer.text
    assert answer.json()["score"] == pytest.approx(scores["exported"][0], abs=1e-5)
    assert answer.json()["agreement"] == pytest.approx(agreement["exported"][0])


@pytest.mark.slow
def test_members_trained_on_other_crops_are_refused_naming_the_settings(
    ensemble_members, ffpp_run, data_dir, tmp_path
) -> None:
    members, _ = ensemble_members
    proc = run_module(
        "dfd.ensemble",
        [f"members=[{members[0]},{ffpp_run}]", "method=mean", f"paths.data_dir={data_dir}", f"paths.log_dir={tmp_path}",
         f"hydra.run.dir={tmp_path / 'run'}", "num_workers=0", "data=synthetic", *COMPLEMENTARY_DATA],
    )  # fmt: skip
    assert proc.returncode != 0
    assert "were trained on crops made unlike these" in proc.stderr and "crop_size" in proc.stderr
    assert "check_fingerprints=false" in proc.stderr


def test_the_seed_setup_names_four_trained_experiments_and_a_rule_can_be_swapped() -> None:
    overrides = ["ensemble_setup=ffpp_four", "paths.log_dir=/runs", "paths.output_dir=/tmp/unused"]
    cfg = compose_config("ensemble", overrides)
    assert cfg.ensemble.rule == "weighted" and len(cfg.members) == 4
    for experiment, member in zip(cfg.member_experiments, cfg.members, strict=True):
        assert (CONF / "experiment" / f"{experiment}.yaml").is_file()
        assert member == f"/runs/ffpp_four/{experiment}/checkpoints/best.ckpt"
    assert compose_config("ensemble", [*overrides, "ensemble=stacking"]).ensemble.rule == "stacking"


def test_method_and_setup_are_spelled_as_users_type_them(tmp_path) -> None:
    proc = run_module("dfd.ensemble", ["setup=ffpp_four", "method=confidence", "--cfg", "job"])
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "rule: confidence" in proc.stdout and "/xception_ffpp/checkpoints/best.ckpt" in proc.stdout
