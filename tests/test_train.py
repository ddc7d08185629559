"""dfd.train end to end: fast_dev_run per model, learning, resume, DDP, TensorBoard, failures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from lightning.pytorch import Callback
from omegaconf import open_dict
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from dfd.training.tasks import train
from tests.conftest import SMALL_NET, cli_overrides, run_main, run_module


@pytest.mark.parametrize(
    "overrides",
    [["model=mesonet"], ["model=xception", "model.net.pretrained=false", "data.batch_size=2"]],
    ids=["mesonet", "xception"],
)
def test_fast_dev_run(make_cfg, overrides: list[str]) -> None:
    cfg = make_cfg([*overrides, "+trainer.fast_dev_run=true"])
    metrics = train(cfg)
    assert "test/auc" in metrics and "val/auc" in metrics
    assert torch.isfinite(torch.tensor(metrics["test/loss"]))


@pytest.mark.slow  # over 5 s: a training run or a subprocess (docs/testing.md, Tiers)
def test_short_training_beats_chance(make_cfg, tmp_path: Path) -> None:
    cfg = make_cfg(
        [
            "trainer.max_epochs=6",
            "model.optimizer.lr=2e-3",
            "data.num_videos=64",
            "data.frames_per_video=4",
            SMALL_NET,
        ]
    )
    metrics = train(cfg)
    assert metrics["val/auc_best"] > 0.75
    # checkpoints selected on val/auc, plus last.ckpt and the stable best.ckpt link
    ckpts = {p.name for p in (tmp_path / "checkpoints").iterdir()}
    assert {"last.ckpt", "best.ckpt"} <= ckpts
    named = [n for n in ckpts if n.startswith("epoch_")]
    assert len(named) == 1 and named[0].endswith(".ckpt") and "-auc_" in named[0]
    assert abs(float(named[0].split("-auc_")[1][:-5]) - metrics["val/auc_best"]) < 1e-4
    summary = json.loads((tmp_path / "metrics.json").read_text())
    assert summary["best_checkpoint"].endswith(named[0])
    assert (tmp_path / "config.yaml").is_file()


def test_tensorboard_holds_logged_scalars(make_cfg, tmp_path: Path) -> None:
    train(make_cfg(["trainer.max_epochs=2", "trainer.log_every_n_steps=1", SMALL_NET]))
    acc = EventAccumulator(str(tmp_path / "tensorboard"))
    acc.Reload()
    tags = set(acc.Tags()["scalars"])
    expected = {
        "train/loss_step",
        "train/loss_epoch",
        "val/loss",
        "val/auc",
        "val/auc_best",
        "val/ap",
        "val/acc",
        "val/precision",
        "val/recall",
        "val/f1",
    }
    assert expected <= tags
    assert len(acc.Scalars("val/auc")) == 2  # one value per epoch


class _CheckRestoredOptimizer(Callback):
    """Compares the optimizer state at the start of resumed training with the checkpoint's."""

    def __init__(self, ckpt: Path) -> None:
        self.saved = torch.load(ckpt, map_location="cpu", weights_only=False)
        self.matched = False
        self.start_epoch = -1

    def on_train_start(self, trainer, pl_module) -> None:
        # early stopping continues its count: its best score and epochs without improvement
        (stopping,) = [v for k, v in self.saved["callbacks"].items() if k.startswith("EarlyStopping")]
        assert float(trainer.early_stopping_callback.best_score) == pytest.approx(
            float(stopping["best_score"])
        )
        assert trainer.early_stopping_callback.wait_count == stopping["wait_count"]
        now = trainer.optimizers[0].state_dict()
        saved = self.saved["optimizer_states"][0]
        assert now["param_groups"][0]["lr"] == saved["param_groups"][0]["lr"]
        for key, state in saved["state"].items():
            for name, value in state.items():
                assert torch.equal(torch.as_tensor(now["state"][key][name]), torch.as_tensor(value)), name
        self.matched = True
        self.start_epoch = trainer.current_epoch


def test_resume_continues_epoch_step_and_optimizer_state(make_cfg, tmp_path: Path) -> None:
    # a high min_delta: after the first epoch sets the best, none improves on it, so the
    # early-stopping count is non-zero when the run stops
    stopping = ["callbacks.early_stopping.min_delta=0.9", "callbacks.early_stopping.patience=5", SMALL_NET]
    cfg = make_cfg(["trainer.max_epochs=2", "test=false", *stopping])
    train(cfg)
    last = tmp_path / "checkpoints" / "last.ckpt"
    saved = torch.load(last, map_location="cpu", weights_only=False)
    assert saved["epoch"] == 2  # last.ckpt is the start of the next epoch: two epochs done
    (state,) = [v for k, v in saved["callbacks"].items() if k.startswith("EarlyStopping")]
    assert state["wait_count"] == 1

    cfg2 = make_cfg(["trainer.max_epochs=3", "test=false", f"ckpt_path={last}", *stopping])
    check = _CheckRestoredOptimizer(last)
    # cosine T_max follows trainer.max_epochs; the restored schedule keeps the first run's
    with pytest.warns(UserWarning, match=r"'T_max': \(2, 3\).*extend_schedule=true.*model.weights_path"):
        train(cfg2, extra_callbacks=[check])
    assert check.matched and check.start_epoch == 2
    resumed = torch.load(last, map_location="cpu", weights_only=False)
    assert resumed["epoch"] > saved["epoch"]
    assert resumed["global_step"] == 3 * saved["global_step"] // 2
    (state,) = [v for k, v in resumed["callbacks"].items() if k.startswith("EarlyStopping")]
    assert state["wait_count"] == 2  # counted on from the restored 1, not from 0


