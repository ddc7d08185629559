"""Preprocessing from a composed config: what ``dfd.preprocess`` runs, and the merge step of a
sharded sweep (:mod:`dfd.utils.shards`)."""

from __future__ import annotations

import logging

from omegaconf import DictConfig

from dfd.preprocessing.options import PreprocessOptions
from dfd.preprocessing.runner import run_preprocessing
from dfd.utils.instantiate import instantiate

log = logging.getLogger(__name__)


def preprocess(cfg: DictConfig) -> int:
    """Run preprocessing for ``cfg.data``; return the number of usable videos (an error when there is none)."""
    if cfg.data.get("raw_dir") is None or "layout" not in cfg.data:
        raise ValueError(
            f"data={cfg.data.get('_target_')} has no raw layout to preprocess: pick a raw dataset "
            "(data=ffpp|celebdf|dfdc|fakeavceleb|folder) and set data.raw_dir=<path>"
        )
    records = instantiate(cfg.data.layout)()
    p = cfg.preprocess
    summary = run_preprocessing(
        records,
        out_dir=cfg.data.root,
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
        merge_only=bool(p.get("merge_only", False)),
    )
    print(
        "\n".join(
            [f"preprocessed {cfg.data_name} → {cfg.data.root}", *("  " + line for line in summary.lines())]
        ),
        flush=True,
    )
    if p.get("merge_only"):
        if summary.pending:
            log.warning(
                "merged with %d videos still pending: shards are unfinished or failed", summary.pending
            )
        return summary.pending
    usable = summary.processed_ok + summary.skipped_done
    if usable == 0:
        raise RuntimeError(
            f"nothing could be processed in {cfg.data.raw_dir}; the reasons are in the summary above"
        )
    return usable
