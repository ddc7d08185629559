"""Training run directories read back for comparison: found from folders and globs, with their overrides,
final metrics, learning curves and status.

A ``dfd.train`` run directory holds ``.hydra/overrides.yaml`` (the command-line overrides),
``.hydra/config.yaml``, ``metrics.json`` once it has finished, its TensorBoard events or CSV log
and ``checkpoints/``; a failed job of a multirun holds ``error.txt`` instead of ``metrics.json``.
A Hydra multirun directory holds one such directory per job (``0/``, ``1/``, …) and ``multirun.yaml``.
"""

from __future__ import annotations

import glob
import json
import math
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from dfd.reports.scalars import Scalars, read_scalars

#: Overrides that never tell runs apart: Hydra's own, where files go, what a run resumed from.
NOISE = ("hydra", "paths", "ckpt_path")


@dataclass
class Run:
    """One training run directory and what it recorded."""

    path: Path
    #: override key (``model``, ``trainer.max_epochs``, ``~callbacks.x``) → value, noise removed
    overrides: dict[str, str]
    #: final values from ``metrics.json`` (``val/auc_best`` else the max of the ``val/auc`` curve)
    metrics: dict[str, float] = field(default_factory=dict)
    #: the logged series, tag → ``[(step, value)]``
    scalars: Scalars = field(default_factory=dict)
    #: ``done`` (has metrics.json), ``failed`` (error.txt), ``preempted`` or ``incomplete``
    status: str = "done"
    #: why it is not done (the last line of error.txt, …)
    note: str = ""
    seed: int | None = None
    #: what one of its samples is: ``clip`` for a clip model (its net has a ``clip_len``), else ``frame``
    unit: str = "frame"

    @property
    def done(self) -> bool:
        return self.status == "done"


def natural_key(text: str) -> list[int | str]:
    """Sort key that puts job ``10`` after job ``9``."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", text)]


def is_training_run(path: Path) -> bool:
    """Whether ``path`` is the directory of a ``dfd.train`` run: it has ``.hydra/overrides.yaml``, and
    its ``.hydra/config.yaml`` (when there is one) is a training config (it has the ``train`` key),
    not another command's."""
    if not (path / ".hydra" / "overrides.yaml").is_file():
        return False
    config = path / ".hydra" / "config.yaml"
    if not config.is_file():
        return True
    loaded = yaml.safe_load(config.read_text())
    return isinstance(loaded, dict) and "train" in loaded


def run_dirs_under(top: Path) -> Iterator[Path]:
    """Every training run directory at or below ``top`` in natural order; a run's own folders are not searched."""
    for root, dirs, _ in os.walk(top):
        if is_training_run(Path(root)):
            dirs.clear()
            yield Path(root)
            continue
        dirs[:] = sorted((d for d in dirs if not d.startswith(".")), key=natural_key)


def expand(pattern: str, base: str | Path = ".") -> list[Path]:
    """The files and folders ``pattern`` names (``~`` and globs expanded; relative to ``base``)."""
    pattern = os.path.expanduser(pattern)
    if not os.path.isabs(pattern):
        pattern = os.path.join(base, pattern)
    if glob.has_magic(pattern):
        return [Path(p) for p in sorted(glob.glob(pattern), key=natural_key)]
    return [Path(pattern)] if os.path.exists(pattern) else []


def find_run_dirs(patterns: Sequence[str], base: str | Path = ".") -> list[Path]:
    """The training run directories the given run folders, multirun folders and globs hold, each once,
    in the order given. ``FileNotFoundError`` names an argument that matches nothing or holds no run."""
    if not patterns:
        raise FileNotFoundError(
            "no runs given: python -m dfd.summarize <run dir | multirun dir | glob> ... "
            "(or runs=[<dir>,<glob>]), e.g. python -m dfd.summarize outputs/train/multiruns/<date>_<time>"
        )
    found: dict[Path, None] = {}
    for pattern in patterns:
        matches = expand(str(pattern), base)
        if not matches:
            where = "" if os.path.isabs(os.path.expanduser(pattern)) else f" in {Path(base).resolve()}"
            raise FileNotFoundError(
                f"runs: {pattern!r} matches no file or folder{where}; "
                "give a dfd.train run directory, a multirun directory or a quoted glob, "
                "e.g. python -m dfd.summarize outputs/train/multiruns/<date>_<time> 'outputs/train/runs/*'"
            )
        runs = [run for match in matches if match.is_dir() for run in run_dirs_under(match)]
        if not runs:
            raise FileNotFoundError(
                f"runs: {pattern!r} holds no dfd.train run (a folder with .hydra/overrides.yaml and a "
                "training config); give the run directory or the multirun directory dfd.train -m wrote, "
                "e.g. outputs/train/multiruns/<date>_<time>"
            )
        found.update((run.resolve(), None) for run in runs)
    return list(found)


