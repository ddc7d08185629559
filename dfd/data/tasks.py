"""The tasks of the data stage's commands: each is what ``dfd <verb>`` runs once its config is composed."""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig

from dfd.config.instantiate import instantiate


def generate(cfg: DictConfig) -> Path:
    """Write the tree of ``cfg.mini`` to ``cfg.out_dir``; return its root."""
    make = instantiate(cfg.mini)
    root = make(Path(cfg.out_dir), spec=instantiate(cfg.video))
    n = sum(1 for p in root.rglob("*") if p.is_file())
    name = cfg.mini._target_.rsplit(".", 1)[-1].removeprefix("make_")
    print(f"wrote {name} mini tree with {n} files to {root}", flush=True)
    return root
