"""The crop manifest on disk: Parquet first, the CSV as a readable export, earlier CSV-only
manifests still load, a hand-edited CSV wins, and both files give the same rows."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest

from dfd.preprocessing.manifest import (
    COLUMNS,
    MANIFEST_CSV,
    MANIFEST_PARQUET,
    manifest_file,
    read_manifest,
    read_rows,
    write_manifest,
)


def _rows() -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"video_id": "000", "frame_idx": 0, "label": 0, "method": "youtube", "split": "train", "group": "000",
             "crop_path": "crops/000/0.png", "x1": 1.5, "status": "ok", "reason": ""},
            {"video_id": "000_003", "frame_idx": 4, "label": 1, "label_video": 1, "method": "Deepfakes",
             "split": "val", "group": None, "crop_path": "crops/000_003/4.png", "status": "ok"},
            {"video_id": "élan/01", "frame_idx": -1, "label": 1, "method": "FaceSwap", "split": "test",
             "group": "7", "crop_path": "", "status": "unreadable", "reason": "truncated: moov atom"},
        ]
    )  # fmt: skip


def test_parquet_and_csv_hold_the_same_rows_as_a_csv_reader_gives_them(tmp_path):
    write_manifest(tmp_path, _rows(), {"dataset": "t"})
    assert manifest_file(tmp_path) == tmp_path / MANIFEST_PARQUET
    parquet, csv = read_rows(tmp_path / MANIFEST_PARQUET), read_rows(tmp_path / MANIFEST_CSV)
    assert list(parquet.columns) == list(csv.columns) == COLUMNS
    pd.testing.assert_frame_equal(parquet, csv, check_dtype=False)
    assert parquet["video_id"].tolist() == ["000", "000_003", "élan/01"]  # ids stay text, zeros kept
    assert np.isnan(parquet["group"].iloc[1]) and np.isnan(parquet["reason"].iloc[1])  # missing is NaN
    assert np.isnan(parquet["crop_path"].iloc[2]) and parquet["x1"].iloc[0] == 1.5


def test_a_manifest_of_an_earlier_dfd_csv_only_still_loads(tmp_path):
    _rows().reindex(columns=COLUMNS).to_csv(tmp_path / MANIFEST_CSV, index=False)
    rows, meta = read_manifest(tmp_path)
    assert manifest_file(tmp_path) == tmp_path / MANIFEST_CSV and meta == {}
    assert rows["video_id"].tolist() == ["000", "000_003", "élan/01"]


def test_a_csv_edited_after_the_parquet_wins_and_csv_false_writes_none(tmp_path):
    write_manifest(tmp_path, _rows(), {})
    edited = pd.read_csv(tmp_path / MANIFEST_CSV, dtype=str)
    edited.loc[0, "split"] = "test"
    edited.to_csv(tmp_path / MANIFEST_CSV, index=False)
    later = os.stat(tmp_path / MANIFEST_PARQUET).st_mtime_ns + 10**6
    os.utime(tmp_path / MANIFEST_CSV, ns=(later, later))
    assert read_manifest(tmp_path)[0]["split"].iloc[0] == "test"
    write_manifest(tmp_path, _rows(), {}, csv=False)
    assert not (tmp_path / MANIFEST_CSV).exists() and read_manifest(tmp_path)[0]["split"].iloc[0] == "train"


def test_no_manifest_names_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="manifest.parquet"):
        read_manifest(tmp_path)
