"""Frame mode: with trim_leading_silence the sampled frames and the wav both start after the silence."""

from __future__ import annotations

from pathlib import Path

import pytest

from dfd.preprocessing.frames import process_video_frames
from dfd.preprocessing.options import PreprocessOptions
from dfd.raw.audio import SAMPLE_RATE, read_audio, read_wav
from dfd.raw.layouts.fakeavceleb import parse_fakeavceleb
from tests.conftest import SPEC

pytestmark = pytest.mark.slow


def test_trimming_moves_frames_and_audio_past_the_leading_silence(fakeavceleb_tree, cropper, tmp_path: Path):
    # mini FakeAVCeleb fakes start with 0.3 s of silence (its real counterpart's shortcut)
    fake = next(r for r in parse_fakeavceleb(fakeavceleb_tree) if r.label == 1 and r.status == "ok")
    rows = {}
    for trim in (False, True):
        options = PreprocessOptions(num_frames=4, trim_leading_silence=trim, reuse_source_boxes=False)
        rows[trim] = process_video_frames(fake, tmp_path / str(trim), cropper, options)
    first = {trim: min(r["frame_idx"] for r in rows[trim] if r["status"] == "ok") for trim in rows}
    assert first[False] == 0
    assert first[True] >= int(0.25 * SPEC.fps)  # 0.3 s at 8 fps: frame 3 (detection rounds to 10 ms windows)
    track = read_audio(fake.path)
    wavs = {trim: read_wav(tmp_path / str(trim) / rows[trim][0]["audio_path"]) for trim in rows}
    assert len(wavs[False]) == len(track)
    assert 0.25 * SAMPLE_RATE <= len(track) - len(wavs[True]) <= 0.35 * SAMPLE_RATE


def test_fakeavceleb_in_frame_mode_labels_real_faces_real(fakeavceleb_tree, cropper, tmp_path: Path):
    """Category B is a real face with a fake voice: frame models train on what they see."""
    from dfd.core.input_spec import InputSpec
    from dfd.data.datamodule import FaceCropDataModule
    from dfd.preprocessing.runner import run_preprocessing

    records = parse_fakeavceleb(fakeavceleb_tree, val_fraction=0.2, test_fraction=0.2)
    run_preprocessing(records, tmp_path, cropper, PreprocessOptions(num_frames=2), progress=False)
    labels = {}
    for which in ("video", "audio", "any"):
        dm = FaceCropDataModule(str(tmp_path), input_spec=InputSpec(32), label=which)
        rows = dm.load_rows()
        labels[which] = rows.groupby(rows["method"].str[:4])["label"].agg(set).to_dict()
    assert labels["video"] == {"RVRA": {0}, "RVFA": {0}, "FVRA": {1}, "FVFA": {1}}
    assert labels["audio"] == {"RVRA": {0}, "RVFA": {1}, "FVRA": {0}, "FVFA": {1}}
    assert labels["any"] == {"RVRA": {0}, "RVFA": {1}, "FVRA": {1}, "FVFA": {1}}
