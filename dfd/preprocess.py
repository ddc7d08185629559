"""Preprocess a raw dataset into face crops, audio and a manifest.

``python -m dfd.preprocess data=<name> data.raw_dir=<raw dataset folder> [preprocess.num_workers=4]``

Shard across machines with ``preprocess.shard=i preprocess.num_shards=n`` (e.g. a SLURM array
via Hydra's submitit launcher); a rerun skips finished videos. The work is done by
:mod:`dfd.preprocessing.runner`; this entry point only reads the config.
"""

from __future__ import annotations

import logging
import sys

import hydra
from omegaconf import DictConfig

from dfd.preprocessing.options import PreprocessOptions
from dfd.preprocessing.runner import run_preprocessing
from dfd.utils.instantiate import instantiate, register_resolvers

log = logging.getLogger(__name__)
register_resolvers()


def preprocess(cfg: DictConfig) -> int:
    """Run preprocessing for ``cfg.data``; return the number of usable videos."""
    if cfg.data.get("raw_dir") is None or "layout" not in cfg.data:
        raise ValueError(
            f"data={cfg.data.get('_target_')} has no raw layout to preprocess: pick a raw dataset "
            "(data=ffpp|celebdf|dfdc|fakeavceleb|folder) and set data.raw_dir=<path>"
        )
    records = instantiate(cfg.data.layout)()
    p = cfg.preprocess
    summary = run_preprocessing(
        records,
        out_dir=p.out_dir,
        cropper=instantiate(p.cropper),
        options=PreprocessOptions(
            num_frames=p.num_frames,
            stride=p.stride,
            audio=p.audio,
            trim_leading_silence=p.trim_leading_silence,
            reuse_source_boxes=p.reuse_source_boxes,
            clip_len=p.clip_len,
            clips_per_video=p.clips_per_video,
        ),
        num_workers=p.num_workers,
        shard=p.shard,
        num_shards=p.num_shards,
        dataset=cfg.data_name,
    )
    print(
        "\n".join(
            [f"preprocessed {cfg.data_name} → {p.out_dir}", *("  " + line for line in summary.lines())]
        ),
        flush=True,
    )
    return summary.processed_ok + summary.skipped_done


@hydra.main(config_path="../conf", config_name="preprocess")
def main(cfg: DictConfig) -> None:
    if preprocess(cfg) == 0:
        log.error("nothing could be processed; see the reasons in the manifest above")
        sys.exit(1)


if __name__ == "__main__":
    main()
