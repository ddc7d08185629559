"""Packed training crops for cluster filesystems, through LitData.

On NFS or Lustre, opening hundreds of thousands of small crop files, not decoding them, limits
a DataLoader. ``python -m dfd.pack data=<name>`` (``dfd pack``) writes each split of a preprocessed
dataset into LitData chunks (``<root>/packed/<split>/``, tens of MB each), and ``data.format=packed``
trains from them with everything else unchanged: the same rows, splits, labels, transforms and
samplers, because a packed item is looked up by the sample's index in the split, as a crop file
is; each training batch is read in ascending index order (the same batches), because LitData
reads forward fast and jumps back slowly. LitData (Lightning's chunked format) was chosen over
WebDataset because it can be read by index, so the per-video balanced sampler and exactly-once
DDP epochs (``sampler=once``) keep working, where WebDataset can only stream through a shuffle
buffer; the throughput of both is in ``benchmarks/bench_packed.py`` and ``docs/performance.md``.

"Packed" is this format's one name; "shard" is the preprocessing work split
(``preprocess.shard=i``). Earlier versions called the packed data shards: ``data.format=shards``
is still read as ``packed`` (with a warning), and a pack they wrote under ``<root>/shards`` is still
found (:func:`find_packed`; a warning names that folder) until the dataset is re-packed.

Each item holds the sample's index and its crop as a uint8 array, in one of three encodings:

- ``raw`` (the default): the decoded RGB pixels. The same pixels as the crop files with nothing
  to decode, so the fastest to read, but larger (1.7x the bytes of 224 px PNG crops in
  ``benchmarks/bench_packed.py``).
- ``source``: the crop file's own bytes (PNG or JPEG as preprocessing wrote it), decoded as the
  files are: the same pixels at the same size.
- ``jpeg``: re-encoded at ``jpeg_quality``: the smallest and faster to decode than PNG, but
  lossy, so the fingerprint of models trained on it says so.

``packed/pack.json`` records what was packed; a split whose samples differ from it (another
``frames_per_video``, a new manifest) is refused with the command that re-packs, and so are
packs written by an older ``dfd.pack``.

Reading: items are stored as arrays, not ``bytes``, because LitData stores a record of plain
scalars and bytes as Arrow rows and decodes a window of 256 of them on every change of chunk,
which made randomly ordered reads cost milliseconds per item; with array items and
``batch_decode=0`` each read decodes only its own item, and ``CHUNKS_MAPPED`` chunk files stay
memory-mapped per reader, so a shuffled epoch does not re-open them.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from dfd.core.moved import moved_name

log = logging.getLogger(__name__)

#: where ``dfd.pack`` writes: ``<root>/packed``
PACKED_DIR = "packed"
#: where ``dfd.pack`` wrote before the format was named "packed"; still read
LEGACY_PACKED_DIR = "shards"
PACK_META = "pack.json"
ENCODINGS = ("source", "raw", "jpeg")
#: bumped when the item layout changes; packs of another version are refused with the re-pack command
FORMAT_VERSION = 2
#: chunk files kept memory-mapped per reader (LitData's LRU; it shrinks it to fit the RAM)
CHUNKS_MAPPED = 64
#: the legacy folders already named in a warning by this process
_LEGACY_WARNED: set[Path] = set()


def packed_root(root: str | Path) -> Path:
    """Where ``dfd.pack`` writes a dataset's packed crops: ``<root>/packed``."""
    return Path(root) / PACKED_DIR


def find_packed(root: str | Path) -> Path:
    """The folder a dataset's packed crops are read from: ``<root>/packed``, or ``<root>/shards`` when
    only an earlier ``dfd.pack`` wrote there (a warning names it); ``<root>/packed`` when neither has
    a ``pack.json`` (so that the refusal names where the pack belongs)."""
    new, legacy = packed_root(root), Path(root) / LEGACY_PACKED_DIR
    if not (new / PACK_META).is_file() and (legacy / PACK_META).is_file():
        if legacy not in _LEGACY_WARNED:  # once per folder, not once per split
            _LEGACY_WARNED.add(legacy)
            log.warning(
                "reading the crops an earlier dfd.pack packed under %s (this version packs into %s; "
                "re-pack with dfd pack to move them)",
                legacy,
                new,
            )
        return legacy
    return new


def samples_digest(dataset: Any) -> str:
    """A digest of a split's samples in order (video, frame, label), independent of where the data
    folder sits, so a copy of the dataset on a cluster matches its pack."""
    digest = hashlib.sha256()
    digest.update("\n".join(dataset.video_ids.vocabulary.tolist()).encode())
    for array in (dataset.video_idx, dataset.frame_idx, dataset.labels):
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


