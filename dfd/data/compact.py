"""Columns of millions of strings without a Python object per row.

A dataset that keeps a list of ``str`` (one per crop path, one per video id) makes every
forked DataLoader worker copy the pages of those objects as it reads them: each access writes
the object's reference count. Worker memory then grows through the epoch, by tens of GB at DFDC
scale with 64 workers per node. :class:`PackedStrings` keeps all strings in one UTF-8 byte
array with an offset array (Arrow's layout, built by pyarrow), and :class:`Coded` keeps a
column as integer codes into a small packed vocabulary. Reading an item decodes a fresh
``str``; the shared arrays are never written, so the workers' pages stay shared.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pandas as pd


class PackedStrings(Sequence[str]):
    """Read-only strings in one ``uint8`` buffer with ``int64`` offsets; missing values are ``""``."""

    def __init__(self, values: Sequence[str] | pd.Series | np.ndarray | Any) -> None:
        import pyarrow as pa
        import pyarrow.compute as pc

        if isinstance(values, (pa.Array, pa.ChunkedArray)):
            array = values
        else:
            series = pd.Series(values, dtype=object) if not isinstance(values, pd.Series) else values
            array = pa.array(series, from_pandas=True)
        if isinstance(array, pa.ChunkedArray):  # Arrow-backed pandas columns arrive in chunks
            array = array.combine_chunks()
        if not pa.types.is_string(array.type) and not pa.types.is_large_string(array.type):
            array = pc.cast(array, pa.string()) if len(array) and not pa.types.is_null(array.type) else pa.array(
                [None] * len(array), pa.string())  # fmt: skip
        array = pc.fill_null(array.cast(pa.large_string()), "")
        _, offsets, data = array.buffers()
        n = len(array)
        self.offsets = np.frombuffer(offsets, dtype=np.int64)[array.offset : array.offset + n + 1].copy()
        start, end = int(self.offsets[0]), int(self.offsets[-1]) if n else 0
        self.data = (
            np.frombuffer(data, dtype=np.uint8)[start:end].copy()
            if data is not None and n
            else np.empty(0, np.uint8)
        )
        self.offsets -= start

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, i: int) -> str:  # type: ignore[override]
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(f"index {i} out of range for {len(self)} strings")
        return self.data[self.offsets[i] : self.offsets[i + 1]].tobytes().decode("utf-8")

    def __iter__(self) -> Iterator[str]:
        return iter(self.tolist())

    def tolist(self) -> list[str]:
        """Every string, as a list (for reports and tables; not for the training loop)."""
        import pyarrow as pa

        array = pa.LargeStringArray.from_buffers(
            len(self), pa.py_buffer(self.offsets), pa.py_buffer(self.data)
        )
        return array.to_pylist()

    @property
    def nbytes(self) -> int:
        return int(self.data.nbytes + self.offsets.nbytes)


class Coded(Sequence[str]):
    """A string column as ``int32`` codes into a packed vocabulary (video ids, methods, splits).

    ``Coded.factorize(values)`` builds it with the vocabulary sorted, so a code's order is the
    strings' order (dense video indices for metrics under DDP).
    """

    def __init__(self, codes: np.ndarray, vocabulary: PackedStrings) -> None:  # codes of any integer type
        self.codes = np.asarray(codes)
        self.vocabulary = vocabulary

    @classmethod
    def factorize(cls, values: pd.Series | Sequence[str]) -> Coded:
        series = values if isinstance(values, pd.Series) else pd.Series(values, dtype=object)
        codes, uniques = pd.factorize(series.fillna(""), sort=True)  # vectorised, Arrow strings stay Arrow
        dtype = np.int32 if len(uniques) < 2**31 else np.int64
        return cls(codes.astype(dtype), PackedStrings(pd.Series(uniques)))

    def __len__(self) -> int:
        return len(self.codes)

    def __getitem__(self, i: int) -> str:  # type: ignore[override]
        return self.vocabulary[int(self.codes[i])]

    def __iter__(self) -> Iterator[str]:
        return iter(self.tolist())

    def tolist(self) -> list[str]:
        names = self.vocabulary.tolist()
        return [names[c] for c in self.codes.tolist()]


class RootedPaths(Sequence[str]):
    """Paths stored relative to one ``root`` (packed) and joined on access: a DFDC-sized split
    does not repeat a cluster's long data prefix millions of times. Absolute stored paths (and
    empty ones) are returned as they are."""

    def __init__(self, root: str, relative: PackedStrings) -> None:
        self.root = root.rstrip("/") + "/"
        self.relative = relative

    def __len__(self) -> int:
        return len(self.relative)

    def __getitem__(self, i: int) -> str:  # type: ignore[override]
        path = self.relative[i]
        return path if not path or path.startswith("/") else self.root + path

    def __iter__(self) -> Iterator[str]:
        return iter(self.tolist())

    def tolist(self) -> list[str]:
        return [p if not p or p.startswith("/") else self.root + p for p in self.relative.tolist()]

    @property
    def nbytes(self) -> int:
        return self.relative.nbytes