def override_items(lines: Iterable[str], ignore: Sequence[str] = NOISE) -> dict[str, str]:
    """``["seed=1", "+trainer.x=2", "~logger"]`` → ``{"seed": "1", "trainer.x": "2", "~logger": ""}``,
    without the keys in ``ignore`` or below them (``hydra`` drops ``hydra.run.dir`` and ``hydra/launcher``)."""
    out = {}
    for line in lines:
        key, _, value = str(line).partition("=")
        key = key.lstrip("+")
        if any(key.lstrip("~") == p or key.lstrip("~").startswith((f"{p}.", f"{p}/")) for p in ignore):
            continue
        out[key] = value
    return out


def _status(path: Path) -> tuple[str, str]:
    if (path / "metrics.json").is_file():
        return "done", ""
    error = path / "error.txt"
    if error.is_file():
        lines = [line.strip() for line in error.read_text(errors="replace").splitlines() if line.strip()]
        return "failed", (lines[-1] if lines else "error.txt is empty")[:200]
    if (path / "checkpoints" / "preempted.json").is_file():
        return "preempted", "stopped by a signal; resume with ckpt_path=<run>/checkpoints/last.ckpt"
    return "incomplete", "no metrics.json: still running, or stopped before the end"


def load_run(path: str | Path, ignore: Sequence[str] = NOISE) -> Run:
    """Read one run directory (its metrics and curves when it has them)."""
    path = Path(path)
    lines = yaml.safe_load((path / ".hydra" / "overrides.yaml").read_text()) or []
    config_file = path / ".hydra" / "config.yaml"
    config = yaml.safe_load(config_file.read_text()) if config_file.is_file() else {}
    seed = config.get("seed") if isinstance(config, dict) else None
    net = ((config.get("model") or {}).get("net") or {}) if isinstance(config, dict) else {}
    unit = "clip" if isinstance(net, dict) and net.get("clip_len") is not None else "frame"
    status, note = _status(path)
    metrics: dict[str, float] = {}
    if status == "done":
        record = json.loads((path / "metrics.json").read_text())
        metrics = {
            k: float(v)
            for k, v in record.get("metrics", {}).items()
            if isinstance(v, int | float) and not isinstance(v, bool)
        }
    scalars = read_scalars(path)
    if "val/auc_best" not in metrics:
        curve = [v for _, v in scalars.get("val/auc", []) if math.isfinite(v)]
        if curve:
            metrics["val/auc_best"] = max(curve)
    return Run(path, override_items(lines, ignore), metrics, scalars, status, note, seed, unit)


def load_runs(patterns: Sequence[str], base: str | Path = ".", ignore: Sequence[str] = NOISE) -> list[Run]:
    """:func:`load_run` of every run directory :func:`find_run_dirs` finds."""
    return [load_run(path, ignore) for path in find_run_dirs(patterns, base)]


def key_overrides(runs: Sequence[Run]) -> list[str]:
    """The override keys whose value is not the same in every run (a key some runs lack counts), in
    first-seen order."""
    keys = list(dict.fromkeys(k for run in runs for k in run.overrides))
    return [k for k in keys if len({run.overrides.get(k) for run in runs}) > 1]


def common_overrides(runs: Sequence[Run]) -> dict[str, str]:
    """The overrides every run shares."""
    varying = set(key_overrides(runs))
    return {k: v for k, v in (runs[0].overrides.items() if runs else ()) if k not in varying}


def describe(overrides: dict[str, str], keys: Sequence[str]) -> str:
    """``"model=xception seed=1"``: the ``keys`` a run overrides, as typed."""
    return " ".join(k if k.startswith("~") else f"{k}={overrides[k]}" for k in keys if k in overrides)


def short_names(paths: Sequence[Path]) -> list[str]:
    """Each path relative to the folder all of them share (``0``, ``1``; ``a/0``, ``b/runs/x``)."""
    if len(paths) == 1:
        return [paths[0].name]
    common = Path(os.path.commonpath([str(p) for p in paths]))
    return [str(p.relative_to(common)) or p.name for p in paths]
