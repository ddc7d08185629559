"""The tasks of the preprocessing stage's commands: ``dfd preprocess`` (:func:`preprocess`) and
``dfd recompress`` (:func:`recompress`), and the last step of a sharded preprocessing sweep.

``python -m dfd.preprocess -m preprocess.shard='range(0,N)' preprocess.num_shards=N`` runs one
job per shard (in parallel through a launcher such as ``hydra/launcher=slurm_cpu``). Each job
writes its videos' parts; when the launcher reports every job finished, :class:`MergeShards`
(a Hydra callback in ``conf/preprocess.yaml``) writes the manifest from all parts, so no
two shards race to write it. A sweep that does not vary ``preprocess.shard`` is left alone.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, open_dict

from dfd.config.instantiate import instantiate
from dfd.preprocessing.options import PreprocessOptions
from dfd.preprocessing.recompress import RecompressSummary, recompress_tree
from dfd.preprocessing.runner import run_preprocessing

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
            index_rounding=str(p.index_rounding),
            audio=p.audio,
            trim_leading_silence=p.trim_leading_silence,
            reuse_source_boxes=p.reuse_source_boxes,
            clip_len=p.clip_len,
            clips_per_video=p.clips_per_video,
            landmarks=str(p.landmarks),
            mask_threshold=int(p.get("mask_threshold", 127)),
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


def recompress(cfg: DictConfig) -> RecompressSummary:
    """Re-encode ``cfg.data.raw_dir`` into ``cfg.out`` at ``cfg.crf``; print the summary."""
    if cfg.get("out") is None:
        raise ValueError("out=<folder> is required: where the re-encoded tree goes (outside data.raw_dir)")
    src = Path(str(cfg.data.raw_dir)).expanduser()
    summary = recompress_tree(src, Path(str(cfg.out)).expanduser(), int(cfg.crf), bool(cfg.rename_compression),
                              str(cfg.preset))  # fmt: skip
    print("\n".join([f"recompressed {src} → {cfg.out} (H.264, crf {cfg.crf})", *("  " + line for line in summary.lines())]),
          flush=True)  # fmt: skip
    if summary.failed and not summary.encoded and not summary.skipped:
        raise RuntimeError(f"no video of {src} could be re-encoded; the reasons are above")
    return summary


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
