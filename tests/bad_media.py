"""Small bad files for the "a bad file never stops the run" tests of dfd.predict and dfd.serve."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


def bomb_png(path: Path, side: int = 30000) -> Path:
    """A ~70-byte PNG whose header claims ``side``×``side`` RGB pixels (a decompression bomb)."""
    header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(b"\x00" * 10))
                     + _chunk(b"IEND", b""))  # fmt: skip
    return path


def truncated_jpeg(path: Path) -> Path:
    """A photo's JPEG cut to its first third: the header opens, the pixels do not decode."""
    from PIL import Image
    from skimage import data

    full = path.with_name(path.stem + "_full.jpg")
    Image.fromarray(data.astronaut()).save(full)
    raw = full.read_bytes()
    full.unlink()
    path.write_bytes(raw[: len(raw) // 3])
    return path


def grey16_png(path: Path, grey: np.ndarray) -> Path:
    """``grey`` (uint8) saved as a 16-bit greyscale PNG (each value × 257, so the high byte is ``grey``)."""
    from PIL import Image

    Image.fromarray(grey.astype(np.uint16) * 257).save(path)
    return path
