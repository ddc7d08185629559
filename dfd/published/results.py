"""Published numbers: ``conf/published/results.yaml``, the one file dfd keeps them in.

Per detector (Xception, EfficientNet-B4, F3Net, Meso4, MesoInception-4 from DeepfakeBench's table;
SBI from its README; Effort, GenD and DF40's protocols empty, with the reason), per protocol: the
level (frame or video), the metric, the source (paper, table, URL, when it was read) and the values
keyed by dfd's data config name (``celebdf``) or a protocol's evaluation entry (``ffpp_c40``), with
``<dataset>/<method>`` for one method's fakes against the dataset's reals. The weights catalogue
(``conf/weights/*.yaml``: ``reported: [{detector, protocol}]``) and the protocol reports
(:mod:`dfd.evaluation.protocol`) read their numbers here. Plain data, read with ``yaml.safe_load``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from dfd.core.errors import DfdError

LEVELS = ("frame", "video")


class PublishedError(DfdError, ValueError):
    """The published-numbers file is malformed, or a name in it does not exist."""


@dataclass(frozen=True)
class PublishedRow:
    """One detector's published numbers under one protocol."""

    detector: str
    protocol: str
    level: str
    metric: str
    source: dict[str, str]
    values: dict[str, float] = field(default_factory=dict)
    note: str = ""
    experiment: str = ""
    train_overrides: tuple[str, ...] = ()

    def citation(self) -> str:
        """One line: who, which table, where."""
        s = self.source
        return f"{s.get('cite', '?')}; {s.get('table', '')}; {s.get('url', '')} (read: {s.get('read', '?')})"


def results_path() -> Path:
    """``conf/published/results.yaml`` of the config tree dfd runs with (the checkout's, or the wheel's)."""
    from dfd.config.entry import CONF_DIR

    return Path(CONF_DIR) / "published" / "results.yaml"


@lru_cache(maxsize=4)
def _load(path: str) -> dict[str, Any]:
    raw = yaml.safe_load(Path(path).read_text())
    if not isinstance(raw, dict) or not {"sources", "datasets", "detectors"} <= set(raw):
        raise PublishedError(f"{path}: expected the keys sources, datasets and detectors")
    for name, det in raw["detectors"].items():
        for protocol, row in (det.get("results") or {}).items():
            where = f"{path}: detectors.{name}.results.{protocol}"
            if row.get("source") not in raw["sources"]:
                raise PublishedError(
                    f"{where}.source={row.get('source')!r}: expected one of {sorted(raw['sources'])}"
                )
            if row.get("level") not in LEVELS:
                raise PublishedError(f"{where}.level={row.get('level')!r}: expected frame or video")
            if not row.get("values") and not row.get("note"):
                raise PublishedError(f"{where}: no values and no note saying why")
            for key, value in (row.get("values") or {}).items():
                if key not in raw["datasets"]:
                    raise PublishedError(
                        f"{where}.values.{key}: not among datasets ({', '.join(raw['datasets'])})"
                    )
                if not 0.0 <= float(value) <= 1.0:
                    raise PublishedError(f"{where}.values.{key}={value}: expected an AUC in [0, 1]")
    return raw


def load_results(path: str | Path | None = None) -> dict[str, Any]:
    """The whole file, checked (a copy: callers may change it)."""
    import copy

    return copy.deepcopy(_load(str(path or results_path())))


def _entry(detector: str, path: str | Path | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """The whole file and ``detector``'s entry in it; an unknown detector is an error naming the key."""
    raw = _load(str(path or results_path()))
    if detector not in raw["detectors"]:
        raise PublishedError(
            f"protocol.detector={detector!r} is not in {path or results_path()}: expected one of "
            f"{', '.join(raw['detectors'])}"
        )
    return raw, raw["detectors"][detector]


def detectors(path: str | Path | None = None) -> list[str]:
    """The detectors the file knows."""
    return list(_load(str(path or results_path()))["detectors"])


def published_row(detector: str, protocol: str, path: str | Path | None = None) -> PublishedRow | None:
    """``detector``'s published numbers under ``protocol``; ``None`` when it has none there (its
    ``note``, if any, is then in :func:`detector_note`). An unknown detector is an error naming the key."""
    raw, det = _entry(detector, path)
    row = (det.get("results") or {}).get(protocol)
    if row is None:
        return None
    return PublishedRow(
        detector=detector,
        protocol=protocol,
        level=row["level"],
        metric=row.get("metric", "AUC"),
        source=dict(raw["sources"][row["source"]]),
        values={str(k): float(v) for k, v in (row.get("values") or {}).items()},
        note=str(row.get("note", "")).strip(),
        experiment=str(det.get("experiment", "")),
        train_overrides=tuple(det.get("train_overrides") or ()),
    )


def detector_note(detector: str, path: str | Path | None = None) -> str:
    """Why a detector has no published numbers (its ``note``), or its protocols that have some."""
    det = _load(str(path or results_path()))["detectors"][detector]
    if det.get("note"):
        return str(det["note"]).strip()
    return f"{detector}'s published numbers are under the protocols {', '.join(det.get('results') or {}) or 'none'}"


def training_experiment(detector: str, path: str | Path | None = None) -> list[str]:
    """The ``dfd.train`` overrides that train ``detector`` as dfd does: ``experiment=<name>`` and its extras."""
    raw, det = _entry(detector, path)
    return [f"experiment={det['experiment']}", *(det.get("train_overrides") or [])]


def dataset_label(key: str, path: str | Path | None = None) -> str:
    """How a dataset key is shown (``celebdf`` → ``Celeb-DF v2``); the key itself when unknown."""
    return str(_load(str(path or results_path()))["datasets"].get(key, key))


def catalogue_reported(
    reference: dict[str, Any], where: str, path: str | Path | None = None
) -> dict[str, Any]:
    """A weights-catalogue ``reported`` reference ``{detector, protocol}`` as the catalogue shows it:
    ``{level, metric, where, values}`` with the values keyed by their display labels."""
    if set(reference) != {"detector", "protocol"}:
        raise PublishedError(
            f"{where}: reported entries name their published row, {{detector: <name>, protocol: <name>}} "
            f"(conf/published/results.yaml); got {sorted(reference)}"
        )
    row = published_row(str(reference["detector"]), str(reference["protocol"]), path)
    if row is None:
        raise PublishedError(
            f"{where}: conf/published/results.yaml has no detectors.{reference['detector']}.results."
            f"{reference['protocol']}"
        )
    return {
        "level": row.level,
        "metric": row.metric,
        "where": f"{row.source['table']} ({row.source['url']}); {row.source['cite']}",
        "values": {dataset_label(k, path): v for k, v in row.values.items()},
    }
