"""dfd.pack as a user runs it: pack the synthetic crops, then train from the pack (both commands'
``main`` in this process), and a stale pack refused by a ``dfd.train`` process."""

from __future__ import annotations

import json

import pytest

from tests.conftest import run_main, run_module

DATA = ["data=synthetic", "data.num_videos=24", "data.frames_per_video=4", "data.crop_size=64"]


@pytest.mark.slow
def test_pack_then_train_from_the_pack(tmp_path):
    common = [*DATA, f"paths.data_dir={tmp_path / 'data'}"]
    proc = run_main("dfd.pack", [*common, f"hydra.run.dir={tmp_path / 'pack'}"])
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "train: 56 crops" in proc.stdout and "data.format=packed" in proc.stdout
    (meta,) = (tmp_path / "data" / "synthetic").glob("*/packed/pack.json")
    packed = json.loads(meta.read_text())
    assert packed["encoding"] == "raw" and {s: v["samples"] for s, v in packed["splits"].items()} == {
        "train": 56, "val": 20, "test": 20}  # fmt: skip
    assert (
        list((meta.parent / "train").glob("chunk-*.bin")) and (meta.parent / "train" / "index.json").is_file()
    )
    proc = run_main("dfd.train", [*common, "data.format=packed", "sampler=once", "+trainer.fast_dev_run=true",
                                    "trainer.accelerator=cpu", f"hydra.run.dir={tmp_path / 'train'}"])  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    proc = run_module("dfd.train", [*common, "data.format=packed", "+data.max_samples_per_class=16", "+trainer.fast_dev_run=true",
                                    "trainer.accelerator=cpu", f"hydra.run.dir={tmp_path / 'stale'}"])  # fmt: skip
    assert proc.returncode != 0 and "Re-pack with the same settings" in proc.stderr
