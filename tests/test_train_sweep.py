"""A 3-trial Optuna sweep on tiny synthetic data through ``python -m dfd.train -m``, then a resume."""

from __future__ import annotations

import json
import math
from pathlib import Path

import optuna
import pytest

from dfd.utils.optuna_summary import trials_table
from tests.conftest import cli_overrides, run_module


def _sweep(tmp: Path, data_dir: Path, extra: list[str]) -> Path:
    args = [
        "-m",
        "hparams_search=loss_sampler",
        *cli_overrides(tmp, data_dir),
        "trainer.max_epochs=1",
        "trainer.num_sanity_val_steps=0",
        "logger=csv",
        *extra,
    ]
    proc = run_module("dfd.train", args)
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
