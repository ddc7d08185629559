"""Robustness of a checkpoint: ``python -m dfd.robustness ckpt_path=<run>/checkpoints/best.ckpt [data=<name>]``.

Scores the test split (or ``split=val``) clean, under each corruption of ``conf/robustness.yaml``
at every severity, and under FGSM and PGD at every epsilon; writes ``robustness.csv``,
``robustness.md`` (AUC by severity) and ``robustness.png`` (AUC against severity, one panel
per perturbation) to ``out_dir``. See :mod:`dfd.metrics.robustness` for the methods.
"""

from __future__ import annotations

import logging
from pathlib import Path

import lightning as L
import pandas as pd
import torch
from omegaconf import DictConfig

from dfd.metrics.robustness import evaluate_robustness, robustness_markdown
from dfd.reports import plots
from dfd.utils.entry import entry
from dfd.utils.evaluation import load_for_eval
from dfd.utils.instantiate import instantiate
from dfd.utils.runs import resolve_checkpoint

log = logging.getLogger(__name__)


def robustness(cfg: DictConfig) -> pd.DataFrame:
    """Run the suite for ``cfg.ckpt_path``; return the table (one row per perturbation level)."""
    L.seed_everything(cfg.seed, workers=True)
    ckpt_path = resolve_checkpoint(cfg.ckpt_path)
    _, model, datamodule, _ = load_for_eval(cfg, ckpt_path)
    datamodule.setup("test" if cfg.split == "test" else "validate")
    loader = datamodule.test_dataloader() if cfg.split == "test" else datamodule.val_dataloader()
    corruptions = [instantiate(c) for c in (cfg.get("corruptions") or {}).values() if c is not None]
    attacks = [instantiate(a) for a in (cfg.get("attacks") or {}).values() if a is not None]
    device = cfg.device if cfg.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")
    spec = model.net.input_spec
    table = evaluate_robustness(
        model.net, loader, spec.mean, spec.std, corruptions, attacks,
        device=device, max_batches=cfg.get("max_batches"), seed=cfg.seed,
    )  # fmt: skip

    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    table.to_csv(out / "robustness.csv", index=False)
    md = f"# Robustness of `{ckpt_path}` ({cfg.split} split)\n\n" + robustness_markdown(table, cfg.metric)
    (out / "robustness.md").write_text(md)
    clean = float(table.loc[table.perturbation == "clean", cfg.metric].iloc[0])
    curves = {
        name: (group.level.tolist(), group[cfg.metric].tolist())
        for name, group in table[table.perturbation != "clean"].groupby("perturbation", sort=False)
    }
    plots.save(plots.severity_figure(curves, clean, ylabel=cfg.metric), out / "robustness.png")
    print(md + f"\nwritten to {out}", flush=True)
    return table


main = entry("robustness", robustness)

if __name__ == "__main__":
    main()
