"""Packed crops: the same samples and pixels as the crop files, refused when stale, still read from
what earlier versions wrote (``data.format=shards``, ``<root>/shards``), and under DDP with several
workers every training sample read exactly once per epoch."""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
from functools import partial
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
import torch
import torch.distributed as dist
from omegaconf import OmegaConf

from dfd.core.input_spec import InputSpec
from dfd.data.datamodule import FaceCropDataModule
from dfd.data.packed import pack_split, write_pack_meta
from dfd.data.samplers import OncePerEpochSampler
from dfd.preprocessing.manifest import write_manifest
from tests.conftest import eval_cfg


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
    write_manifest(root, pd.DataFrame(rows), {"dataset": "packed_test"})


def pack(root: Path, encoding: str = "source", **data) -> FaceCropDataModule:
    dm = FaceCropDataModule(root=str(root), input_spec=InputSpec(24), **data)
    dm.setup()
    splits = {
        s: pack_split(dm.datasets[s], root / "packed" / s, encoding, progress=False)
        for s in ("train", "val", "test")
    }
    write_pack_meta(
        root, {"encoding": encoding, "jpeg_quality": 95 if encoding == "jpeg" else None, "splits": splits}
    )
    return dm


def test_packed_crops_give_the_files_samples_and_pixels(tmp_path):
    make_crops(tmp_path)
    files = pack(tmp_path)
    packed = FaceCropDataModule(root=str(tmp_path), input_spec=InputSpec(24), format="packed")
    packed.setup()
    for split in ("train", "val", "test"):
        a, b = files.datasets[split], packed.datasets[split]
        assert len(a) == len(b) and type(b).__name__ == "PackedFrameDataset"
        assert all(np.array_equal(a.load_image(i), b.load_image(i)) for i in range(len(a)))
        assert np.array_equal(a.labels, b.labels) and np.array_equal(a.video_idx, b.video_idx)
    val_a, val_b = files.datasets["val"][1], packed.datasets["val"][1]
    assert torch.equal(val_a["image"], val_b["image"]) and val_a["video_id"] == val_b["video_id"]
    assert json.loads((tmp_path / "packed" / "pack.json").read_text())["splits"]["train"]["samples"] == 24


def test_raw_packs_hold_the_decoded_pixels(tmp_path):
    make_crops(tmp_path)
    files = pack(tmp_path, encoding="raw")
    packed = FaceCropDataModule(root=str(tmp_path), input_spec=InputSpec(24), format="packed")
    packed.setup()
    a, b = files.datasets["train"], packed.datasets["train"]
    item = b.reader[5]["image"]
    assert item.shape == (24, 24, 3) and item.dtype == np.uint8  # stored decoded, not as PNG bytes
    assert all(np.array_equal(a.load_image(i), b.load_image(i)) for i in range(len(a)))
    assert packed.fingerprint()["image_format"] == files.fingerprint()["image_format"]  # lossless


def test_random_order_reads_give_each_index_its_own_item(tmp_path):
    make_crops(tmp_path, n_videos=20)
    files = pack(tmp_path, encoding="source")
    packed = FaceCropDataModule(root=str(tmp_path), input_spec=InputSpec(24), format="packed")
    packed.setup()
    a, b = files.datasets["train"], packed.datasets["train"]
    for i in np.random.default_rng(1).permutation(len(a)):  # backwards and forwards through the chunks
        assert np.array_equal(a.load_image(int(i)), b.load_image(int(i)))


def test_jpeg_packs_are_close_and_say_so_in_the_fingerprint(tmp_path):
    make_crops(tmp_path)
    files = pack(tmp_path, encoding="jpeg")
    packed = FaceCropDataModule(root=str(tmp_path), input_spec=InputSpec(24), format="packed")
    packed.setup()
    a, b = files.datasets["val"].load_image(0), packed.datasets["val"].load_image(0)
    assert a.shape == b.shape and 0 < np.abs(a.astype(float) - b).mean() < 8  # lossy, but the same picture
    assert packed.fingerprint()["image_format"].startswith("jpeg q95")


