"""Dataset statistics: counts per split × label × method, imbalance, skipped videos, a leak audit
(video ids, source identities and identical crops shared by two splits), sample grid.

The functions take manifest rows and work without Hydra; ``python -m dfd.stats data=<name>``
prints :func:`report` and writes ``samples.png`` (a grid of sample crops per class) to its
run directory.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dfd.core.digest import file_sha256


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


def split_overlap(rows: pd.DataFrame, root: str | Path, sample: int = 200, seed: int = 0) -> dict[str, Any]:
    """Leak audit: what two splits share.

    ``video_id`` and ``group`` (the source identity: an FF++ pair, a Celeb-DF id, a FakeAVCeleb
    source, a DFDC original) found in more than one split, and crops with identical content
    (sha256 of the files) among up to ``sample`` random crops per split.
    """
    out: dict[str, Any] = {}
    for column in ("video_id", "group"):
        if column in rows:
            splits = rows.groupby(rows[column].fillna(rows["video_id"]).astype(str))["split"].nunique()
            shared = sorted(splits[splits > 1].index)
            out[column] = {"count": len(shared), "examples": shared[:5]}
    rng = np.random.default_rng(seed)
    seen: dict[str, set[str]] = {}
    for split, part in rows.groupby("split"):
        paths = part["crop_path"].dropna().to_numpy()
        for rel in rng.choice(paths, size=min(sample, len(paths)), replace=False) if len(paths) else []:
            path = Path(rel) if Path(rel).is_absolute() else Path(root) / rel
            if path.is_file():
                seen.setdefault(file_sha256(path), set()).add(str(split))
    out["content"] = {"hashed": sum(1 for _ in seen), "in_two_splits": sum(len(v) > 1 for v in seen.values())}
    return out


def report(
    rows: pd.DataFrame, skipped: pd.DataFrame, root: str | Path, out_dir: str | Path, audit_sample: int = 200
) -> str:
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
    overlap = split_overlap(rows, root, audit_sample)
    lines += ["", "leak audit (what two splits share):"]
    for column, what in (("video_id", "video ids"), ("group", "groups (source identities)")):
        if column in overlap:
            found = overlap[column]
            lines.append(
                f"  {what}: {found['count']}"
                + (f", e.g. {', '.join(found['examples'])}" if found["count"] else "")
            )
    content = overlap["content"]
    lines.append(f"  identical crop files among {content['hashed']} hashed: {content['in_two_splits']}")
    grid = sample_grid(rows, root, Path(out_dir) / "samples.png")
    lines += ["", f"sample crops per class: {grid}"]
    return "\n".join(lines)
