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


def test_crop_landmarks_are_a_list_column_in_the_parquet_and_json_in_the_csv(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from dfd.preprocessing.landmarks import landmark_array

    rows = _rows().assign(crop_landmarks=["[[1.5,2.25],[3,4]]", "[[5,6],[7,8.5]]", ""])
    write_manifest(tmp_path, rows, {})
    field = pq.read_schema(tmp_path / MANIFEST_PARQUET).field("crop_landmarks")
    assert field.type == pa.list_(pa.float32())
    table = pq.read_table(tmp_path / MANIFEST_PARQUET, columns=["crop_landmarks"])
    assert table.column(0).null_count == 1 and table.column(0).to_pylist()[1] == [5.0, 6.0, 7.0, 8.5]
    assert pd.read_csv(tmp_path / MANIFEST_CSV)["crop_landmarks"].iloc[0] == "[[1.5,2.25],[3,4]]"
    # a CSV edited after the Parquet is read instead, and gives the same points
    expected = landmark_array(read_manifest(tmp_path)[0]["crop_landmarks"])
    later = os.stat(tmp_path / MANIFEST_PARQUET).st_mtime_ns + 10**6
    os.utime(tmp_path / MANIFEST_CSV, ns=(later, later))
    assert manifest_file(tmp_path) == tmp_path / MANIFEST_CSV
    np.testing.assert_array_equal(landmark_array(read_manifest(tmp_path)[0]["crop_landmarks"]), expected)
    assert expected.shape == (3, 2, 2) and np.isnan(expected[2]).all()


def test_read_usable_keeps_the_points_of_the_usable_rows(tmp_path):
    from dfd.preprocessing.landmarks import landmark_array
    from dfd.preprocessing.manifest import read_usable

    rows = _rows().assign(crop_landmarks=["[[1,2]]", "[[3,4]]", ""])
    write_manifest(tmp_path, rows, {})
    usable, unusable, _ = read_usable(tmp_path, columns=["video_id", "status", "crop_landmarks"])
    assert landmark_array(usable["crop_landmarks"]).tolist() == [[[1.0, 2.0]], [[3.0, 4.0]]]
    assert unusable["crop_landmarks"].isna().all()


def test_without_landmarks_the_column_is_there_and_empty(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    write_manifest(tmp_path, _rows(), {})
    column = pq.read_table(tmp_path / MANIFEST_PARQUET, columns=["crop_landmarks"]).column(0)
    assert column.type == pa.list_(pa.float32()) and column.null_count == 3
