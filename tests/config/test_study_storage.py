"""Study storage URLs as users write them, and heartbeats on a local sqlite study."""

from __future__ import annotations

import time

import optuna
import pytest

from dfd.config.study_storage import HeartbeatStorage, storage_url


def test_a_postgresql_url_without_a_driver_gets_the_installed_one():
    url = storage_url("postgresql://user:secret@db.example.org:5432/sweeps")
    assert url.startswith("postgresql+psycopg") and url.endswith("user:secret@db.example.org:5432/sweeps")
    assert storage_url("postgresql+psycopg2://u@h/d") == "postgresql+psycopg2://u@h/d"  # kept as given
    assert storage_url("sqlite:///x.db") == "sqlite:///x.db"


def test_a_mysql_url_without_a_driver_says_what_to_install(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name in ("MySQLdb", "pymysql") else real(name, *a),
    )
    with pytest.raises(ModuleNotFoundError, match=r"needs a mysql driver: pip install 'dfd\[mysql\]'"):
        storage_url("mysql://u:p@h/d")


def test_a_trial_whose_worker_stopped_beating_is_failed_and_a_told_one_stops_beating(tmp_path):
    url = f"sqlite:///{tmp_path / 'study.db'}"
    dead = HeartbeatStorage(url, heartbeat_interval_s=1, grace_period_s=1)
    study = optuna.create_study(study_name="s", storage=dead)
    abandoned = study.ask()  # its worker "dies": no more beats
    dead.close()
    told = study.ask()
    study.tell(told, 0.5)
    assert dead._mine == {abandoned._trial_id}  # a told trial is no longer beaten for
    time.sleep(2.5)
    alive = HeartbeatStorage(url, heartbeat_interval_s=1, grace_period_s=1)
    other = optuna.load_study(study_name="s", storage=alive)
    other.ask()  # a worker's first trial fails the stale ones
    states = [t.state for t in other.trials]
    assert states == [
        optuna.trial.TrialState.FAIL,
        optuna.trial.TrialState.COMPLETE,
        optuna.trial.TrialState.RUNNING,
    ]
    alive.close()
