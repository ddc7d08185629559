"""Packed string columns: they read back exactly, hold no Python object per row, and keep the
memory of forked DataLoader workers flat over an epoch where lists of ``str`` make it grow."""

from __future__ import annotations

import numpy as np
import pandas as pd
import psutil
import pytest
import torch

from dfd.data.compact import Coded, PackedStrings
from dfd.data.datamodule import FrameDataset, freeze_for_workers


def test_packed_strings_read_back_exactly():
    values = ["crops/a/0.png", "", "élan/ß/1.png", "x" * 300]
    packed = PackedStrings(values)
    assert len(packed) == 4 and [packed[i] for i in range(4)] == values and packed[-1] == "x" * 300
    assert packed.tolist() == values and list(packed) == values
    assert PackedStrings(pd.Series(["a", None, np.nan])).tolist() == ["a", "", ""]
    assert PackedStrings(pd.Series(["a", "b", "c"]).iloc[1:]).tolist() == ["b", "c"]  # a slice's offsets
    assert PackedStrings([]).tolist() == []
    arrow = pd.Series(["a", "bb", None], dtype="string[pyarrow]")  # Arrow-backed columns arrive chunked
    assert PackedStrings(pd.concat([arrow, arrow], ignore_index=True)).tolist() == [
        "a",
        "bb",
        "",
        "a",
        "bb",
        "",
    ]
    with pytest.raises(IndexError):
        packed[4]
    assert isinstance(packed.data, np.ndarray) and isinstance(packed.offsets, np.ndarray)


def test_codes_are_dense_and_sorted():
    coded = Coded.factorize(["b/2", "a/1", "b/2", "c"])
    assert coded.codes.tolist() == [1, 0, 1, 2] and coded.vocabulary.tolist() == ["a/1", "b/2", "c"]
    assert coded[2] == "b/2" and coded.tolist() == ["b/2", "a/1", "b/2", "c"]


def _rows(n: int) -> pd.DataFrame:
    video = np.arange(n) // 32
    return pd.DataFrame({"video_id": [f"dfdc_train_part_{v % 50}/{v:010d}.mp4" for v in video],
                         "frame_idx": np.arange(n) % 32, "label": (video % 6 > 0).astype(int), "method": "m",
                         "split": "train", "crop_path": [f"crops/{v:010d}/{i % 32}.png" for i, v in enumerate(video)]})  # fmt: skip


class _ListDataset(torch.utils.data.Dataset):
    """dfd before 0.3: a Python ``str`` per crop path and per video id."""

    def __init__(self, rows: pd.DataFrame) -> None:
        self.paths = [f"/data/{p}" for p in rows["crop_path"]]
        self.video_ids = rows["video_id"].astype(str).tolist()

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> dict:
        return {"n": len(self.paths[i]) + len(self.video_ids[i])}


class _NoImages(FrameDataset):
    def load_image(self, i: int) -> np.ndarray:  # the metadata path only: every path is still read
        return np.full((4, 4, 3), len(self.paths[i]) % 255, np.uint8)


def _worker_growth_mb(dataset) -> float:
    """Largest growth of a worker's private memory (USS) from its first batch to its last."""
    freeze_for_workers()  # what the datamodule does before its workers start
    loader = torch.utils.data.DataLoader(dataset, batch_size=512, shuffle=True, num_workers=2)
    earlier = {p.pid for p in psutil.Process().children()}  # the last loader's workers may still be exiting
    it = iter(loader)
    next(it), next(it)  # a batch from each worker: on a busy machine the second starts late
    workers = [w for w in psutil.Process().children() if w.pid not in earlier]
    first = {w.pid: w.memory_full_info().uss for w in workers}
    last: dict[int, int] = {}
    # read once, after the epoch's last batch and before its workers stop: a USS reading scans
    # /proc/<pid>/smaps (~50 ms), which after every one of 782 batches took a minute per dataset
    for number, _ in enumerate(it, start=3):
        if number == len(loader):
            last = {w.pid: w.memory_full_info().uss for w in workers if w.is_running()}
    return max(last[pid] - first[pid] for pid in last) / 2**20


@pytest.mark.slow
def test_workers_keep_flat_memory_over_an_epoch_where_lists_of_str_grow():
    rows = _rows(400_000)
    packed = _NoImages("/data", rows, transform=lambda image: {"image": image.astype(np.float32)})
    assert len(packed) == 400_000 and packed.paths[5] == "/data/crops/0000000000/5.png"
    lists = _worker_growth_mb(_ListDataset(rows))
    ours = _worker_growth_mb(packed)
    # 400k paths and ids as str: each worker copies the pages of those it reads (measured 61 MB);
    # without freeze_for_workers the collector adds ~140 MB to either
    assert lists > 25, lists
    assert ours < 5, ours  # measured 0.4 MB
