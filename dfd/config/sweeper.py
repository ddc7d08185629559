"""The Optuna sweeper of ``conf/hparams_search/`` (``hydra.sweeper._target_``): hydra-optuna-sweeper,
with the study kept in :class:`dfd.config.study_storage.HeartbeatStorage` when it lives in a
database, so that many workers share one study and a dead worker's trial is marked FAIL.

The settings come from the task config's ``optuna_heartbeat`` node (``interval_s``,
``grace_period_s``). Hydra finds sweepers among its plugins; :func:`dfd.config.entry.entry`
registers this one. Optuna is imported only when a sweep starts.
"""

from __future__ import annotations

from typing import Any

from hydra.core.plugins import Plugins
from hydra.types import HydraContext, TaskFunction
from hydra_plugins.hydra_optuna_sweeper.optuna_sweeper import OptunaSweeper
from omegaconf import DictConfig


class SharedStudySweeper(OptunaSweeper):
    """hydra-optuna-sweeper with :class:`~dfd.config.study_storage.HeartbeatStorage` for RDB URLs (``optuna_heartbeat`` in the
    task config: ``interval_s``, ``grace_period_s``). In-memory studies are left as they are."""

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        super().setup(hydra_context=hydra_context, task_function=task_function, config=config)
        from dfd.config.study_storage import HeartbeatStorage

        url = self.sweeper.storage
        if isinstance(url, str) and url:
            beat = config.get("optuna_heartbeat") or {}
            self.sweeper.storage = HeartbeatStorage(
                url,
                heartbeat_interval_s=int(beat.get("interval_s", 60)),
                grace_period_s=beat.get("grace_period_s"),
            )

    def sweep(self, arguments: list[str]) -> Any:
        try:
            return super().sweep(arguments)
        finally:
            from dfd.config.study_storage import HeartbeatStorage

            if isinstance(self.sweeper.storage, HeartbeatStorage):
                self.sweeper.storage.close()


def register_sweeper() -> None:
    """Make :class:`SharedStudySweeper` known to Hydra (idempotent)."""
    Plugins.instance().register(SharedStudySweeper)
