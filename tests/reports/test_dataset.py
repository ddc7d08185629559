"""Dataset statistics: counts per split, label and method, imbalance, skipped videos, the sample grid."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from dfd.preprocessing.manifest import read_manifest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def _video_status(rows: pd.DataFrame) -> dict[str, str]:
    """One status per video: ok if any crop is usable, else its reason."""
    return {
        v: ("ok" if (g["status"] == "ok").any() else g["status"].iloc[0]) for v, g in rows.groupby("video_id")
    }


def test_stats_report_counts_skips_and_grid(ffpp_out, tmp_path):
    from dfd.reports.dataset import count_table, imbalance, report

    _, out, _ = ffpp_out
    rows, _ = read_manifest(out)
    ok, skipped = rows[rows["status"] == "ok"], rows[rows["status"] != "ok"]
    table = count_table(ok)
    val_real = table[(table["split"] == "val") & (table["label"] == 0)]
    assert val_real["videos"].tolist() == [2] and val_real["crops"].tolist() == [8]
    assert imbalance(ok)["val"] == pytest.approx(2.0)  # 2 reals : 4 fakes (2 methods × 2)
    text = report(ok, skipped, out, tmp_path)
    assert "skipped videos: 5" in text and "no_face" in text
    assert (tmp_path / "samples.png").stat().st_size > 1000
