"""FaceCropDataModule with ``sampler=paired_source``: the manifest's ``source_video`` reaches the
sampler as ``source_idx``, and every training batch holds each fake beside its source real."""

from __future__ import annotations

import logging
from functools import partial
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from dfd.core.input_spec import InputSpec
from dfd.data.datamodule import FaceCropDataModule
from dfd.data.samplers import PairedSourceSampler
from dfd.preprocessing.manifest import write_manifest


def _ffpp_manifest(root: Path, with_sources: bool = True) -> None:
    """FF++-shaped crops: pairs (000, 001) and (002, 003) train, (004, 005) val; 2 methods; 2 frames each."""
    rows = []
    for split, (a, b) in (("train", ("000", "001")), ("train", ("002", "003")), ("val", ("004", "005"))):
        group = f"{a}_{b}"
        videos = [("original", x, "") for x in (a, b)]
        videos += [
            (m, f"{x}_{y}", f"original/{x}") for m in ("Deepfakes", "FaceSwap") for x, y in ((a, b), (b, a))
        ]
        for method, name, source in videos:
            for frame in range(2):
                crop = f"crops/{method}/{name}/{frame}.png"
                (root / crop).parent.mkdir(parents=True, exist_ok=True)
                cv2.imwrite(str(root / crop), np.full((16, 16, 3), 40 * frame, np.uint8))
                rows.append({"video_id": f"{method}/{name}", "frame_idx": frame, "label": int(method != "original"),
                             "method": method, "split": split, "group": group, "source_video": source,
                             "crop_path": crop, "status": "ok"})  # fmt: skip
    frame = pd.DataFrame(rows)
    write_manifest(root, frame if with_sources else frame.drop(columns="source_video"), {})


def _datamodule(root: Path) -> FaceCropDataModule:
    dm = FaceCropDataModule(
        str(root), input_spec=InputSpec(16), batch_size=4, sampler=partial(PairedSourceSampler, seed=0)
    )
    dm.setup()
    return dm


def test_every_training_batch_holds_each_fake_beside_its_source_real(tmp_path: Path) -> None:
    _ffpp_manifest(tmp_path)
    dm = _datamodule(tmp_path)
    train = dm.datasets["train"]
    names = train.video_names.tolist()
    # each fake's source_idx is the video_idx of "original/<its first id>"; reals have none
    for i in range(len(train)):
        vid = names[train.video_idx[i]]
        expected = -1 if vid.startswith("original/") else names.index("original/" + vid.split("/")[1][:3])
        assert train.source_idx[i] == expected
    loader = dm.train_dataloader()
    assert isinstance(loader.sampler, PairedSourceSampler) and not loader.sampler.fallback
    assert len(loader.sampler.pairs) == 8  # 2 methods × 4 fakes, each with its source
    batches = list(loader)
    assert sum(len(b["label"]) for b in batches) == len(loader.sampler) == 24  # 24 train crops, in pairs
    for batch in batches:
        ids, labels = batch["video_id"], batch["label"].tolist()
        assert labels == [0.0, 1.0] * (len(ids) // 2)  # (real, fake) pairs, one crop each
        for real, fake in zip(ids[0::2], ids[1::2], strict=True):
            assert real == "original/" + fake.split("/")[1][:3]


@pytest.mark.parametrize("old", [False, True], ids=["empty_source_video", "no_source_video_column"])
def test_a_manifest_without_sources_trains_class_balanced_and_says_so_once(
    tmp_path: Path, caplog, old
) -> None:
    root = tmp_path / "old_manifest"
    _ffpp_manifest(root, with_sources=False)
    if old:  # a manifest written before the column existed
        table = pq.read_table(root / "manifest.parquet")
        pq.write_table(table.drop_columns(["source_video"]), root / "manifest.parquet")
        (root / "manifest.csv").unlink()
    dm = _datamodule(root)
    source_idx = dm.datasets["train"].source_idx
    assert source_idx is None if old else (source_idx == -1).all()
    with caplog.at_level(logging.WARNING, logger="dfd.data.samplers"):
        loader = dm.train_dataloader()
        list(loader)
    assert loader.sampler.fallback
    (message,) = [r.getMessage() for r in caplog.records if r.name == "dfd.data.samplers"]
    assert "old_manifest" in message and "source_video" in message
