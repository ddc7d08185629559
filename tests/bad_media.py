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


def flat_png(path: Path, width: int, height: int) -> Path:
    """A real, decodable black 1-bit PNG of ``width``×``height`` px that compresses to kilobytes
    (a 9400² one is 11 KB, yet 265 MB as RGB): written row by row, never held whole."""
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1 bit per pixel, greyscale
    packer = zlib.compressobj(9)
    row = b"\x00" * (1 + (width + 7) // 8)  # filter byte, then the row's bits
    data = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", data) + _chunk(b"IEND", b"")
    )
    return path


def flat_video(path: Path, width: int, height: int, frames: int = 2) -> Path:
    """A real black H.264 MP4 of ``width``×``height`` px frames that weighs kilobytes (a 4096²
    one of 3 frames is 50 KB, an 8192×4320 one 105 KB)."""
    import av

    black = np.zeros((height, width, 3), np.uint8)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=8)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"preset": "ultrafast", "crf": "51"}
        for _ in range(frames):
            for packet in stream.encode(av.VideoFrame.from_ndarray(black, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path
