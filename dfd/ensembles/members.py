"""Scoring an ensemble's members on the same crops, once: outputs cached by member and split.

Each member applies its own evaluation transform (its ``input_spec``: size, mean, std) to the
same RGB crops, so nets with different input sizes and normalisations score exactly the crops
the others see. The crops are read once per batch and every member that is not cached yet
scores that batch ("batched members"). A member's outputs on a split (fake logits, pooled
embeddings) are cached under ``cache_dir`` by the member file's sha256, the split's samples
(their paths, in order) and the data's preprocessing fingerprint (crop settings and the
manifest's sha256), so trying another fusion rule costs no second forward pass, while crops
regenerated in place under the same paths (a new manifest) are scored again; the cache is
safetensors, read without unpickling.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from dfd.inference.detector import TorchDetector
from dfd.metrics.detection import fake_logit

log = logging.getLogger(__name__)


@dataclass
class Member:
    """One trained detector of an ensemble: where it came from and its torch detector."""

    name: str
    path: Path
    detector: TorchDetector
    sha256: str


def samples_key(paths: Sequence[str], data_fingerprint: dict[str, Any] | None = None) -> str:
    """A digest of a split's samples, in order, and of how their crops were made (the data's
    fingerprint, ``manifest_sha256`` included): what a cached output must match. Paths alone
    would let crops regenerated in place under the same names reuse stale outputs."""
    digest = hashlib.sha256(json.dumps(data_fingerprint or {}, sort_keys=True, default=str).encode())
    digest.update(b"\n")
    digest.update("\n".join(paths).encode())
    return digest.hexdigest()


class _Crops(Dataset):
    """The raw RGB crops of a :class:`~dfd.data.datamodule.FrameDataset`, untransformed."""

    def __init__(self, dataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, i: int) -> np.ndarray:
        return self.dataset.load_image(i)


def _as_list(batch: list[np.ndarray]) -> list[np.ndarray]:
    return batch


def member_outputs(detector: TorchDetector, crops: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Fake logits ``float[N]`` and embeddings ``float[N, F]`` of one member on RGB crops."""
    logits, features = detector.logits_and_features(detector.prepare(crops))
    return fake_logit(torch.from_numpy(logits)).numpy().astype(np.float32), features.astype(np.float32)


def cache_file(cache_dir: Path, member: Member, key: str) -> Path:
    return cache_dir / f"{member.name}-{member.sha256[:12]}-{key[:12]}.safetensors"


def score_members(
    members: Sequence[Member],
    dataset,
    cache_dir: str | Path | None,
    batch_size: int = 64,
    num_workers: int = 0,
    desc: str = "members",
    data_fingerprint: dict[str, Any] | None = None,
) -> dict[str, dict[str, np.ndarray]]:
    """``{member name: {"logits": float[N], "features": float[N, F]}}`` on every sample of
    ``dataset`` (a ``FrameDataset``), from the cache when there, else scored (batched members)
    and cached. ``data_fingerprint`` (the datamodule's ``fingerprint()``, with the manifest's
    sha256) is part of the cache key: pass it whenever ``cache_dir`` is set."""
    from safetensors.numpy import load_file, save_file

    key = samples_key(dataset.paths, data_fingerprint)
    cache = Path(cache_dir) if cache_dir else None
    out: dict[str, dict[str, np.ndarray]] = {}
    pending = []
    for member in members:
        path = cache_file(cache, member, key) if cache else None
        if path is not None and path.is_file():
            out[member.name] = load_file(str(path))
            log.info("%s: cached outputs %s", member.name, path)
        else:
            pending.append(member)
    if pending:
        loader = DataLoader(
            _Crops(dataset), batch_size=batch_size, num_workers=num_workers, collate_fn=_as_list
        )
        parts: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {m.name: [] for m in pending}
        for crops in tqdm(loader, desc=f"{desc}: {', '.join(m.name for m in pending)}", unit="batch",
                          dynamic_ncols=True):  # fmt: skip
            for member in pending:
                parts[member.name].append(member_outputs(member.detector, crops))
        for member in pending:
            result = {
                "logits": np.concatenate([p[0] for p in parts[member.name]]),
                "features": np.concatenate([p[1] for p in parts[member.name]]),
            }
            out[member.name] = result
            if cache is not None:
                cache.mkdir(parents=True, exist_ok=True)
                path = cache_file(cache, member, key)
                tmp = path.with_suffix(".tmp")
                save_file(result, str(tmp))
                os.replace(tmp, path)
    return out