def encode_item(job: tuple[int, str], encoding: str = "raw", jpeg_quality: int = 95) -> dict[str, Any]:
    """One packed item: the sample's index and its crop, as encoded bytes in a 1-D uint8 array
    (``source``, ``jpeg``) or as RGB pixels, H x W x 3 (``raw``)."""
    index, path = job
    if encoding == "source":
        data = np.fromfile(path, dtype=np.uint8)
    else:
        image = cv2.imread(path, cv2.IMREAD_COLOR)
        if image is None:
            raise OSError(f"cannot read face crop {path}: re-run preprocessing for this dataset")
        if encoding == "raw":
            data = np.ascontiguousarray(cv2.cvtColor(image, cv2.COLOR_BGR2RGB))
        else:
            ok, buffer = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, int(jpeg_quality)])
            if not ok:
                raise OSError(f"cannot encode {path} as JPEG")
            data = buffer.reshape(-1)
    return {"index": int(index), "image": data}


def pack_split(
    dataset: Any,
    out: str | Path,
    encoding: str = "raw",
    jpeg_quality: int = 95,
    chunk_bytes: str = "64MB",
    progress: bool = True,
) -> dict[str, Any]:
    """Write the crops of one split (a :class:`~dfd.data.datamodule.FrameDataset`) as LitData chunks
    in ``out`` (replaced), in dataset order, with LitData's chunk writer in this process (packing
    reads files and writes big ones: one process keeps the disk busy); returns what ``pack.json``
    records for the split."""
    from litdata.streaming.writer import BinaryWriter
    from tqdm import tqdm

    if encoding not in ENCODINGS:
        raise ValueError(f"encoding={encoding!r}: expected one of {list(ENCODINGS)}")
    out = Path(out)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    writer = BinaryWriter(str(out), chunk_bytes=chunk_bytes)
    n = len(dataset)
    for i in tqdm(range(n), desc=f"packing {out.name}", unit="crop", disable=not progress):
        writer[i] = encode_item((i, dataset.paths[i]), encoding, jpeg_quality)
    writer.done()
    writer.merge()
    return {"samples": n, "digest": samples_digest(dataset)}


def write_pack_meta(root: str | Path, meta: dict[str, Any]) -> Path:
    """Write ``packed/pack.json`` atomically."""
    meta = {**meta, "format_version": FORMAT_VERSION}
    path = packed_root(root) / PACK_META
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{PACK_META}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(meta, indent=2, sort_keys=True))
    os.replace(tmp, path)
    return path


def read_pack_meta(root: str | Path, hint: str) -> dict[str, Any]:
    """The ``pack.json`` of :func:`find_packed`, or ``FileNotFoundError`` naming the command that
    writes it."""
    path = find_packed(root) / PACK_META
    if not path.is_file():
        raise FileNotFoundError(
            f"data.format=packed but {path} does not exist: pack the dataset first with\n    {hint}"
        )
    meta = json.loads(path.read_text())
    if meta.get("format_version") != FORMAT_VERSION:
        raise RuntimeError(
            f"{path} was written by an older dfd.pack (pack format {meta.get('format_version', 1)}, this dfd reads "
            f"{FORMAT_VERSION}): re-pack the dataset with\n    {hint}"
        )
    return meta


class PackedReader:
    """Random access to one split's packed items, opened lazily in each process (DataLoader workers
    included), so a forked worker never shares the parent's open chunk files."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = str(directory)
        self._dataset: Any = None
        self._pid: int | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {"directory": self.directory, "_dataset": None, "_pid": None}

    def _open(self) -> Any:
        if self._dataset is None or self._pid != os.getpid():
            from litdata import StreamingDataset

            # batch_decode=0: decode only the item asked for (see the module docstring)
            self._dataset = StreamingDataset(self.directory, batch_decode=0, max_pre_download=CHUNKS_MAPPED)
            self._pid = os.getpid()
        return self._dataset

    def __len__(self) -> int:
        return len(self._open())

    def __getitem__(self, i: int) -> dict[str, Any]:
        item = self._open()[int(i)]
        if int(item["index"]) != int(i):
            raise RuntimeError(
                f"packed item {i} of {self.directory} holds sample {item['index']}: the pack is out of date, "
                "re-pack the dataset (python -m dfd.pack data=<name>)"
            )
        return item


def decode_image(data: np.ndarray, where: str) -> np.ndarray:
    """A packed item's crop → RGB uint8 HWC: raw pixels as they are, encoded bytes decoded."""
    if data.ndim == 3:
        return np.array(data, dtype=np.uint8)  # own, writable copy
    image = cv2.imdecode(np.asarray(data, dtype=np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise OSError(
            f"cannot decode the crop of {where}: re-pack the dataset (python -m dfd.pack data=<name>)"
        )
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def __getattr__(name: str) -> Any:
    """Names of the module's earlier life as ``dfd.data.shards`` answer here, with a warning."""
    return moved_name(__name__, name)
