"""Re-compression: a raw tree re-encoded at FF++'s c40 keeps its layout, split files and audio,
reads with data.layout.compression=c40, and its frames are measurably more compressed."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np

from dfd.preprocessing.recompress import recompress_tree, target_path
from dfd.raw.layouts.dfdc import parse_dfdc
from dfd.raw.layouts.ffpp import parse_ffpp
from dfd.raw.video import read_frames
from tests.conftest import FFPP_METHODS, run_main


def test_target_paths_rename_only_compression_folders():
    rel = Path("manipulated_sequences/Deepfakes/c23/videos/000_001.mp4")
    assert target_path(rel, 40) == Path("manipulated_sequences/Deepfakes/c40/videos/000_001.mp4")
    assert target_path(Path("c23x/raw.mp4"), 40) == Path("c23x/raw.mp4")


def test_ffpp_c23_to_c40_keeps_the_layout_and_loses_detail(ffpp_tree, tmp_path):
    out = tmp_path / "c40"
    summary = recompress_tree(ffpp_tree, out, crf=40, progress=False)
    assert summary.copied >= 3 and summary.encoded > 0
    # the zero-byte and the truncated videos of the corrupt pair are reported, the rest go on
    assert set(summary.failed) >= {"original_sequences/youtube/c23/videos/990.mp4",
                                   "manipulated_sequences/Deepfakes/c23/videos/990_991.mp4"}  # fmt: skip
    # (the session's tree may hold other tests' unreadable files: they must be reported too)
    assert (out / "splits" / "val.json").read_bytes() == (ffpp_tree / "splits" / "val.json").read_bytes()
    old = {r.video_id for r in parse_ffpp(ffpp_tree, methods=FFPP_METHODS) if r.status == "ok"}
    new = {r.video_id for r in parse_ffpp(out, methods=FFPP_METHODS, compression="c40") if r.status == "ok"}
    assert new == old - {"original/990", "Deepfakes/990_991"}  # every readable video is there, under c40
    src = ffpp_tree / "original_sequences/youtube/c23/videos/000.mp4"
    dst = out / "original_sequences/youtube/c40/videos/000.mp4"
    with av.open(str(dst)) as f:
        stream = f.streams.video[0]
        assert stream.codec_context.name == "h264" and stream.codec_context.pix_fmt == "yuv420p"
    first = np.arange(4)  # the same frames of both (sampling by count would differ if a count did)
    (_, a), (_, b) = read_frames(src, indices=first), read_frames(dst, indices=first)
    assert a.shape == b.shape and dst.stat().st_size < src.stat().st_size
    (_, other) = read_frames(ffpp_tree / "original_sequences/youtube/c23/videos/001.mp4", indices=first)
    changed = np.abs(a.astype(float) - b.astype(float)).mean()  # measured: 21.1 at crf 40
    unrelated = np.abs(a.astype(float) - other.astype(float)).mean()  # another video: 90.7
    assert 1.0 < changed < unrelated / 3  # changed, and still far nearer its source than another video
    again = recompress_tree(ffpp_tree, out, crf=40, progress=False)
    assert again.encoded == 0 and again.skipped == summary.encoded


def test_the_command_keeps_dfdc_audio(dfdc_tree, tmp_path):
    out = tmp_path / "dfdc_c23"
    proc = run_main("dfd.recompress", ["data=dfdc", f"data.raw_dir={dfdc_tree}", "crf=23", f"out={out}",
                                       f"hydra.run.dir={tmp_path / 'run'}"])  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "recompressed" in proc.stdout and "videos re-encoded:" in proc.stdout
    records = [r for r in parse_dfdc(out, val_parts=[1]) if r.status == "ok"]
    with av.open(str(records[0].path)) as f:
        assert f.streams.audio and f.streams.audio[0].codec_context.name == "aac"
