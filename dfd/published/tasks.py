"""The tasks of the published-checkpoint commands: ``dfd import_weights`` and ``dfd weights``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from omegaconf import DictConfig, ListConfig

from dfd.published.catalogue import Entry, get_entry, load_catalogue

ACTIONS = ("list", "get")


def _announce(out: Path) -> None:
    from dfd.inference.export import folder_digest, read_json

    d = read_json(out / "dfd_model.json")
    pub = d.get("published", {})
    print(f"imported {d['name']} ({pub.get('source')}) to {out}")
    print(
        f"  licence: {pub.get('licence')}"
        + (" (non-commercial use only)" if pub.get("non_commercial") else "")
    )
    print(
        f"  input: {d['input_spec']['size']} px, mean {d['input_spec']['mean']}, std {d['input_spec']['std']}"
    )
    print(f"  ONNX Runtime vs torch: max |Δ logit| {d['onnx']['max_abs_deviation_from_torch']:.2e}")
    print(f"  score it: python -m dfd.predict ckpt_path={out} input=<video, image or folder>")
    print(f"digest: {folder_digest(out)}", flush=True)


def import_weights(cfg: DictConfig) -> Path:
    """Convert ``cfg.path``, a checkpoint released by ``cfg.source``, into a model folder at ``cfg.out_dir``."""
    from dfd.published.importing import import_checkpoint

    out = import_checkpoint(
        cfg.source, cfg.path, cfg.out_dir, name=cfg.get("name"), entry=cfg.get("entry"), opset=cfg.opset
    )
    _announce(out)
    return out


#: the test set ``list`` shows first when an entry reports it: the field's usual cross-dataset yardstick
HEADLINE_SET = "Celeb-DF v2"


def headline(entry: Entry) -> str:
    """One reported number of the entry, Celeb-DF v2's where given: ``video AUC 0.9382 on Celeb-DF v2``."""
    found = [(r, k, v) for r in entry.reported for k, v in (r.get("values") or {}).items()]
    if not found:
        return "-"
    r, dataset, value = next((f for f in found if f[1] == HEADLINE_SET), found[0])
    return f"{r.get('level', 'video')} {r.get('metric', 'AUC')} {float(value):.4f} on {dataset}"


def catalogue_table(entries: dict[str, Entry]) -> str:
    """``dfd.weights list``: one row per entry."""
    rows = [("name", "source", "licence", "size", "sha256", "reported (theirs)")]
    for e in entries.values():
        size = f"{e.size / 2**20:.0f} MiB" if e.size else "?"
        rows.append(
            (e.name, e.source, e.licence, size, e.sha256[:12] if e.verified else "unknown", headline(e))
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows)


def weights(cfg: DictConfig) -> Any:
    """``list`` the weights catalogue, or ``get name=<entry>``: fetch, verify and import it."""
    action = cfg.action
    if isinstance(action, ListConfig | list):
        if len(action) != 1:
            raise ValueError(
                f"action={list(action)}: give one of {', '.join(ACTIONS)}, e.g. dfd.weights list"
            )
        action = action[0]
    if action not in ACTIONS:
        raise ValueError(
            f"action={action!r}: expected one of {', '.join(ACTIONS)} (dfd.weights list | get name=<entry>)"
        )
    if action == "list":
        entries = load_catalogue()
        print(catalogue_table(entries))
        print()
        print(
            "Reported numbers are the authors', not dfd's. Licences: non-commercial entries may not be used commercially."
        )
        print("python -m dfd.weights get name=<entry> fetches, verifies and imports one into a model folder.")
        return entries
    if not cfg.get("name"):
        raise ValueError("dfd.weights get needs name=<entry>: python -m dfd.weights list shows them")
    from dfd.published.download import fetch
    from dfd.published.importing import import_checkpoint

    e = get_entry(cfg.name)
    path = fetch(
        e, cfg.get("cache_dir"), allow_unverified=bool(cfg.allow_unverified), progress=bool(cfg.progress)
    )
    out = import_checkpoint(e.source, path, cfg.out_dir, entry=e.name, opset=cfg.opset)
    _announce(out)
    return out
