"""Packed shards: the same samples and pixels as the crop files, refused when stale, and under
DDP with several workers every training sample read exactly once per epoch."""

from __future__ import annotations

import json
import os
import socket
from functools import partial
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
import torch
import torch.distributed as dist

from dfd.core.input_spec import InputSpec
from dfd.data.datamodule import FaceCropDataModule
from dfd.data.samplers import OncePerEpochSampler
from dfd.data.shards import pack_split, write_pack_meta
from dfd.preprocessing.manifest import write_manifest


def make_crops(root: Path, n_videos: int = 10, frames: int = 4) -> None:
    """``n_videos`` × ``frames`` random smooth 24 px PNG crops with a manifest (train/val/test by video)."""
    rng = np.random.default_rng(0)
    rows = []
    for v in range(n_videos):
        split = "val" if v % 5 == 3 else "test" if v % 5 == 4 else "train"
        for f in range(frames):
            rel = f"crops/v{v}/{f}.png"
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            noise = rng.integers(0, 256, (24, 24, 3), dtype=np.uint8)
            cv2.imwrite(str(root / rel), cv2.GaussianBlur(noise, (5, 5), 0))  # smooth, like a face crop
            rows.append({"video_id": f"v{v}", "frame_idx": f, "label": v % 2, "method": "m", "split": split,
                         "group": f"v{v}", "crop_path": rel, "status": "ok"})  # fmt: skip
    write_manifest(root, pd.DataFrame(rows), {"dataset": "shards_test"})


def pack(root: Path, encoding: str = "source", **data) -> FaceCropDataModule:
    dm = FaceCropDataModule(root=str(root), input_spec=InputSpec(24), **data)
    dm.setup()
    splits = {
        s: pack_split(dm.datasets[s], root / "shards" / s, encoding, progress=False)
        for s in ("train", "val", "test")
    }
    write_pack_meta(
        root, {"encoding": encoding, "jpeg_quality": 95 if encoding == "jpeg" else None, "splits": splits}
    )
    return dm


def test_shards_give_the_files_samples_and_pixels(tmp_path):
    make_crops(tmp_path)
    files = pack(tmp_path)
    shards = FaceCropDataModule(root=str(tmp_path), input_spec=InputSpec(24), format="shards")
    shards.setup()
    for split in ("train", "val", "test"):
        a, b = files.datasets[split], shards.datasets[split]
        assert len(a) == len(b) and type(b).__name__ == "ShardFrameDataset"
        assert all(np.array_equal(a.load_image(i), b.load_image(i)) for i in range(len(a)))
        assert np.array_equal(a.labels, b.labels) and np.array_equal(a.video_idx, b.video_idx)
    val_a, val_b = files.datasets["val"][1], shards.datasets["val"][1]
    assert torch.equal(val_a["image"], val_b["image"]) and val_a["video_id"] == val_b["video_id"]
    assert json.loads((tmp_path / "shards" / "pack.json").read_text())["splits"]["train"]["samples"] == 24


def test_raw_shards_hold_the_decoded_pixels(tmp_path):
    make_crops(tmp_path)
    files = pack(tmp_path, encoding="raw")
    shards = FaceCropDataModule(root=str(tmp_path), input_spec=InputSpec(24), format="shards")
    shards.setup()
    a, b = files.datasets["train"], shards.datasets["train"]
    item = b.reader[5]["image"]
    assert item.shape == (24, 24, 3) and item.dtype == np.uint8  # stored decoded, not as PNG bytes
    assert all(np.array_equal(a.load_image(i), b.load_image(i)) for i in range(len(a)))
    assert shards.fingerprint()["image_format"] == files.fingerprint()["image_format"]  # lossless


def test_random_order_reads_give_each_index_its_own_item(tmp_path):
    make_crops(tmp_path, n_videos=20)
    files = pack(tmp_path, encoding="source")
    shards = FaceCropDataModule(root=str(tmp_path), input_spec=InputSpec(24), format="shards")
    shards.setup()
    a, b = files.datasets["train"], shards.datasets["train"]
    for i in np.random.default_rng(1).permutation(len(a)):  # backwards and forwards through the chunks
        assert np.array_equal(a.load_image(int(i)), b.load_image(int(i)))


def test_jpeg_shards_are_close_and_say_so_in_the_fingerprint(tmp_path):
    make_crops(tmp_path)
    files = pack(tmp_path, encoding="jpeg")
    shards = FaceCropDataModule(root=str(tmp_path), input_spec=InputSpec(24), format="shards")
    shards.setup()
    a, b = files.datasets["val"].load_image(0), shards.datasets["val"].load_image(0)
    assert a.shape == b.shape and 0 < np.abs(a.astype(float) - b).mean() < 8  # lossy, but the same picture
    assert shards.fingerprint()["image_format"].startswith("jpeg q95")


def test_stale_or_missing_shards_are_refused_with_the_fix(tmp_path):
    make_crops(tmp_path)
    with pytest.raises(FileNotFoundError, match="dfd.pack"):
        FaceCropDataModule(root=str(tmp_path), input_spec=InputSpec(24), format="shards").setup()
    pack(tmp_path)
    fewer = FaceCropDataModule(
        root=str(tmp_path), input_spec=InputSpec(24), format="shards", frames_per_video=2
    )
    with pytest.raises(RuntimeError, match=r"(?s)24 packed, 12 now.*dfd.pack"):
        fewer.setup()
    meta_path = tmp_path / "shards" / "pack.json"
    old_meta = json.loads(meta_path.read_text())
    old_meta.pop("format_version")  # as the first dfd.pack wrote it (items as bytes)
    meta_path.write_text(json.dumps(old_meta))
    with pytest.raises(RuntimeError, match=r"(?s)older dfd.pack.*format 1.*dfd.pack"):
        FaceCropDataModule(root=str(tmp_path), input_spec=InputSpec(24), format="shards").setup()
    with pytest.raises(ValueError, match="data.format='tar'"):
        FaceCropDataModule(root=str(tmp_path), format="tar")


def _read_one_epoch(rank: int, world: int, root: str, port: int, out: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    torch.manual_seed(0)
    dm = FaceCropDataModule(root=root, input_spec=InputSpec(24), format="shards", batch_size=4, num_workers=2,
                            sampler=partial(OncePerEpochSampler, seed=3))  # fmt: skip
    dm.setup()
    seen = {}
    loader = dm.train_dataloader()
    for epoch in (0, 1):
        loader.sampler.set_epoch(epoch)
        batches = [b["index"].tolist() for b in loader]
        seen[epoch] = {"batches": len(batches), "indices": sum(batches, [])}
    Path(out, f"rank{rank}.json").write_text(json.dumps(seen))
    dist.barrier()
    dist.destroy_process_group()


@pytest.mark.slow
def test_ddp_with_workers_reads_every_training_sample_exactly_once_per_epoch(tmp_path):
    make_crops(tmp_path, n_videos=17, frames=4)  # 44 training crops: not a multiple of 2 ranks × batch 4
    pack(tmp_path)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    torch.multiprocessing.spawn(_read_one_epoch, args=(2, str(tmp_path), port, str(tmp_path)), nprocs=2)
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(2)]
    for epoch in ("0", "1"):
        indices = ranks[0][epoch]["indices"] + ranks[1][epoch]["indices"]
        assert sorted(indices) == list(range(44))  # all of them, none twice, across ranks and workers
        assert ranks[0][epoch]["batches"] == ranks[1][epoch]["batches"] == 6  # DDP needs equal batch counts
    assert ranks[0]["0"]["indices"] != ranks[0]["1"]["indices"]  # a new order each epoch
