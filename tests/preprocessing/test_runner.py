"""Preprocessing end to end on generated raw trees: crops hold faces, the manifest is complete,
bad inputs get reasons, a kill part-way loses nothing, audio is 16 kHz mono, shards are disjoint."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from dfd.preprocessing.faces import FaceCropper
from dfd.preprocessing.manifest import read_manifest
from dfd.preprocessing.options import PreprocessOptions
from dfd.preprocessing.runner import run_preprocessing
from dfd.raw.audio import SAMPLE_RATE, read_wav, wav_rate
from dfd.raw.layouts.dfdc import parse_dfdc
from dfd.raw.layouts.ffpp import parse_ffpp
from tests.conftest import FFPP_METHODS

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def _video_status(rows: pd.DataFrame) -> dict[str, str]:
    """One status per video: ok if any crop is usable, else its reason."""
    return {
        v: ("ok" if (g["status"] == "ok").any() else g["status"].iloc[0]) for v, g in rows.groupby("video_id")
    }


def test_manifest_lists_every_video_with_bad_inputs_explained(ffpp_out):
    records, out, summary = ffpp_out
    rows, meta = read_manifest(out)
    status = _video_status(rows)
    assert set(status) == {r.video_id for r in records}  # nothing dropped silently
    assert {v: s for v, s in status.items() if s != "ok"} == {
        "original/990": "unreadable",  # zero bytes
        "Deepfakes/990_991": "unreadable",  # truncated
        "original/991": "no_face",
        "Deepfakes/991_990": "missing_file",
        "original/998": "unlisted_file",
    }
    assert rows.loc[rows["status"] != "ok", "reason"].str.len().min() > 0
    assert summary.statuses == Counter(
        {"ok": len(records) - 5, "unreadable": 2, "no_face": 1, "missing_file": 1, "unlisted_file": 1}
    )
    assert meta["margin"] == 0.2 and meta["frames_per_video"] == 4 and meta["detector"].endswith("MTCNN")
    ok = rows[rows["status"] == "ok"]
    assert (ok.groupby("video_id").size() == 4).all()  # 4 sampled frames, a face in each


def test_every_crop_contains_the_face(ffpp_out, cropper):
    _, out, _ = ffpp_out
    rows, _ = read_manifest(out)
    ok = rows[rows["status"] == "ok"]
    crops = np.stack([cv2.cvtColor(cv2.imread(str(out / p)), cv2.COLOR_BGR2RGB) for p in ok["crop_path"]])
    assert crops.shape[1:] == (96, 96, 3)
    faces = cropper.detect(crops)
    missed = [p for p, f in zip(ok["crop_path"], faces, strict=True) if f is None]
    assert not missed


def test_ffpp_fakes_reuse_the_original_boxes(ffpp_out):
    _, out, _ = ffpp_out
    rows, _ = read_manifest(out)
    cols = ["frame_idx", "x1", "y1", "x2", "y2"]
    real = rows[rows["video_id"] == "original/002"][cols].reset_index(drop=True)
    for fake in ("Deepfakes/002_003", "FaceSwap/002_003"):
        assert rows[rows["video_id"] == fake][cols].reset_index(drop=True).equals(real)


def test_rerun_skips_everything_and_changes_nothing(ffpp_out, cropper):
    records, out, first = ffpp_out
    before = (out / "manifest.csv").read_text()
    again = run_preprocessing(
        records, out, cropper, PreprocessOptions(num_frames=4, landmarks="dlib68"), progress=False
    )
    assert again.skipped_done == len(records) and again.crops == 0
    assert (out / "manifest.csv").read_text() == before


def test_kill_part_way_then_resume_loses_nothing(ffpp_tree, tmp_path):
    out = tmp_path / "crops"
    cmd = [
        sys.executable, "-m", "dfd.preprocess", "data=ffpp", f"data.raw_dir={ffpp_tree}",
        f"data.layout.methods=[{','.join(FFPP_METHODS)}]", f"data.root={out}",
        "preprocess.num_workers=0", "preprocess.num_frames=4", "preprocess.cropper.crop_size=96",
        f"hydra.run.dir={tmp_path / 'run'}",
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        done = list((out / "parts").rglob("*.csv")) if (out / "parts").is_dir() else []
        if len(done) >= 2:
            break
        time.sleep(0.02)
    assert proc.poll() is None, "preprocessing finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    finished = {p for p in (out / "parts").rglob("*.csv")}
    total = len(parse_ffpp(ffpp_tree, methods=FFPP_METHODS))
    assert 2 <= len(finished) < total and not (out / "manifest.csv").exists()
    result = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"({len(finished)} already done, skipped)" in result.stdout
    rows, _ = read_manifest(out)
    records = parse_ffpp(ffpp_tree, methods=FFPP_METHODS)
    assert set(rows["video_id"]) == {r.video_id for r in records}
    ok = rows[rows["status"] == "ok"]
    assert all((out / p).is_file() for p in ok["crop_path"])
    assert not list(out.rglob("*.tmp*"))  # no half-written file left behind or counted


def test_dfdc_audio_and_bad_inputs(dfdc_tree, cropper, tmp_path):
    records = parse_dfdc(dfdc_tree, val_parts=[1])
    summary = run_preprocessing(records, tmp_path, cropper, PreprocessOptions(num_frames=2), progress=False)
    rows, _ = read_manifest(tmp_path)
    status = rows.groupby("video_id")["status"].agg(set).to_dict()
    assert status["silent"] == {"ok", "no_audio"}  # crops usable, the missing track recorded
    assert (
        status["empty"] == {"unreadable"}
        and status["ghost"] == {"missing_file"}
        and status["stray"] == {"unlisted_file"}
    )
    assert summary.statuses["no_audio"] == 1
    audio = rows[(rows["status"] == "ok") & (rows["video_id"] != "silent")]
    assert audio["audio_path"].str.endswith(".wav").all()
    wav = tmp_path / audio["audio_path"].iloc[0]
    samples = read_wav(wav)
    assert (
        wav_rate(wav) == SAMPLE_RATE and abs(len(samples) / SAMPLE_RATE - 1.0) < 0.15
    )  # 8 frames at 8 fps = 1 s
    assert np.abs(samples).max() > 0.03  # not silence


def test_shards_are_disjoint_complete_and_keep_fakes_with_their_original(ffpp_tree):
    from dfd.preprocessing.runner import select_shard

    records = parse_ffpp(ffpp_tree, methods=FFPP_METHODS)
    shards = [select_shard(records, i, 3) for i in range(3)]
    ids = [{r.video_id for r in s} for s in shards]
    assert sum(len(s) for s in ids) == len(records) and set().union(*ids) == {r.video_id for r in records}
    assert all(len(s) > 0 for s in ids)
    for s in ids:
        for vid in s:
            if vid.startswith("Deepfakes/"):
                assert f"original/{vid.split('/')[1].split('_')[0]}" in s
    with pytest.raises(ValueError, match="preprocess.shard=3"):
        select_shard(records, 3, 3)


def test_two_worker_processes_write_what_one_process_writes(ffpp_tree, ffpp_out, tmp_path):
    """preprocess.num_workers=2, the default: spawned workers, each with its own detector, and
    sources before the fakes that reuse their boxes."""
    records, single_out, _ = ffpp_out  # the same records, processed in this process
    summary = run_preprocessing(
        records,
        tmp_path,
        FaceCropper(crop_size=96, keyframe_every=1),  # ffpp_out's cropper (tests/conftest.py)
        PreprocessOptions(num_frames=4),
        num_workers=2,
        progress=False,
    )
    single, _ = read_manifest(single_out)
    multi, _ = read_manifest(tmp_path)
    key = ["video_id", "frame_idx", "status"]
    single, multi = (m.sort_values(key).reset_index(drop=True) for m in (single, multi))
    assert multi[key].equals(single[key])
    ok = multi["status"] == "ok"
    assert np.allclose(
        multi.loc[ok, ["x1", "y1", "x2", "y2"]], single.loc[ok, ["x1", "y1", "x2", "y2"]], atol=1e-3
    )
    assert summary.processed_ok == (single.groupby("video_id")["status"].agg(lambda s: "ok" in set(s))).sum()


def test_aligned_preprocessing_records_the_setting_and_fakes_reuse_their_originals_landmarks(
    ffpp_tree, tmp_path
):
    from dfd.preprocessing.faces import FaceCropper
    from dfd.preprocessing.fingerprint import fingerprint

    records = [
        r for r in parse_ffpp(ffpp_tree, methods=FFPP_METHODS) if r.status == "ok" and r.split == "test"
    ]
    out = tmp_path / "aligned"
    cropper = FaceCropper(crop_size=64, align=True)
    run_preprocessing(records, out, cropper, PreprocessOptions(num_frames=2), progress=False)
    rows, meta = read_manifest(out)
    assert meta["align"] is True and meta["align_scale"] == 1.3
    assert fingerprint(meta, out)["align"] is True
    ok = rows[rows["status"] == "ok"]
    assert ok["landmarks"].notna().all() and len(ok)
    original = ok[ok["method"] == "original"].set_index(["video_id", "frame_idx"])["landmarks"]
    fake = ok[ok["method"] != "original"].iloc[0]
    source = f"original/{fake['video_id'].split('/')[1].split('_')[0]}"
    assert fake["landmarks"] == original[(source, fake["frame_idx"])]  # the original's points, reused
    with pytest.raises(ValueError, match="clip mode"):
        run_preprocessing(records, tmp_path / "clips", cropper, PreprocessOptions(clip_len=8), progress=False)
