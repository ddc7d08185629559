"""A 3-trial Optuna sweep on tiny synthetic data through ``python -m dfd.train -m``, then a resume."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest

from dfd.config.optuna_summary import trials_table
from tests.conftest import ROOT, SMALL_NET, cli_overrides, run_main


def _sweep(tmp: Path, data_dir: Path, extra: list[str]) -> Path:
    args = [
        "-m",
        "hparams_search=loss_sampler",
        *cli_overrides(tmp, data_dir),
        SMALL_NET,
        "trainer.max_epochs=1",
        "trainer.num_sanity_val_steps=0",
        "logger=csv",
        *extra,
    ]
    proc = run_main("dfd.train", args)  # in this process: the sweeper, not the process, is under test
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    (sweep,) = list((tmp / "train" / "multiruns").iterdir())  # earlier sweeps are moved away
    return sweep


@pytest.mark.slow
def test_three_trial_sweep_then_resume(tmp_path: Path, data_dir: Path) -> None:
    storage = f"sqlite:///{tmp_path}/optuna/loss_sampler.db"
    first = _sweep(tmp_path, data_dir, ["hydra.sweeper.n_trials=3"])
    study = optuna.load_study(study_name="loss_sampler", storage=storage)
    trials = study.trials
    print(trials_table(study).to_string(index=False))  # shown with pytest -s
    assert [t.state for t in trials] == [optuna.trial.TrialState.COMPLETE] * 3
    # each trial's value is its run's best validation AUC; the sweeper's job i is trial i
    run_best = [
        json.loads((first / str(t.number) / "metrics.json").read_text())["metrics"]["val/auc_best"]
        for t in trials
    ]
    for t, auc in zip(trials, run_best, strict=True):
        assert t.value == pytest.approx(auc)
        assert 0.0 <= t.value <= 1.0 and set(t.params) == {"loss", "sampler", "model.optimizer.lr"}
    assert study.best_value == pytest.approx(max(run_best))
    # the end-of-sweep report
    assert (first / "param_importances.png").stat().st_size > 1000
    assert "best_value: " + str(study.best_value) in (first / "best_params.yaml").read_text()
    assert len((first / "trials.csv").read_text().strip().splitlines()) == 4

    # same study name: the study continues. This trial fails (invalid label smoothing for
    # every loss): it is recorded as FAIL and the sweep still exits cleanly.
    for p in (tmp_path / "train" / "multiruns").iterdir():
        p.rename(tmp_path / f"done_{p.name}")
    _sweep(tmp_path, data_dir, ["hydra.sweeper.n_trials=1", "loss.label_smoothing=2.0"])
    resumed_study = optuna.load_study(study_name="loss_sampler", storage=storage)
    print(trials_table(resumed_study).to_string(index=False))
    resumed = resumed_study.trials
    assert len(resumed) == 4
    assert [t.number for t in resumed] == [0, 1, 2, 3]
    assert [t.value for t in resumed[:3]] == [t.value for t in trials]  # the old trials are kept
    assert resumed[3].state == optuna.trial.TrialState.FAIL and resumed[3].value is None
    # the failed trial leaves the study's best where the first sweep put it
    assert resumed_study.best_value == pytest.approx(study.best_value) and not math.isnan(
        resumed_study.best_value
    )
    assert resumed_study.best_trial.number == study.best_trial.number


# -- one study shared by many workers through a real PostgreSQL server (pgserver, from pip) -------


@pytest.fixture
def postgres(tmp_path: Path):
    """A PostgreSQL server of its own in ``tmp_path``, stopped afterwards; yields its URL."""
    pgserver = pytest.importorskip("pgserver")
    server = pgserver.get_server(tmp_path / "pg", cleanup_mode="stop")
    try:
        yield server.get_uri()
    finally:
        server.cleanup()


def _worker(tmp: Path, name: str, storage: str, *extra: str) -> subprocess.Popen:
    """A sweep worker (``python -m dfd.train -m``) in the background, with its own folders."""
    args = [
        "-m", "hparams_search=loss_sampler", *cli_overrides(tmp / name, tmp / f"data_{name}"),
        "trainer.num_sanity_val_steps=0", "logger=csv", f"hydra.sweeper.storage='{storage}'", *extra,
    ]  # fmt: skip
    env = dict(os.environ, HF_HUB_OFFLINE="1", NO_ALBUMENTATIONS_UPDATE="1", PYTHONWARNINGS="ignore")
    log = open(tmp / f"{name}.log", "w")  # noqa: SIM115 (closed with the process)
    return subprocess.Popen(
        [sys.executable, "-m", "dfd.train", *args], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip


def _finish(proc: subprocess.Popen, tmp: Path, name: str) -> None:
    assert proc.wait(timeout=900) == 0, (tmp / f"{name}.log").read_text()[-3000:]


def _job_values(tmp: Path, name: str) -> list[float]:
    (sweep,) = list((tmp / name / "train" / "multiruns").iterdir())
    return [
        json.loads(p.read_text())["metrics"]["val/auc_best"] for p in sorted(sweep.glob("*/metrics.json"))
    ]


@pytest.mark.slow
def test_two_workers_started_at_once_share_one_postgres_study_without_collisions(tmp_path, postgres):
    from dfd.config.study_storage import storage_url

    workers = {
        name: _worker(
            tmp_path,
            name,
            postgres,
            "hydra.sweeper.n_trials=2",
            "trainer.max_epochs=1",
            SMALL_NET,  # not for the killed worker below: its 200 epochs must outlast the kill
            f"hydra.sweeper.sampler.seed={seed}",
        )  # fmt: skip
        for name, seed in (("a", 1), ("b", 2))
    }
    for name, proc in workers.items():
        _finish(proc, tmp_path, name)
    study = optuna.load_study(study_name="loss_sampler", storage=storage_url(postgres))
    trials = study.trials
    # the sum of both workers' trials, numbered once each, all complete
    assert sorted(t.number for t in trials) == [0, 1, 2, 3]
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in trials)
    # every trial's value is one job's result, and every job's result is in the study
    values = _job_values(tmp_path, "a") + _job_values(tmp_path, "b")
    assert sorted(t.value for t in trials) == pytest.approx(sorted(values))
    # each worker's end-of-sweep report reads the shared study
    for name in workers:
        (sweep,) = list((tmp_path / name / "train" / "multiruns").iterdir())
        assert len((sweep / "trials.csv").read_text().strip().splitlines()) >= 3


@pytest.mark.slow
def test_a_killed_workers_trial_is_marked_failed_by_the_next_worker(tmp_path, postgres):
    from dfd.config.study_storage import storage_url

    beat = ["optuna_heartbeat.interval_s=1", "optuna_heartbeat.grace_period_s=3", "hydra.sweeper.n_trials=1"]
    doomed = _worker(tmp_path, "doomed", postgres, *beat, "trainer.max_epochs=200")
    url = storage_url(postgres)
    deadline = time.time() + 300
    running = []
    while time.time() < deadline and not running and doomed.poll() is None:
        time.sleep(1)
        try:
            study = optuna.load_study(study_name="loss_sampler", storage=url)
        except KeyError:  # the worker has not created the study yet
            continue
        running = study.get_trials(states=(optuna.trial.TrialState.RUNNING,))
    assert running, (tmp_path / "doomed.log").read_text()[-3000:]
    time.sleep(2)  # it beats while it runs
    os.killpg(doomed.pid, signal.SIGKILL)
    doomed.wait()
    study = optuna.load_study(study_name="loss_sampler", storage=url)
    assert study.trials[0].state == optuna.trial.TrialState.RUNNING  # nobody has noticed yet
    time.sleep(4)  # past the grace period
    _finish(_worker(tmp_path, "next", postgres, *beat, "trainer.max_epochs=1"), tmp_path, "next")
    trials = optuna.load_study(study_name="loss_sampler", storage=url).trials
    assert [t.state for t in trials] == [optuna.trial.TrialState.FAIL, optuna.trial.TrialState.COMPLETE]
    assert "had no heartbeat for 3s (their worker died): marked FAIL" in (tmp_path / "next.log").read_text()