@pytest.mark.slow  # over 5 s: a training run or a subprocess (docs/testing.md, Tiers)
def test_missing_data_fails_fast_with_the_command(tmp_path: Path) -> None:
    proc = run_module(
        "dfd.train",
        ["model=xception", "data=ffpp", f"paths.data_dir={tmp_path}/nodata", f"paths.log_dir={tmp_path}"],
        timeout=120,
    )
    assert proc.returncode != 0
    err = proc.stderr + proc.stdout
    assert f"{tmp_path}/nodata/ffpp/manifest.parquet" in err and "(or manifest.csv)" in err
    assert "python -m dfd.preprocess data=ffpp" in err
    assert "legacy_xception" not in err  # stopped before any model (or download) was built


@pytest.mark.slow
def test_cli_resume_continues_same_run_and_tensorboard(tmp_path: Path, data_dir: Path) -> None:
    base = cli_overrides(tmp_path, data_dir) + ["test=false", "trainer.log_every_n_steps=1", SMALL_NET]
    first = run_main("dfd.train", [*base, "trainer.max_epochs=1"])
    assert first.returncode == 0, first.stderr[-3000:]
    runs = list((tmp_path / "train" / "runs").iterdir())
    assert len(runs) == 1
    run = runs[0]
    second = run_main("dfd.train", [*base, "trainer.max_epochs=2", f"ckpt_path={run}/checkpoints/last.ckpt"])
    assert second.returncode == 0, second.stderr[-3000:]
    assert list((tmp_path / "train" / "runs").iterdir()) == [run]  # no second run directory
    assert (run / ".hydra" / "config.yaml").is_file()
    assert any(p.name.startswith("resume_") for p in (run / ".hydra").iterdir())
    acc = EventAccumulator(str(run / "tensorboard"))
    acc.Reload()
    steps = [e.step for e in acc.Scalars("val/auc")]
    assert len(steps) == 2 and steps[1] > steps[0]  # the curve continues in the same run
    losses = [e.step for e in acc.Scalars("train/loss_step")]
    assert losses == sorted(losses) and len(set(losses)) == len(losses)  # no gap, no overlap


@pytest.mark.slow
def test_ddp_two_cpu_processes_match_single_process(tmp_path: Path, data_dir: Path) -> None:
    base = [*cli_overrides(tmp_path, data_dir), SMALL_NET]
    # 5 val videos × 3 crops: an odd split, which DistributedSampler pads on 2 ranks
    ddp = run_module(
        "dfd.train",
        [*base, "data.frames_per_video=3", "trainer=ddp_cpu", "trainer.max_epochs=1", "test=false",
         "callbacks.early_stopping=null"],
    )  # fmt: skip
    assert ddp.returncode == 0, ddp.stderr[-4000:]
    runs = list((tmp_path / "train" / "runs").iterdir())
    assert len(runs) == 1, runs  # exactly one run directory for both processes
    summary = json.loads((runs[0] / "metrics.json").read_text())
    ddp_auc = summary["metrics"]["val/auc"]
    single = run_main(  # the reference in this process: DDP above is what starts processes
        "dfd.eval",
        [
            f"ckpt_path={summary['best_checkpoint']}",
            "split=val",
            f"paths.log_dir={tmp_path}",
            f"out_dir={tmp_path / 'eval'}",
            "trainer.accelerator=cpu",
        ],
    )
    assert single.returncode == 0, single.stderr[-4000:]
    metrics_file = next((tmp_path / "eval").glob("metrics.*.val.f1.json"))
    single = json.loads(metrics_file.read_text())["metrics"]
    # every rank's outputs are gathered and the padded repeat dropped, so DDP equals one process
    assert abs(ddp_auc - single["val/auc"]) < 1e-4
    assert abs(summary["metrics"]["val/loss"] - single["val/loss"]) < 1e-4


@pytest.mark.slow
def test_failed_multirun_job_is_logged_and_sweep_continues(tmp_path: Path, data_dir: Path) -> None:
    base = cli_overrides(tmp_path, data_dir) + ["+trainer.fast_dev_run=true", SMALL_NET]
    proc = run_main("dfd.train", ["-m", *base, "data.batch_size=0,4"])
    assert proc.returncode == 0, proc.stderr[-3000:]
    jobs = sorted((next((tmp_path / "train" / "multiruns").iterdir())).glob("[0-9]*"))
    assert len(jobs) == 2
    assert "batch_size" in (jobs[0] / "error.txt").read_text()
    assert (jobs[1] / "metrics.json").is_file()


