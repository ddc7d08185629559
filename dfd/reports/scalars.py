"""Read the scalars a run logged, from its TensorBoard event files or a Lightning CSV log.

Used for the learning curves and the training-metrics panel of the report.
"""

from __future__ import annotations

import csv
import math
from collections import defaultdict
from pathlib import Path

Scalars = dict[str, list[tuple[int, float]]]


def read_tensorboard(run_dir: str | Path) -> Scalars:
    """All scalar series under ``run_dir`` (searched recursively for ``events.out.tfevents.*``)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out: Scalars = defaultdict(list)
    for events in sorted(Path(run_dir).rglob("events.out.tfevents.*")):
        acc = EventAccumulator(str(events), size_guidance={"scalars": 0})  # 0: keep every point
        acc.Reload()
        for tag in acc.Tags().get("scalars", []):
            out[tag].extend((e.step, float(e.value)) for e in acc.Scalars(tag))
    return {tag: sorted(points) for tag, points in out.items()}


def read_csv_metrics(run_dir: str | Path) -> Scalars:
    """All series of every Lightning ``metrics.csv`` under ``run_dir`` (column per metric)."""
    out: Scalars = defaultdict(list)
    for path in sorted(Path(run_dir).rglob("metrics.csv")):
        with path.open() as f:
            for row in csv.DictReader(f):
                step = int(float(row.get("step") or 0))
                for key, value in row.items():
                    if key in ("step", "epoch") or value in ("", None):
                        continue
                    v = float(value)
                    if math.isfinite(v):
                        out[key].append((step, v))
    return {tag: sorted(points) for tag, points in out.items()}


def read_scalars(run_dir: str | Path) -> Scalars:
    """TensorBoard scalars of a run, or its CSV log when it has no event files."""
    scalars = read_tensorboard(run_dir)
    return scalars or read_csv_metrics(run_dir)
