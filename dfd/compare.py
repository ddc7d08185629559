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

import lightning as L
from omegaconf import DictConfig

from dfd.callbacks.calibration import load_calibration
from dfd.metrics.comparison import compare_outputs
from dfd.reports.tables import comparison_markdown
from dfd.utils.entry import entry
from dfd.utils.evaluation import score_split
from dfd.utils.runs import resolve_checkpoint, run_config_for

log = logging.getLogger(__name__)


def compare(cfg: DictConfig) -> dict[str, Any]:
    """Score both checkpoints and write the comparison."""
    L.seed_everything(cfg.seed, workers=True)
    ckpts = {k: resolve_checkpoint(cfg[f"ckpt_{k}"], key=f"ckpt_{k}") for k in ("a", "b")}
    data_run = run_config_for(ckpts["a"])  # B is scored on A's data unless data=<name>
    outputs = {k: score_split(cfg, path, data_run_cfg=data_run) for k, path in ckpts.items()}
    # each run's own `confident` parameters, stored with its calibration (defaults without one)
    calibrations = {k: load_calibration(path, bool(cfg.get("allow_pickle"))) for k, path in ckpts.items()}
    confident = {k: cal.confident_strategy() if cal else None for k, cal in calibrations.items()}
    result = compare_outputs(
        outputs["a"], outputs["b"], cfg.n_boot, cfg.alpha, cfg.seed, cfg.video_aggregation,
        confident_a=confident["a"], confident_b=confident["b"],
    )  # fmt: skip
    result.update(ckpt_a=str(ckpts["a"]), ckpt_b=str(ckpts["b"]), split=cfg.split)
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "compare.json").write_text(json.dumps(result, indent=2))
    md = comparison_markdown(result)
    (out / "compare.md").write_text(md)
    print(md + f"\nwritten to {out}", flush=True)
    return result


main = entry("compare", compare)

if __name__ == "__main__":
    main()