def test_resume_past_max_epochs_is_refused_before_any_data(make_cfg, tmp_path: Path, monkeypatch) -> None:
    """Resuming at or past trainer.max_epochs ended in ``KeyError: optimized_metric=val/auc_best was not
    logged`` (issue #23): it says there is nothing left to train, and how to go on, before building data."""
    import dfd.training.tasks as train_module
    from dfd.callbacks.resume import NothingToTrain

    train(make_cfg(["trainer.max_epochs=2", "test=false", SMALL_NET]))
    last = tmp_path / "checkpoints" / "last.ckpt"

    def no_data(*args, **kwargs):
        raise AssertionError("the refusal came after building data")

    monkeypatch.setattr(train_module, "instantiate", no_data)
    for max_epochs in (1, 2):
        with pytest.raises(NothingToTrain) as refused:
            train(
                make_cfg([f"trainer.max_epochs={max_epochs}", "test=false", f"ckpt_path={last}", SMALL_NET])
            )
        message = str(refused.value)
        assert f"finished epoch 2 and trainer.max_epochs={max_epochs}" in message
        assert "trainer.max_epochs above 2" in message and "extend_schedule=true" in message
    with pytest.raises(AssertionError, match="after building data"):  # more epochs: it goes on to build
        train(make_cfg(["trainer.max_epochs=3", "test=false", f"ckpt_path={last}", SMALL_NET]))


def test_resume_with_the_same_schedule_does_not_warn(make_cfg, tmp_path: Path) -> None:
    import warnings

    train(make_cfg(["trainer.max_epochs=1", "test=false", "model.scheduler.T_max=5", SMALL_NET]))
    last = tmp_path / "checkpoints" / "last.ckpt"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        train(
            make_cfg(
                [
                    "trainer.max_epochs=2",
                    "test=false",
                    "model.scheduler.T_max=5",
                    f"ckpt_path={last}",
                    SMALL_NET,
                ]
            )
        )
    assert not [w for w in caught if "learning-rate schedule" in str(w.message)]


@pytest.mark.slow
def test_relative_paths_from_another_working_directory(tmp_path: Path) -> None:
    """Train, then evaluate, from a folder that is not the repository, with every path relative."""
    tiny = ["data.num_videos=24", "data.frames_per_video=2", "data.crop_size=64", "data.batch_size=8",
            "data.num_workers=0", "callbacks.rich_progress_bar=null", "trainer.accelerator=cpu",
            "trainer.enable_model_summary=false"]  # fmt: skip
    train = run_module(
        "dfd.train",
        ["paths.data_dir=rel_data", "hydra.run.dir=runs/a", "trainer.max_epochs=1", "model.net.input_size=64",
         "+trainer.limit_train_batches=2", *tiny],
        cwd=tmp_path,
    )  # fmt: skip
    assert train.returncode == 0, train.stderr[-3000:]
    assert (tmp_path / "runs" / "a" / "checkpoints" / "last.ckpt").is_file()
    assert any((tmp_path / "rel_data" / "synthetic").iterdir())
    evaluation = run_module(
        "dfd.eval",
        ["ckpt_path=runs/a/checkpoints/last.ckpt", "out_dir=evals/a", "hydra.run.dir=evals/a",
         "split=val", "trainer.accelerator=cpu", "+trainer.enable_progress_bar=false"],
        cwd=tmp_path,
    )  # fmt: skip
    assert evaluation.returncode == 0, evaluation.stderr[-3000:]
    assert (tmp_path / "evals" / "a" / "metrics.synthetic.val.f1.json").is_file()


@pytest.mark.parametrize(
    ("override", "named"),
    [("trainer.max_epochs=abc", "trainer.max_epochs='abc': expected an integer"),
     ("ckpt_path=nowhere/last.ckpt", "ckpt_path='nowhere/last.ckpt': expected a checkpoint file, an exported model or ensemble folder")],
)  # fmt: skip
def test_bad_run_keys_fail_at_start_naming_the_key(tmp_path: Path, override: str, named: str) -> None:
    proc = run_main("dfd.train", [f"paths.data_dir={tmp_path}/data", f"paths.log_dir={tmp_path}", override])
    assert proc.returncode != 0
    assert named in proc.stderr
    assert "AssertionError" not in proc.stderr
    assert not (tmp_path / "data").exists()  # stopped before the data was built


def test_data_without_a_test_split_skips_testing_up_front(make_cfg, raw_image_trees, caplog) -> None:
    """A flat folder tree has train and val only: the run must say so before training, not crash after."""
    cfg = make_cfg(["data=folder", *raw_image_trees["folder"], "model.net.input_size=64",
                    "+trainer.limit_train_batches=1", "+trainer.limit_val_batches=1"], tiny=False)  # fmt: skip
    with caplog.at_level("WARNING"):
        metrics = train(cfg)
    assert "has no test split, so this run will not test (test=false)" in caplog.text
    assert "data.test_fraction=0.2" in caplog.text
    assert "val/auc" in metrics and not any(k.startswith("test/") for k in metrics)
    with open_dict(cfg):
        cfg.data.test_fraction = 0.3
    assert any(k.startswith("test/") for k in train(cfg))  # carved by group, and tested
