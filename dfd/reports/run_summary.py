"""The closing summary of a training run: where its files are, what it selected on, its test AUCs."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def selection_of(checkpoint: Any) -> dict[str, Any]:
    """What the checkpoint was selected on: monitor, mode and the best value reached."""
    if checkpoint is None or not checkpoint.monitor:
        return {}
    score = checkpoint.best_model_score
    return {
        "monitor": checkpoint.monitor,
        "mode": checkpoint.mode,
        "best": None if score is None else float(score),
    }


def write_run_summary(out: Path, best: str, selection: dict[str, Any], metrics: dict[str, float]) -> str:
    """The closing lines of a training run, also written to ``<run>/summary.txt`` (``make demo`` shows it again)."""
    lines = [
        f"run directory : {out}",
        f"best ckpt     : {best or '(none)'}",
        f"checkpoints   : {out / 'checkpoints'}",
        f"tensorboard   : tensorboard --logdir {out / 'tensorboard'}",
        f"metrics       : {out / 'metrics.json'}",
        f"report        : {out / 'report'}",
    ]
    if selection:
        value = "n/a" if selection["best"] is None else f"{selection['best']:.4f}"
        lines.append(f"selected on   : {selection['monitor']} ({selection['mode']}), best {value}")
    for key, label in (("test/auc", "test AUC"), ("test/video_auc", "test video AUC")):
        if key in metrics:
            lines.append(f"{label:<14}: {metrics[key]:.4f}")
    text = "\n".join(lines)
    (out / "summary.txt").write_text(text + "\n")
    return text
