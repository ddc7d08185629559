"""What a layout parser returns: one :class:`VideoRecord` per video of a raw dataset.

Parsers (:mod:`dfd.raw.layouts`) read the folders exactly as the dataset owners ship them (each
parser's docstring cites the dataset's paper) and return plain records: no Hydra, no decoding. A
required file that is missing raises ``FileNotFoundError`` naming it, a malformed one
:class:`MetadataError` naming the file and the line. Inconsistencies between metadata and disk (an entry with no
file, a file with no entry) are not errors: they come back as records whose ``status`` says
so, and preprocessing writes them into the manifest so that nothing is dropped silently.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dfd.core.errors import DfdError

#: ``VideoRecord.status`` values; they are also manifest ``status`` values.
STATUS_OK = "ok"
MISSING_FILE = "missing_file"
UNLISTED_FILE = "unlisted_file"
#: the video's metadata file (one part of a multi-part dataset) could not be read
BAD_METADATA = "bad_metadata"

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv", ".webm")
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


@dataclass(frozen=True)
class VideoRecord:
    """One video (or one image, or one pre-cropped frame sequence) of a raw dataset.

    ``video_id`` is unique inside a dataset (it names the crop folder). ``label`` is 0 real,
    1 fake. ``split`` is ``train``/``val``/``test``, or ``""`` when the layout has none and a
    split must be carved later. ``group`` keeps related videos (an identity, an FF++ pair, a
    DFDC fake and its original) in one split. ``source_id`` names the video whose frames this
    one shares (FF++ fake ``a_b`` → original ``a``), so its face boxes can be reused. ``made_from``
    names the real video a fake was made from where the dataset says so but the frames are not
    known to line up (DFDC's ``original``); the manifest's ``source_video`` is ``made_from`` or
    ``source_id``, and ``sampler=paired_source`` batches each fake beside that real.
    """

    path: Path
    video_id: str
    label: int
    method: str
    split: str
    group: str
    compression: str = ""
    has_audio: bool = False
    source_id: str = ""
    #: The video_id of the real video this fake was made from, where ``source_id`` does not say it.
    made_from: str = ""
    status: str = STATUS_OK
    reason: str = ""
    #: Which modality is fake, where the dataset says (FakeAVCeleb); None = not told apart.
    label_video: int | None = None
    label_audio: int | None = None
    #: For layouts that ship already-cropped frames (DeepfakeBench, image folders).
    frames: tuple[Path, ...] = field(default=())
    #: The fake segments in seconds, as JSON ``[[start, end], ...]`` (LAV-DF, AV-Deepfake1M); kept
    #: in the manifest for temporal localisation.
    fake_periods: str = ""
    #: A manipulation mask video aligned with this one (FF++ and DFD ``masks/``): which face was swapped.
    mask_path: Path | None = None
    #: A frame-list record's per-frame manipulation masks (DeepfakeBench's JSON ``masks``), aligned
    #: with ``frames``; None where a frame has none, empty when the record has none at all.
    mask_frames: tuple[Path | None, ...] = field(default=())
    #: The frames are face crops already (some Celeb-DF++ subsets): used whole, no face detection.
    precropped: bool = False

    @property
    def is_image(self) -> bool:
        return self.path.suffix.lower() in IMAGE_EXTENSIONS


def require_file(path: Path, what: str) -> Path:
    """Return ``path`` or raise ``FileNotFoundError`` naming it and what it should be."""
    if not path.is_file():
        raise FileNotFoundError(f"{what} not found: {path}")
    return path


def require_dir(path: Path, what: str) -> Path:
    """Return ``path`` or raise ``FileNotFoundError`` naming it and what it should be."""
    if not path.is_dir():
        raise FileNotFoundError(f"{what} not found: {path} (check data.raw_dir)")
    return path


def list_files(folder: Path, extensions: tuple[str, ...]) -> list[Path]:
    """Files directly in ``folder`` with one of ``extensions``, sorted; [] if it does not exist."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in extensions)


class MetadataError(DfdError, ValueError):
    """A dataset's metadata file that cannot be read; the message names the file and the line."""

    def __init__(self, path: Path, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path


def read_json(path: Path, what: str) -> Any:
    """Parse the JSON file ``path`` (``what`` it is, for messages). A missing file raises
    ``FileNotFoundError`` and a malformed one :class:`MetadataError`, both naming the file, and
    the line and column where parsing stopped."""
    text = require_file(path, what).read_text(encoding="utf-8", errors="replace")
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise MetadataError(
            path,
            f"line {err.lineno}, column {err.colno}: {what} is not valid JSON ({err.msg}); "
            "the file is truncated or damaged: download it again",
        ) from None


def read_csv(path: Path, what: str, columns: set[str]) -> list[tuple[int, dict[str, str]]]:
    """``(line number, row)`` for every row of the CSV file ``path`` (``what`` it is, for messages).

    A missing file raises ``FileNotFoundError``. A header without ``columns``, a row that stops
    before one of them (a truncated download leaves such a last line) or a line the CSV reader
    cannot parse raises :class:`MetadataError` naming the file and the line."""
    require_file(path, what)
    rows = []
    with path.open(newline="", encoding="utf-8", errors="replace") as f:
        reader = csv.DictReader(f)
        try:
            header = reader.fieldnames or []
            if absent := sorted(columns - set(header)):
                raise MetadataError(path, f"line 1: {what} has no column {absent} (header: {header})")
            for row in reader:
                if short := sorted(c for c in columns if row.get(c) is None):
                    raise MetadataError(
                        path,
                        f"line {reader.line_num}: {what} has {sum(v is not None for v in row.values())} "
                        f"fields where the header has {len(header)} (no {short}); the file is truncated "
                        "or damaged: download it again",
                    )
                rows.append((reader.line_num, row))
        except csv.Error as err:
            raise MetadataError(path, f"line {reader.line_num}: {what} is not valid CSV ({err})") from None
    return rows
