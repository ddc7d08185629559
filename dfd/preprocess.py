"""Preprocess a raw dataset into face crops, audio and a manifest.

``python -m dfd.preprocess data=<name> data.raw_dir=<raw dataset folder> [preprocess.num_workers=4]``

Shard across machines with ``preprocess.shard=i preprocess.num_shards=n``; a rerun skips
finished videos. As one SLURM job per shard through Hydra's submitit launcher:
``python -m dfd.preprocess -m hydra/launcher=slurm_cpu preprocess.shard='range(0,N)' preprocess.num_shards=N``;
when every shard is done, the sweep writes the final manifest once
(:class:`dfd.preprocessing.tasks.MergeShards`, or by hand: ``preprocess.merge_only=true``). The work is
done by :mod:`dfd.preprocessing.runner`; this entry point only reads the config.
"""

from __future__ import annotations

from dfd.config.entry import entry
from dfd.preprocessing.tasks import preprocess

main = entry("preprocess", preprocess)

if __name__ == "__main__":
    main()
