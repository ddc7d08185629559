"""dfd.preprocess: a folder tree is cropped into a manifest; the exit code is non-zero only when
nothing could be processed."""

from __future__ import annotations

import os
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
