"""The data stage's tasks from a composed config, in-process: ``dfd.pack`` writes every split under
``<root>/packed`` with its ``pack.json``, says how to train from it, and the pack reads back as the files."""

from __future__ import annotations

import json

import numpy as np

from dfd.config.instantiate import instantiate
from dfd.core.input_spec import InputSpec
from dfd.data.tasks import pack
from tests.conftest import compose_config

DATA = [
    "data=synthetic",
    "data.num_videos=12",
    "data.frames_per_video=2",
    "data.crop_size=32",
    "data.num_workers=0",
]


def test_pack_writes_every_split_under_packed_and_names_data_format_packed(tmp_path, capsys):
    cfg = compose_config(
        "pack",
        [*DATA, f"paths.data_dir={tmp_path / 'data'}", f"paths.output_dir={tmp_path}", "encoding=source"],
    )
    meta = pack(cfg)
    (folder,) = (tmp_path / "data" / "synthetic").glob("*/packed")
    assert json.loads((folder / "pack.json").read_text()) == {**meta, "format_version": 2}
    assert meta["encoding"] == "source" and meta["jpeg_quality"] is None
    assert set(meta["splits"]) == {"train", "val", "test"}
    assert all((folder / split / "index.json").is_file() for split in meta["splits"])
    assert not (folder.parent / "shards").exists()  # the folder earlier versions used is not written
    assert "data.format=packed" in capsys.readouterr().out
    files = instantiate(cfg.data)
    packed = instantiate(cfg.data, format="packed")
    for dm in (files, packed):
        dm.set_input_spec(InputSpec(32))
        dm.setup()
    assert {s: len(packed.datasets[s]) for s in meta["splits"]} == {
        s: v["samples"] for s, v in meta["splits"].items()
    }
    a, b = files.datasets["val"], packed.datasets["val"]
    assert all(np.array_equal(a.load_image(i), b.load_image(i)) for i in range(len(a)))
