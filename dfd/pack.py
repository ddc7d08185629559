"""Pack a preprocessed dataset into shards: ``python -m dfd.pack data=<name> [chunk_bytes=64MB]``.

Writes each split's crops as LitData chunks under ``<data.root>/shards/<split>/`` and
``shards/pack.json``; ``dfd.train data.format=shards`` then reads them instead of one file per
crop. See :mod:`dfd.data.shards`.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from omegaconf import DictConfig

from dfd.config.entry import entry
from dfd.config.instantiate import instantiate
from dfd.core.input_spec import InputSpec
from dfd.data.shards import pack_split, shards_root, write_pack_meta
from dfd.preprocessing.fingerprint import manifest_sha256

log = logging.getLogger(__name__)


def pack(cfg: DictConfig) -> dict[str, Any]:
    """Pack the configured splits and write ``pack.json``; returns it."""
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
        dataset = datamodule.datasets[split]
        if not len(dataset):
            log.warning("the %s split is empty: nothing to pack", split)
            continue
        start = time.perf_counter()
        out = shards_root(datamodule.root) / split
        meta["splits"][split] = pack_split(dataset, out, cfg.encoding, cfg.jpeg_quality, str(cfg.chunk_bytes))
        size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
        print(
            f"{split}: {len(dataset)} crops → {out} ({size / 2**20:.1f} MB, {time.perf_counter() - start:.1f} s)",
            flush=True,
        )
    path = write_pack_meta(datamodule.root, meta)
    print(
        f"packed: {path}\ntrain from the shards with: python -m dfd.train data=<name> data.format=shards",
        flush=True,
    )
    return meta


main = entry("pack", pack)

if __name__ == "__main__":
    main()
