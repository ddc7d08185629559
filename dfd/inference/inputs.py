"""What ``dfd.predict input=...`` may name (a file, a folder, a glob, or a ``.txt`` list of paths),
and how an input image is decoded (:func:`read_image`, shared by ``dfd.predict`` and ``dfd.serve``).

Both commands share one pixel budget, ``max_pixels`` (:data:`MAX_PIXELS` by default), for images
and video frames: a file's header is read before its pixels, and an image above the budget is
decoded reduced where its format allows it (JPEG's DCT scaling, 1/2 to 1/8) or refused, so a
small crafted file cannot make either command hold gigabytes.
"""

from __future__ import annotations

import glob
import math
import warnings
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from dfd.core.errors import DfdError
from dfd.raw.records import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS

MEDIA_EXTENSIONS = IMAGE_EXTENSIONS + VIDEO_EXTENSIONS
#: Default pixel budget of an image or a video frame (``max_pixels``): 4096x3072 (12.6 MP) holds a
#: 12 MP photo (4032x3024) and a 4K frame (3840x2160 or 4096x2160); one such video frame costs
#: decord about 250 MB to decode, so a 4096x4096 one (about 310 MB) is refused.
MAX_PIXELS = 4096 * 3072


def kind_of(path: str | Path) -> str:
    """``image``, ``video`` or ``unsupported``, by the file's extension."""
    suffix = Path(path).suffix.lower()
    if suffix in IMAGE_EXTENSIONS:
        return "image"
    if suffix in VIDEO_EXTENSIONS:
        return "video"
    return "unsupported"


def expand_inputs(spec: str | Path) -> list[Path]:
    """The files ``spec`` names, in a stable order.

    - a folder: every image and video under it (recursively);
    - a ``.txt`` file: one path per line (blank lines and ``#`` comments skipped), relative to
      the list's folder unless absolute;
    - a pattern with ``*``, ``?`` or ``[``: the files it matches (``**`` recurses);
    - anything else: that one path, even when it does not exist (the prediction then says so).
    """
    spec = str(spec)
    path = Path(spec).expanduser()
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in MEDIA_EXTENSIONS)
    if path.suffix.lower() == ".txt" and path.is_file():
        out = []
        # surrogateescape: a listed name that is not UTF-8 reaches the file as its own bytes
        for line in path.read_text(encoding="utf-8", errors="surrogateescape").splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                entry = Path(line).expanduser()
                out.append(entry if entry.is_absolute() else path.parent / entry)
        return out
    if any(ch in spec for ch in "*?["):
        return sorted(Path(p) for p in glob.glob(str(path), recursive=True) if Path(p).is_file())
    return [path]


class UnreadableImage(DfdError, ValueError):
    """An image that cannot be decoded (empty, truncated, corrupt)."""


class NotAnImage(UnreadableImage):
    """Bytes that no image format recognises."""


class OversizedImage(UnreadableImage):
    """An image whose header claims more pixels than the budget (``max_pixels``) or PIL's
    decompression-bomb limit."""


#: 16-bit greyscale modes of PIL (a 16-bit PNG opens as one of them).
_GREY16 = ("I;16", "I;16L", "I;16B", "I;16N", "I")


def read_image(
    source: str | Path | BinaryIO,
    name: str | None = None,
    strict: bool = False,
    max_pixels: int | None = None,
) -> np.ndarray:
    """Decode an image whole into RGB uint8 ``[H, W, 3]``; ``name`` is what errors call it.

    16-bit greyscale keeps its high byte, as OpenCV reads it (PIL's own conversion would clip
    everything above 255 to white); alpha is dropped. An image whose header claims more than
    ``max_pixels`` (``None`` or 0: no budget) is decoded at the largest of 1/2, 1/4 or 1/8 scale
    that fits when it is a JPEG, and refused otherwise. Raises :class:`NotAnImage`,
    :class:`OversizedImage` (above ``max_pixels``; above twice ``PIL.Image.MAX_IMAGE_PIXELS``, or
    above it with ``strict``: a server decodes no more than that) or :class:`UnreadableImage`.
    """
    from PIL import Image, UnidentifiedImageError

    name = name or str(source)
    if isinstance(source, str | Path) and Path(source).is_file() and Path(source).stat().st_size == 0:
        raise NotAnImage(f"{name} is empty (0 bytes)")
    try:
        with warnings.catch_warnings():
            if strict:
                warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(source) as img:
                _fit_budget(img, name, max_pixels)
                img.load()  # decode it all now: a truncated file fails here, not halfway through scoring
                if img.mode in _GREY16:
                    grey = (np.asarray(img).astype(np.uint32).clip(0, 65535) >> 8).astype(np.uint8)
                    return np.repeat(grey[..., None], 3, axis=2)
                if img.mode == "F":
                    raise UnreadableImage(f"{name} has floating-point samples (PIL mode F), which have no "
                                          "8-bit scale: save it as an 8-bit image")  # fmt: skip
                return np.asarray(img if img.mode == "RGB" else img.convert("RGB"))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        raise OversizedImage(f"{name} is too large to decode: {err}") from None
    except UnidentifiedImageError:
        raise NotAnImage(f"{name} is not an image any decoder recognises") from None
    except UnreadableImage:
        raise
    except Exception as err:  # PIL raises OSError, SyntaxError, EOFError, struct.error... on corrupt files
        detail = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise UnreadableImage(f"{name} cannot be decoded as an image ({detail})") from None


def _fit_budget(img: Any, name: str, max_pixels: int | None) -> None:
    """Within ``max_pixels`` before decoding: a JPEG is set to decode reduced (PIL's ``draft``),
    anything else above it raises :class:`OversizedImage`."""
    width, height = img.size
    if not max_pixels or width * height <= max_pixels:
        return
    if img.format == "JPEG":
        for denominator in (2, 4, 8):  # the scales libjpeg decodes at directly
            if math.ceil(width / denominator) * math.ceil(height / denominator) <= max_pixels:
                img.draft("RGB", (math.ceil(width / denominator), math.ceil(height / denominator)))
                if img.size[0] * img.size[1] <= max_pixels:
                    return
                break
    raise OversizedImage(
        f"{name} is too large to decode: {width}x{height} px ({width * height / 1e6:.1f} MP), above "
        f"max_pixels={max_pixels} "
        f"({max_pixels / 1e6:.1f} MP): scale the image down, or raise max_pixels"
    )
