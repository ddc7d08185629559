"""dfd.predict's CSV rows: written for names that are not UTF-8, and neutralised where a
spreadsheet would run a cell as a formula (OWASP's CSV injection advice)."""

from __future__ import annotations

import csv
import os

import pandas as pd

from dfd.inference.outputs import RowWriter, spreadsheet_safe


def test_formula_cells_get_a_quote_and_numbers_stay_numbers():
    cells = ["=cmd|calc!A0.jpg", "+1", "-2+3", "@SUM(A1)", "\tx", "\rx", "photo.jpg", "a=b", ""]
    assert [spreadsheet_safe(c) for c in cells] == [
        "'=cmd|calc!A0.jpg", "'+1", "'-2+3", "'@SUM(A1)", "'\tx", "'\rx", "photo.jpg", "a=b", "",
    ]  # fmt: skip
    assert [spreadsheet_safe(v) for v in (-0.5, -3, None, float("inf"))][:3] == [-0.5, -3, None]


def test_rows_are_written_whatever_the_input_is_named(tmp_path):
    odd = os.fsdecode(b"/data/clip\xff.mp4")  # as Python lists a name that is not UTF-8
    assert "\udcff" in odd
    rows = [
        {"path": odd, "score": 0.25, "reason": ""},
        {"path": "=cmd|calc!A0.jpg", "score": float("nan"), "reason": "=cmd|calc!A0.jpg does not exist"},
        {"path": "b.jpg", "score": -1.5, "reason": "@x"},
    ]
    with RowWriter(tmp_path / "p.csv", ["path", "score", "reason"]) as out:
        for row in rows:
            out.write([row])
    raw = (tmp_path / "p.csv").read_bytes()
    raw.decode("utf-8")  # the file stays UTF-8
    table = pd.read_csv(tmp_path / "p.csv").fillna({"reason": ""})
    assert table["path"].tolist() == ["/data/clip\\udcff.mp4", "'=cmd|calc!A0.jpg", "b.jpg"]
    assert table["reason"].tolist() == ["", "'=cmd|calc!A0.jpg does not exist", "'@x"]
    assert table["score"].dtype == float and table["score"].tolist()[2] == -1.5  # numbers stay numbers
    with (tmp_path / "p.csv").open(newline="") as f:
        assert not any(cell.startswith(("=", "+", "-", "@")) for line in csv.reader(f) for cell in line[::2])
