"""Dataset statistics: counts per split, label and method, imbalance, skipped videos, the sample grid."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from dfd.preprocessing.manifest import read_manifest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


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
    assert "leak audit" in text and "groups (source identities): 0" in text
    assert (tmp_path / "samples.png").stat().st_size > 1000


def test_leak_audit_finds_shared_ids_groups_and_identical_crops(tmp_path):
    from dfd.reports.dataset import split_overlap

    for name, value in (("a", 10), ("b", 20), ("c", 10)):  # c.png has a's bytes
        (tmp_path / f"{name}.png").write_bytes(bytes([value]) * 64)
    rows = pd.DataFrame({"video_id": ["v1", "v2", "v3", "v1"], "group": ["id1", "id2", "id1", "id1"],
                         "split": ["train", "train", "test", "test"],
                         "crop_path": ["a.png", "b.png", "c.png", "b.png"]})  # fmt: skip
    overlap = split_overlap(rows, tmp_path)
    assert overlap["video_id"] == {"count": 1, "examples": ["v1"]}
    assert overlap["group"]["count"] == 1
    assert overlap["content"] == {"hashed": 2, "in_two_splits": 2}  # a=c across splits; b in both
    clean = rows.iloc[:2]
    assert split_overlap(clean, tmp_path)["content"]["in_two_splits"] == 0
