"""Dataset statistics: counts per split × label × method, imbalance, skipped videos, sample grid.

The functions take manifest rows and work without Hydra; ``python -m dfd.stats data=<name>``
prints :func:`report` and writes ``samples.png`` (a grid of sample crops per class) to its
run directory.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd


def count_table(rows: pd.DataFrame) -> pd.DataFrame:
    """Videos and crops per split × label × method."""
    grouped = rows.groupby(["split", "label", "method"], dropna=False)
    return pd.DataFrame({"videos": grouped["video_id"].nunique(), "crops": grouped.size()}).reset_index()


def imbalance(rows: pd.DataFrame) -> dict[str, float]:
    """Per split: crops of the larger class over crops of the smaller (inf when a class is absent)."""
    out = {}
    for split, part in rows.groupby("split"):
        counts = part["label"].value_counts()
        out[str(split)] = float(counts.max() / counts.min()) if len(counts) == 2 else float("inf")
    return out


def skipped_table(skipped: pd.DataFrame) -> pd.DataFrame:
    """One line per unusable video: id, status, reason."""
    if skipped is None or skipped.empty:
        return pd.DataFrame(columns=["video_id", "status", "reason"])
    return (
        skipped[["video_id", "status", "reason"]]
        .drop_duplicates()
        .sort_values(["status", "video_id"])
        .reset_index(drop=True)
    )


def sample_grid(
    rows: pd.DataFrame, root: str | Path, out_path: str | Path, per_class: int = 8, seed: int = 0
) -> Path:
    """Write a PNG with one row of ``per_class`` random crops per label (real, fake)."""
    import cv2
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(seed)
    labels = sorted(rows["label"].unique())
    fig, axes = plt.subplots(
        len(labels), per_class, figsize=(1.6 * per_class, 1.8 * len(labels)), squeeze=False
    )
    for r, label in enumerate(labels):
        part = rows[rows["label"] == label]
        pick = part.iloc[rng.choice(len(part), size=min(per_class, len(part)), replace=False)]
        for c, ax in enumerate(axes[r]):
            ax.axis("off")
            if c < len(pick):
                row = pick.iloc[c]
                img = cv2.imread(str(Path(root) / row["crop_path"]))
                if img is not None:
                    ax.imshow(cv2.cvtColor(img, cv2.COLOR_BGR2RGB))
                ax.set_title(f"{'fake' if label else 'real'}\n{row['method']}", fontsize=7)
    fig.tight_layout()
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_path, dpi=100)
    plt.close(fig)
    return out_path


def report(rows: pd.DataFrame, skipped: pd.DataFrame, root: str | Path, out_dir: str | Path) -> str:
    """The printed report; writes the sample grid to ``out_dir/samples.png``."""
    lines = [
        "counts per split × label × method (label 0 real, 1 fake):",
        count_table(rows).to_string(index=False),
        "",
    ]
    lines += ["imbalance (larger class / smaller class, crops):"]
    lines += [f"  {split}: {ratio:.2f}" for split, ratio in imbalance(rows).items()]
    table = skipped_table(skipped)
    lines += ["", f"skipped videos: {table['video_id'].nunique()}"]
    if len(table):
        lines += [table.to_string(index=False)]
    grid = sample_grid(rows, root, Path(out_dir) / "samples.png")
    lines += ["", f"sample crops per class: {grid}"]
    return "\n".join(lines)
