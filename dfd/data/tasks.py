"""The tasks of the data stage's commands: ``dfd generate`` writes a mini raw tree in a dataset's
layout (:mod:`dfd.data.synthetic.mini`), ``dfd pack`` a preprocessed dataset's crops as LitData
chunks (:mod:`dfd.data.packed`) for ``data.format=packed``."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from dfd.config.instantiate import instantiate
from dfd.core.input_spec import InputSpec
from dfd.data.packed import pack_split, packed_root, write_pack_meta
from dfd.preprocessing.fingerprint import manifest_sha256

log = logging.getLogger(__name__)


def generate(cfg: DictConfig) -> Path:
    """Write the tree of ``cfg.mini`` to ``cfg.out_dir``; return its root."""
    make = instantiate(cfg.mini)
    root = make(Path(cfg.out_dir), spec=instantiate(cfg.video))
    n = sum(1 for p in root.rglob("*") if p.is_file())
    name = cfg.mini._target_.rsplit(".", 1)[-1].removeprefix("make_")
    print(f"wrote {name} mini tree with {n} files to {root}", flush=True)
    return root


def pack(cfg: DictConfig) -> dict[str, Any]:
    """Pack the configured splits under ``<data.root>/packed`` and write ``pack.json``; returns it."""
    datamodule = instantiate(cfg.data)
    datamodule.prepare_data()  # checks the manifest (generators write theirs here)
    datamodule.set_input_spec(InputSpec(64))  # transforms are not applied when packing
    datamodule.setup()
    meta: dict[str, Any] = {
        "encoding": cfg.encoding,
        "jpeg_quality": int(cfg.jpeg_quality) if cfg.encoding == "jpeg" else None,
        "chunk_bytes": str(cfg.chunk_bytes),
        "manifest_sha256": manifest_sha256(datamodule.root),
        "splits": {},
    }
    for split in cfg.splits:
        # with data.clips=true the split's crops are its clips' frame dataset: packs are of crops
        dataset = getattr(datamodule.datasets[split], "frames", datamodule.datasets[split])
        if not len(dataset):
            log.warning("the %s split is empty: nothing to pack", split)
            continue
        start = time.perf_counter()
        out = packed_root(datamodule.root) / split
        meta["splits"][split] = pack_split(dataset, out, cfg.encoding, cfg.jpeg_quality, str(cfg.chunk_bytes))
        size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
        print(
            f"{split}: {len(dataset)} crops → {out} ({size / 2**20:.1f} MB, {time.perf_counter() - start:.1f} s)",
            flush=True,
        )
    path = write_pack_meta(datamodule.root, meta)
    print(
        f"packed: {path}\ntrain from the pack with: python -m dfd.train data=<name> data.format=packed",
        flush=True,
    )
    return meta
