"""A/B comparison: ``python -m dfd.compare ckpt_a=<A>.ckpt ckpt_b=<B>.ckpt [data=<name>] [split=test]``.

Scores both checkpoints on the same split (by default the data of run A), then reports each
AUC with a paired, stratified bootstrap interval and DeLong's test for the difference of the two
correlated AUCs, at frame and video level. Writes ``compare.json`` and ``compare.md`` to
``out_dir``. See :mod:`dfd.metrics.comparison`.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import hydra
import lightning as L
import torch
from omegaconf import DictConfig

from dfd.eval import predict_split, resolve_checkpoint, run_config_for
from dfd.metrics.comparison import bootstrap_auc, delong_test
from dfd.metrics.detection import aggregate_video, fake_logit
from dfd.reports.tables import comparison_markdown
from dfd.utils.instantiate import register_resolvers

log = logging.getLogger(__name__)
register_resolvers()


def compare_outputs(
    a: dict[str, torch.Tensor],
    b: dict[str, torch.Tensor],
    n_boot: int = 2000,
    alpha: float = 0.05,
    seed: int = 0,
    video_aggregation: str = "mean",
) -> dict[str, Any]:
    """Bootstrap intervals and DeLong's test for two detectors' outputs on the same samples."""
    labels = a["labels"].long()
    if not torch.equal(labels, b["labels"].long()) or not torch.equal(a["video_idx"], b["video_idx"]):
        raise ValueError(
            "the two checkpoints were not scored on the same samples in the same order; "
            "compare them on one data config (data=<name>)"
        )
    pa, pb = torch.sigmoid(fake_logit(a["logits"])), torch.sigmoid(fake_logit(b["logits"]))
    levels = {"frame": (pa, pb, labels)}
    va, vl, _ = aggregate_video(pa, labels, a["video_idx"], video_aggregation)  # type: ignore[arg-type]
    vb, _, _ = aggregate_video(pb, labels, b["video_idx"], video_aggregation)  # type: ignore[arg-type]
    levels["video"] = (va, vb, vl)
    out: dict[str, Any] = {}
    for level, (x, y, t) in levels.items():
        ci_a, ci_b = bootstrap_auc([x, y], t, n_boot=n_boot, alpha=alpha, seed=seed)
        out[level] = {
            "n": int(t.numel()),
            "alpha": alpha,
            "bootstrap_a": ci_a.to_dict(),
            "bootstrap_b": ci_b.to_dict(),
            "delong": delong_test(x, y, t, alpha=alpha).to_dict(),
        }
    return out


def compare(cfg: DictConfig) -> dict[str, Any]:
    """Score both checkpoints and write the comparison."""
    L.seed_everything(cfg.seed, workers=True)
    ckpts = {k: resolve_checkpoint(cfg[f"ckpt_{k}"]) for k in ("a", "b")}
    data_run = run_config_for(ckpts["a"])  # B is scored on A's data unless data=<name>
    outputs = {k: predict_split(cfg, path, data_run_cfg=data_run) for k, path in ckpts.items()}
    result = compare_outputs(
        outputs["a"], outputs["b"], cfg.n_boot, cfg.alpha, cfg.seed, cfg.video_aggregation
    )
    result.update(ckpt_a=str(ckpts["a"]), ckpt_b=str(ckpts["b"]), split=cfg.split)
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "compare.json").write_text(json.dumps(result, indent=2))
    md = comparison_markdown(result)
    (out / "compare.md").write_text(md)
    print(md + f"\nwritten to {out}", flush=True)
    return result


@hydra.main(version_base="1.3", config_path="../conf", config_name="compare")
def main(cfg: DictConfig) -> None:
    compare(cfg)


if __name__ == "__main__":
    main()
