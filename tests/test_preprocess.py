"""dfd.preprocess: a folder tree is cropped into a manifest; the exit code is non-zero only when
nothing could be processed."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import ROOT, run_module

pytestmark = pytest.mark.slow


def test_exit_code_nonzero_only_when_nothing_processed(tmp_path):
    raw = tmp_path / "raw"
    (raw / "real").mkdir(parents=True)
    (raw / "real" / "broken.mp4").write_bytes(b"")
    cmd = [sys.executable, "-m", "dfd.preprocess", "data=folder", f"data.raw_dir={raw}", f"data.root={tmp_path / 'out'}",
           "preprocess.num_workers=0", f"hydra.run.dir={tmp_path / 'run'}"]  # fmt: skip
    result = subprocess.run(
        cmd, cwd=ROOT, env={**os.environ, "HF_HUB_OFFLINE": "1"}, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 1, result.stdout + result.stderr[-2000:]
    assert "unreadable: 1" in result.stdout and "nothing could be processed" in result.stderr


def test_a_folder_tree_is_cropped_into_a_manifest(folder_tree, tmp_path: Path) -> None:
    """A folder tree with images and a video: the video is cropped and listed in the manifest."""
    out = tmp_path / "folder"
    proc = run_module(
        "dfd.preprocess",
        ["data=folder", f"data.raw_dir={folder_tree}", f"data.root={out}", "preprocess.num_workers=0",
         "preprocess.num_frames=4", "preprocess.cropper.crop_size=64", f"hydra.run.dir={tmp_path / 'run'}"],
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"preprocessed folder → {out}" in proc.stdout
    rows = pd.read_csv(out / "manifest.csv")
    assert (rows["status"] == "ok").sum() >= 1 and (out / rows["crop_path"].dropna().iloc[0]).is_file()


def test_two_shards_as_two_submitit_jobs_then_merged_give_the_one_shard_manifest(ffpp_tree, tmp_path: Path):
    """``-m preprocess.shard=0,1`` through submitit's local executor (SLURM's stand-in): two jobs
    crop their halves in parallel, the sweep's MergeShards callback writes one manifest, and it is
    the manifest of a single run over everything."""
    from tests.conftest import FFPP_METHODS

    common = ["data=ffpp", f"data.raw_dir={ffpp_tree}", f"data.layout.methods=[{','.join(FFPP_METHODS)}]",
              "preprocess.num_workers=0", "preprocess.num_frames=4", "preprocess.cropper.crop_size=64"]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    one = run_module(
        "dfd.preprocess", [*common, f"data.root={tmp_path / 'one'}", f"hydra.run.dir={tmp_path / 'r1'}"]
    )
    assert one.returncode == 0, one.stderr[-3000:]
    two = subprocess.run(
        [sys.executable, "-m", "dfd.preprocess", "-m", "hydra/launcher=submitit_local", *common,
         f"data.root={tmp_path / 'two'}", f"hydra.sweep.dir={tmp_path / 'sweep'}",
         "preprocess.shard=0,1", "preprocess.num_shards=2"],
        cwd=ROOT, env={**env, "HF_HUB_OFFLINE": "1", "NO_ALBUMENTATIONS_UPDATE": "1"},
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert two.returncode == 0, two.stderr[-3000:]
    assert "merged the shards' parts" in two.stdout + two.stderr
    # each job did its own share, and together they did every video once
    outs = [p.read_text() for p in sorted((tmp_path / "sweep" / ".submitit").rglob("*_0_log.out"))]
    assert len(outs) == 2
    done = [int(re.search(r"this run: (\d+) videos processed", out).group(1)) for out in outs]
    assert min(done) > 0 and sum(done) == int(
        re.search(r"this run: (\d+) videos processed", one.stdout).group(1)
    )

    def table(root: Path) -> pd.DataFrame:
        rows = pd.read_csv(root / "manifest.csv")
        return rows.sort_values(list(rows.columns)).reset_index(drop=True)

    merged, single = table(tmp_path / "two"), table(tmp_path / "one")
    assert (merged["status"] != "pending").all() and len(merged) > 0
    pd.testing.assert_frame_equal(merged, single)
    assert not list((tmp_path / "two").glob("*.tmp"))
