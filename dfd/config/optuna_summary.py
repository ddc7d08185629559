"""End-of-sweep report for Optuna studies run through hydra-optuna-sweeper.

The sweeper (hydra-optuna-sweeper, on Optuna: Akiba et al., "Optuna: A Next-generation
Hyperparameter Optimization Framework", KDD 2019) keeps the study in ``hydra.sweeper.storage``
and only logs the best trial. :func:`summarize_study` reads the study back and writes, beside
the sweep:

- ``best_params.yaml``: best value, trial number and parameters;
- ``trials.csv``: one row per trial (number, state, value, parameters, duration), also printed;
- ``param_importances.png``: Optuna's parameter importances (fANOVA), when at least two
  trials finished.

:class:`OptunaSummaryCallback` is the Hydra callback (``hydra.callbacks``) that creates the
sqlite folder before the sweep (sqlite does not create folders) and calls
:func:`summarize_study` after it. It is Hydra glue, so it imports Hydra.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

import optuna
import pandas as pd
import yaml
from hydra.experimental.callback import Callback
from sqlalchemy.engine import make_url

from dfd.config.study_storage import storage_url

log = logging.getLogger(__name__)

__all__ = ["OptunaSummaryCallback", "ensure_sqlite_dir", "summarize_study", "trials_table"]


def ensure_sqlite_dir(storage: str | None) -> None:
    """Create the folder of a ``sqlite:///path/to/file.db`` storage; other URLs are left alone."""
    if not storage:
        return
    url = make_url(storage)
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        Path(url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)


def trials_table(study: optuna.Study) -> pd.DataFrame:
    """One row per trial: number, state, value, parameters (``params_*`` columns) and duration (s)."""
    frame = study.trials_dataframe(attrs=("number", "state", "value", "params", "duration"))
    if "duration" in frame:
        frame["duration"] = frame["duration"].dt.total_seconds().round(1)
    return frame


def summarize_study(study: optuna.Study, out_dir: str | Path) -> dict[str, Any]:
    """Print and save the best parameters, the trial table and the importance plot; return the best.

    Returns ``{"best_value", "best_trial", "best_params", "n_complete", "n_failed"}``; the best
    entries are ``None`` when no trial completed.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    table = trials_table(study)
    table.to_csv(out_dir / "trials.csv", index=False)
    states = [t.state for t in study.trials]
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    summary: dict[str, Any] = {
        "study_name": study.study_name,
        "direction": study.direction.name.lower(),
        "n_complete": len(complete),
        "n_failed": states.count(optuna.trial.TrialState.FAIL),
        "best_value": None,
        "best_trial": None,
        "best_params": None,
    }
    if complete:
        best = study.best_trial
        summary.update(best_value=float(best.value), best_trial=best.number, best_params=dict(best.params))
    (out_dir / "best_params.yaml").write_text(yaml.safe_dump(summary, sort_keys=False))
    print(
        f"Optuna study {study.study_name!r}: {len(study.trials)} trials, {summary['n_complete']} complete, {summary['n_failed']} failed"
    )
    print(table.to_string(index=False))
    print(f"best value {summary['best_value']} (trial {summary['best_trial']}): {summary['best_params']}")
    if len(complete) >= 2:
        _plot_importances(study, out_dir / "param_importances.png")
    else:
        log.info("parameter importances need at least 2 complete trials; skipped the plot")
    return summary


def _plot_importances(study: optuna.Study, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")  # sweeps run headless
    import matplotlib.pyplot as plt
    from optuna.visualization.matplotlib import plot_param_importances

    try:
        with warnings.catch_warnings():  # the matplotlib backend is flagged experimental since 2.2
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            ax = plot_param_importances(study)
    except (RuntimeError, ValueError) as err:  # e.g. every trial drew the same parameters
        log.warning("could not compute parameter importances: %s", err)
        return
    ax.figure.set_size_inches(7, 4)
    ax.figure.tight_layout()
    ax.figure.savefig(path, dpi=120)
    plt.close(ax.figure)


class OptunaSummaryCallback(Callback):
    """Hydra callback: make the sqlite folder before a sweep, write :func:`summarize_study` after.

    Args:
        out_dir: where to write the report; default: the sweep folder (``hydra.sweep.dir``).
    """

    def __init__(self, out_dir: str | None = None) -> None:
        self.out_dir = out_dir

    def on_multirun_start(self, config: Any, **kwargs: Any) -> None:
        ensure_sqlite_dir(config.hydra.sweeper.get("storage"))

    def on_multirun_end(self, config: Any, **kwargs: Any) -> None:
        sweeper = config.hydra.sweeper
        storage, name = sweeper.get("storage"), sweeper.get("study_name")
        if not storage or not name:
            log.warning(
                "no hydra.sweeper.storage/study_name: the study lived in memory, nothing to summarise"
            )
            return
        study = optuna.load_study(study_name=name, storage=storage_url(storage))
        summarize_study(study, self.out_dir or config.hydra.sweep.dir)
