"""The last step of a sharded preprocessing sweep: one manifest, written once every shard is done.

``python -m dfd.preprocess -m preprocess.shard='range(0,N)' preprocess.num_shards=N`` runs one
job per shard (in parallel through a launcher such as ``hydra/launcher=slurm_cpu``). Each job
writes its videos' parts; when the launcher reports every job finished, :class:`MergeShards`
(a Hydra callback in ``conf/preprocess.yaml``) writes the manifest from all parts, so no
two shards race to write it. A sweep that does not vary ``preprocess.shard`` is left alone.
"""

from __future__ import annotations

import logging
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, open_dict

from dfd.utils.preprocessing import preprocess

log = logging.getLogger(__name__)


def sweeps_shards(overrides: list[str]) -> bool:
    """Whether a multirun's overrides sweep ``preprocess.shard``."""
    return any(o.split("=", 1)[0].lstrip("+~") == "preprocess.shard" for o in overrides)


class MergeShards(Callback):
    """Hydra callback: after a multirun over ``preprocess.shard``, write the merged manifest."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        if not sweeps_shards(list(config.hydra.overrides.task)):
            return
        cfg = config.copy()
        with open_dict(cfg):
            cfg.preprocess.merge_only = True
            cfg.preprocess.shard = 0
            del cfg["hydra"]
        pending = preprocess(cfg)
        log.info("merged the shards' parts into %s's manifest (%d videos pending)", cfg.data.root, pending)
