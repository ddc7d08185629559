"""dfd.generate: a mini raw tree in a real layout, which the layout's own parser reads back."""

from __future__ import annotations

from pathlib import Path

import pytest

from dfd.raw.layouts.celebdf import parse_celebdf
from dfd.raw.video import video_timing
from tests.conftest import run_module


@pytest.mark.slow
def test_generate_a_celebdf_tree_that_its_parser_reads(tmp_path: Path) -> None:
    out = tmp_path / "Celeb-DF-v2"
    proc = run_module(
        "dfd.generate",
        ["mini=celebdf", f"out_dir={out}", "mini.n_ids=2", "mini.videos_per_id=1", "mini.n_youtube=1",
         "video.n_frames=6", "video.width=160", "video.height=120", f"hydra.run.dir={tmp_path / 'run'}"],
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "wrote celebdf mini tree with" in proc.stdout
    records = parse_celebdf(out)
    assert {r.label for r in records} == {0, 1} and {r.split for r in records} == {"train", "test"}
    assert all(r.status == "ok" for r in records)
    assert video_timing(records[0].path) == (6, 12.0)


def test_every_mini_layout_and_preprocessable_dataset_is_listed_where_users_look():
    import re

    from dfd.data.synthetic import mini
    from tests.conftest import CONF

    layouts = set(mini.MAKERS)
    assert layouts == {p.stem for p in (CONF / "mini").glob("*.yaml")}
    readme = (CONF.parent / "README.md").read_text()
    (listed,) = re.findall(r"python -m dfd\.generate mini=<([^>]+)>", readme)
    assert set(listed.split("|")) == layouts
    # generate.yaml points at Hydra's help, which lists the conf/mini files, instead of a second list
    comment = (CONF / "generate.yaml").read_text().split("- mini:")[0]
    assert "conf/mini/" in comment and "python -m dfd.generate --help" in comment, comment
    # every data config that preprocess turns into crops (a layout, FaceCropDataModule's base)
    preprocessable = {
        p.stem
        for p in (CONF / "data").glob("*.yaml")
        if "base/crops" in (text := p.read_text()) and "layout:" in text and "\n_target_:" not in text
    }
    (listed,) = re.findall(r"python -m dfd\.preprocess data=<([^>]+)>", readme)
    assert preprocessable and preprocessable <= set(listed.split("|"))