def test_stale_or_missing_packs_are_refused_with_the_fix(tmp_path):
    make_crops(tmp_path)
    with pytest.raises(FileNotFoundError, match="dfd.pack"):
        FaceCropDataModule(root=str(tmp_path), input_spec=InputSpec(24), format="packed").setup()
    pack(tmp_path)
    fewer = FaceCropDataModule(
        root=str(tmp_path), input_spec=InputSpec(24), format="packed", frames_per_video=2
    )
    with pytest.raises(RuntimeError, match=r"(?s)24 packed, 12 now.*dfd.pack"):
        fewer.setup()
    meta_path = tmp_path / "packed" / "pack.json"
    old_meta = json.loads(meta_path.read_text())
    old_meta.pop("format_version")  # as the first dfd.pack wrote it (items as bytes)
    meta_path.write_text(json.dumps(old_meta))
    with pytest.raises(RuntimeError, match=r"(?s)older dfd.pack.*format 1.*dfd.pack"):
        FaceCropDataModule(root=str(tmp_path), input_spec=InputSpec(24), format="packed").setup()
    with pytest.raises(ValueError, match="data.format='tar'"):
        FaceCropDataModule(root=str(tmp_path), format="tar")


def test_packs_of_earlier_versions_are_read_from_their_shards_folder_with_one_warning_each(tmp_path, caplog):
    make_crops(tmp_path)
    files = pack(tmp_path, encoding="raw")
    (tmp_path / "packed").rename(
        tmp_path / "shards"
    )  # where dfd.pack wrote before the format was named "packed"
    with caplog.at_level(logging.WARNING, logger="dfd"):
        old = FaceCropDataModule(root=str(tmp_path), input_spec=InputSpec(24), format="shards")
        old.setup()
        old.fingerprint()
    assert old.format == "packed"
    assert "data.format=shards is deprecated: use data.format=packed" in caplog.text
    folder_warnings = [r.getMessage() for r in caplog.records if "earlier dfd.pack" in r.getMessage()]
    assert len(folder_warnings) == 1 and str(tmp_path / "shards") in folder_warnings[0]  # once, not per split
    a, b = files.datasets["train"], old.datasets["train"]
    assert b.reader.directory == str(tmp_path / "shards" / "train")
    assert all(np.array_equal(a.load_image(i), b.load_image(i)) for i in range(len(a)))
    pack(tmp_path, encoding="jpeg")  # a re-pack goes to <root>/packed, which is read from then on
    assert (tmp_path / "packed" / "pack.json").is_file()
    new = FaceCropDataModule(root=str(tmp_path), input_spec=InputSpec(24), format="packed")
    new.setup()
    assert new.datasets["train"].reader.directory == str(tmp_path / "packed" / "train")
    assert new.fingerprint()["image_format"].startswith("jpeg q95")  # the new pack, not the raw one


@pytest.mark.slow
def test_a_run_of_an_earlier_version_trained_on_shards_still_evaluates(
    trained_runs, data_dir, tmp_path, caplog
):
    """A run whose config.yaml says ``format: shards``, with its pack under ``<root>/shards``, as
    earlier versions wrote both: ``dfd.eval`` scores it from that pack, as it scores the crop files."""
    from dfd.data.tasks import pack as pack_task
    from dfd.evaluation.tasks import evaluate

    root, metrics = trained_runs
    shutil.copytree(root / "a", tmp_path / "old" / "a")
    shutil.copytree(data_dir / "synthetic", tmp_path / "data" / "synthetic")
    run_cfg = OmegaConf.load(tmp_path / "old" / "a" / "config.yaml")
    run_cfg.data.root = str(tmp_path / "data" / "synthetic")
    pack_task(OmegaConf.create({"data": run_cfg.data, "encoding": "raw", "jpeg_quality": 95,
                          "chunk_bytes": "64MB", "splits": ["train", "val", "test"]}))  # fmt: skip
    (packed,) = (tmp_path / "data" / "synthetic").glob("*/packed")
    packed.rename(packed.with_name("shards"))
    run_cfg.data.format = "shards"
    OmegaConf.save(run_cfg, tmp_path / "old" / "a" / "config.yaml")
    with caplog.at_level(logging.WARNING, logger="dfd"):
        m = evaluate(eval_cfg(tmp_path / "old", data_dir, tmp_path / "eval"))
    assert "data.format=shards is deprecated: use data.format=packed" in caplog.text
    assert f"earlier dfd.pack packed under {packed.with_name('shards')}" in caplog.text
    assert m["frame/auc"] == pytest.approx(metrics["test/auc"], abs=1e-5)  # raw packs: the files' pixels


def _read_one_epoch(rank: int, world: int, root: str, port: int, out: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    torch.manual_seed(0)
    dm = FaceCropDataModule(root=root, input_spec=InputSpec(24), format="packed", batch_size=4, num_workers=2,
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
