"""Optuna sweeps that many machines share through one database, and that notice dead workers.

``python -m dfd.train -m hparams_search=loss_sampler hydra.sweeper.storage=postgresql://user:pw@host/db``
started on several machines (or several times on one) runs one study: every worker asks the
study for its next trial, so trials are neither repeated nor lost, and the study ends with the sum
of the workers' ``n_trials``. Optuna's RDB storage does the sharing (sqlite, PostgreSQL, MySQL).

hydra-optuna-sweeper asks and tells trials itself, outside ``study.optimize``, so Optuna's
heartbeat never runs for them: a worker killed mid-trial would leave its trial RUNNING forever.
:class:`HeartbeatStorage` beats for the trials its own process asked for, from a background
thread, until they are told; every worker also fails the study's stale trials (no beat for
``grace_period_s``) when it starts and while it runs. :class:`dfd.config.sweeper.SharedStudySweeper`
is the sweeper that puts this storage in place.

URLs are taken as users write them: ``postgresql://`` uses whichever PostgreSQL driver is
installed (psycopg 3 or psycopg2, a dependency), ``mysql://`` likewise (mysqlclient or PyMySQL:
``pip install 'dfd[mysql]'``).
"""

from __future__ import annotations

import importlib.util
import logging
import threading
import time
import warnings
from typing import Any

import optuna
from optuna.storages import RDBStorage
from optuna.trial import TrialState
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

log = logging.getLogger(__name__)

#: tries at opening a storage while other workers create its tables
SCHEMA_ATTEMPTS = 5

#: drivers SQLAlchemy can use for a URL without one, in order of preference, and the pip package
DRIVERS = {
    "postgresql": ([("psycopg", "psycopg"), ("psycopg2", "psycopg2")], "psycopg2-binary"),
    "mysql": ([("mysqldb", "MySQLdb"), ("pymysql", "pymysql")], "'dfd[mysql]' (PyMySQL)"),
}


def storage_url(url: str) -> str:
    """``url`` with the driver of an installed package when it names none (``postgresql://`` →
    ``postgresql+psycopg2://`` when only psycopg2 is installed); an error naming the package to
    install when there is none."""
    parsed = make_url(url)
    if parsed.drivername not in DRIVERS:
        return url
    candidates, package = DRIVERS[parsed.drivername]
    for driver, module in candidates:
        if importlib.util.find_spec(module) is not None:
            return parsed.set(drivername=f"{parsed.drivername}+{driver}").render_as_string(
                hide_password=False
            )
    raise ModuleNotFoundError(
        f"hydra.sweeper.storage={parsed.render_as_string()} needs a {parsed.drivername} driver: pip install {package}"
    )


class HeartbeatStorage(RDBStorage):
    """Optuna's RDB storage, plus heartbeats for the trials this process asks for (see the module
    docstring). A trial without a beat for ``grace_period_s`` is failed by any worker of the study."""

    def __init__(self, url: str, heartbeat_interval_s: int = 60, grace_period_s: int | None = None) -> None:
        # workers started together on an empty database all create its tables; on PostgreSQL the
        # losers of that race get "already exists" errors, and a second try finds the tables made
        for attempt in range(SCHEMA_ATTEMPTS):
            try:
                with warnings.catch_warnings():  # Optuna flags the heartbeat arguments experimental
                    warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                    super().__init__(
                        storage_url(url),
                        heartbeat_interval=heartbeat_interval_s,
                        grace_period=grace_period_s,
                        engine_kwargs={"pool_pre_ping": True},  # a restarted database is reconnected
                    )
                break
            except (IntegrityError, ProgrammingError, OperationalError) as err:
                if attempt == SCHEMA_ATTEMPTS - 1:
                    raise
                log.info(
                    "the study's tables are being created by another worker (%s); retrying",
                    type(err).__name__,
                )
                time.sleep(0.5 * (attempt + 1))
        # Optuna warns on every ask() that heartbeats belong to study.optimize; these trials get theirs here
        warnings.filterwarnings(
            "ignore", message="Heartbeat of storage is supposed to be used with Study.optimize"
        )
        self._mine: set[int] = set()
        self._studies: set[int] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # the background thread and lock do not travel (a pickled storage rebuilds its engine too)
    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        for key in ("_lock", "_stop", "_thread"):
            state.pop(key, None)
        state["_mine"], state["_studies"] = set(), set()
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        self._lock, self._stop, self._thread = threading.Lock(), threading.Event(), None

    def _create_new_trial(self, study_id: int, template_trial: Any = None) -> Any:
        # (the private method: Optuna's cache in front of this storage calls it, not create_new_trial)
        if study_id not in self._studies:
            self._studies.add(study_id)
            self.fail_stale(study_id)
        trial = super()._create_new_trial(study_id, template_trial)
        if trial.state == TrialState.RUNNING:
            with self._lock:
                self._mine.add(trial._trial_id)
            self.record_heartbeat(trial._trial_id)
            self._start()
        return trial

    def set_trial_state_values(self, trial_id: int, state: TrialState, values: Any = None) -> bool:
        done = super().set_trial_state_values(trial_id, state, values)
        if state.is_finished():
            with self._lock:
                self._mine.discard(trial_id)
        return done

    def fail_stale(self, study_id: int) -> list[int]:
        """Mark FAIL the study's RUNNING trials whose worker stopped beating; return their numbers."""
        failed = []
        for trial_id in self._get_stale_trial_ids(study_id):
            try:
                if super().set_trial_state_values(trial_id, state=TrialState.FAIL):
                    failed.append(self.get_trial_number_from_id(trial_id))
            except optuna.exceptions.UpdateFinishedTrialError:
                pass  # another worker failed it first
        if failed:
            log.warning(
                "trials %s of study %s had no heartbeat for %ss (their worker died): marked FAIL",
                failed, self.get_study_name_from_id(study_id), self.grace_period or 2 * self.heartbeat_interval,
            )  # fmt: skip
        return failed

    def _start(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._beat, name="optuna-heartbeat", daemon=True)
            self._thread.start()

    def _beat(self) -> None:
        while not self._stop.wait(self.heartbeat_interval):
            with self._lock:
                mine = list(self._mine)
            try:
                for trial_id in mine:
                    self.record_heartbeat(trial_id)
                for study_id in list(self._studies):
                    self.fail_stale(study_id)
            except Exception as err:  # a database hiccup must not end the sweep; the next beat retries
                log.warning("optuna heartbeat failed (%s); retrying in %ss", err, self.heartbeat_interval)

    def close(self) -> None:
        """Stop beating (the process is done with the study)."""
        self._stop.set()
