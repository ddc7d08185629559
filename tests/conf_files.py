"""Config files read without Hydra, for tests that discover what ``conf/`` names (nets, layouts)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

CONF = Path(__file__).resolve().parents[1] / "conf"


def group_config(group: str, name: str) -> dict[str, Any]:
    """``conf/<group>/<name>.yaml`` merged over the files of the same group its defaults list names
    (``base/detector``, ``avff``); sub-group choices (``optimizer: adam``) are left out."""
    own = yaml.safe_load((CONF / group / f"{name}.yaml").read_text()) or {}
    merged: dict[str, Any] = {}
    for entry in own.pop("defaults", []):
        if isinstance(entry, str) and entry != "_self_":
            merged = _merge(merged, group_config(group, entry))
    return _merge(merged, own)


def group_configs(group: str) -> dict[str, dict[str, Any]]:
    """Every file of ``conf/<group>/`` (not its sub-folders), by name, as :func:`group_config`."""
    return {p.stem: group_config(group, p.stem) for p in sorted((CONF / group).glob("*.yaml"))}


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        out[key] = (
            _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
        )
    return out
