"""A file's sha256 read in chunks: the same digest as hashing the whole file at once."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from dfd.core.digest import file_sha256


@pytest.mark.parametrize("size", [0, 1, 1023, 1024, 2500])
def test_a_chunked_read_gives_the_digest_of_the_whole_file(tmp_path: Path, size: int) -> None:
    data = bytes(range(256)) * 10
    path = tmp_path / "f.bin"
    path.write_bytes(data[:size])
    expected = hashlib.sha256(data[:size]).hexdigest()
    assert file_sha256(path, chunk=1024) == file_sha256(str(path)) == expected
    assert len(expected) == 64 and expected == expected.lower()


def test_a_missing_file_is_an_error_not_an_empty_digest(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        file_sha256(tmp_path / "absent.bin")
