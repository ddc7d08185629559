"""Cross-dataset matrix: ``python -m dfd.cross_eval +checkpoints.<name>=<ckpt> ... datasets=[a,b,c]``.

Evaluates every checkpoint (rows: the data it was trained on) on the split of every dataset
(columns) with :func:`dfd.utils.evaluation.evaluate` (what ``dfd.eval`` runs), and writes, per metric, the matrix as markdown, CSV
and a heatmap PNG, plus ``cross_eval.json`` with every run's metrics (and the checkpoint of each
row, which ``dfd.export cross_eval=...`` reads into the model card), and the by-method matrices
(``cross_dataset_by_method_frame_{auc,ap,acc}.*``: each method's fakes against the dataset's reals). Each cell's own report
goes to ``out_dir/<row>_on_<column>/``.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from hydra import compose
from omegaconf import DictConfig

from dfd.reports.tables import write_cross_dataset
from dfd.utils.entry import entry
from dfd.utils.evaluation import evaluate

log = logging.getLogger(__name__)


def cross_eval(cfg: DictConfig) -> dict[str, Any]:
    """Evaluate the grid; return ``{metric: DataFrame}`` and write the tables."""
    if not cfg.checkpoints:
        raise ValueError("no checkpoints given: add +checkpoints.<trained_on>=<run>/checkpoints/best.ckpt")
    out = Path(cfg.out_dir)
    runs: dict[str, dict[str, float]] = {}
    results: dict[str, dict[tuple[str, str], float]] = {m: {} for m in cfg.metrics}
    for row, ckpt in cfg.checkpoints.items():
        for col in cfg.datasets:
            overrides = [
                f"data={col}",
                f"ckpt_path={ckpt}",
                f"split={cfg.split}",
                f"out_dir={out / f'{row}_on_{col}'}",
                # the same folders as this run (overrides such as paths.data_dir=... carry over)
                *(f"paths.{k}={cfg.paths[k]}" for k in ("root_dir", "data_dir", "log_dir")),
                *([f"batch_size={cfg.batch_size}"] if cfg.batch_size else []),
                *cfg.eval_overrides,
            ]
            log.info("cross_eval: %s on %s", row, col)
            metrics = evaluate(compose(config_name="eval", overrides=overrides))
            runs[f"{row}_on_{col}"] = metrics
            for m in cfg.metrics:
                if m not in metrics:
                    raise KeyError(f"metric {m!r} is not among dfd.eval's keys: {sorted(metrics)}")
                results[m][(str(row), str(col))] = metrics[m]
    out.mkdir(parents=True, exist_ok=True)
    checkpoints = {
        str(row): str(Path(str(ckpt)).expanduser().resolve()) for row, ckpt in cfg.checkpoints.items()
    }
    record = {"checkpoints": checkpoints, "datasets": list(cfg.datasets), "split": cfg.split, "runs": runs}
    (out / "cross_eval.json").write_text(json.dumps(record, indent=2, sort_keys=True))
    frames = {m: write_cross_dataset(res, out, metric=m.replace("/", "_")) for m, res in results.items()}
    # columns <dataset>/<method>: each method's fakes against the dataset's reals, at frame level
    for key in METHOD_METRICS:
        by_method = method_results(runs, cfg.checkpoints, cfg.datasets, key)
        if by_method:
            frames[f"frame/by_method/{key}"] = write_cross_dataset(
                by_method, out, metric=f"by_method_frame_{key}"
            )
    for m, frame in frames.items():
        print(f"{m}\n{frame.to_string(float_format=lambda v: f'{v:.4f}')}\n", flush=True)
    return frames


#: The by-method matrices written: AUC and AP of each method's fakes against all reals, and the
#: accuracy on those samples at the calibrated threshold.
METHOD_METRICS = ("auc", "ap", "acc")


def method_results(
    runs: dict[str, dict[str, float]], rows: Any, columns: Any, metric: str = "auc"
) -> dict[tuple[str, str], float]:
    """``{(trained on, "<dataset>/<method>"): frame <metric>}`` from every cell's by-method metrics."""
    out = {}
    prefix, suffix = "frame/by_method/", f"/{metric}"
    for row in rows:
        for col in columns:
            for key, value in runs[f"{row}_on_{col}"].items():
                if key.startswith(prefix) and key.endswith(suffix):
                    out[(str(row), f"{col}/{key[len(prefix) : -len(suffix)]}")] = value
    return out


main = entry("cross_eval", cross_eval)

if __name__ == "__main__":
    main()
