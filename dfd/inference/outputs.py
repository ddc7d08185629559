"""How ``dfd.predict`` writes its rows: CSV files that hold a row for every input whatever it is
named, and that a spreadsheet opens without running anything.

- A file name that is not valid UTF-8 reaches Python with its undecodable bytes as surrogate
  escapes (``\\udcff`` for byte ``0xff``, PEP 383); they are written as that text, so the file
  stays UTF-8 and the row is still written.
- A text cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is one a
  spreadsheet would run as a formula (CSV injection): it gets a leading ``'``, as OWASP
  recommends (https://owasp.org/www-community/attacks/CSV_Injection). Numbers stay numbers.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

#: First characters that make a spreadsheet read a cell as a formula (OWASP).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: Any) -> Any:
    """``value`` with a leading ``'`` when it is text a spreadsheet would run as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


class RowWriter:
    """A CSV file of rows with ``columns``, flushed after each :meth:`write` (a crash or kill
    keeps every row written so far); use it as a context manager."""

    def __init__(self, path: str | Path, columns: Sequence[str]) -> None:
        self.path = Path(path)
        self.columns = list(columns)
        self._handle: TextIO | None = None

    def __enter__(self) -> RowWriter:
        # backslashreplace: a surrogate-escaped name is written as its \udcXX text, never an error
        self._handle = self.path.open("w", newline="", encoding="utf-8", errors="backslashreplace")
        self._writer = csv.DictWriter(self._handle, fieldnames=self.columns)
        self._writer.writeheader()
        return self

    def write(self, rows: Iterable[Mapping[str, Any]]) -> None:
        """Write ``rows`` (text cells made spreadsheet-safe) and flush them to disk."""
        assert self._handle is not None, "RowWriter is used as a context manager"
        self._writer.writerows({k: spreadsheet_safe(v) for k, v in row.items()} for row in rows)
        self._handle.flush()

    def __exit__(self, *exc: object) -> None:
        if self._handle is not None:
            self._handle.close()
