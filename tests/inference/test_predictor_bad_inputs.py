"""Inputs that cannot be scored, each with its own row, status and reason, and the run going on:
videos too short or partly corrupt, frames too small for a face, any error of one input."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

from dfd.core.input_spec import InputSpec
from dfd.data.synthetic.mini import write_video
from dfd.inference.detector import Detector, ModelInfo
from dfd.inference.predictor import make_predictor
from dfd.raw.video import UnreadableVideo, read_frames, video_timing

#: The fingerprint of crops made by dfd's cropper, 4 frames per video.
FINGERPRINT = {"detector": "facenet-pytorch MTCNN", "margin": 0.2, "crop_size": 96, "frames_per_video": 4}


class Constant(Detector):
    """Scores every crop 0.5: these tests are about what reaches the net, not about the net."""

    def logits(self, images: np.ndarray) -> np.ndarray:
        return np.zeros((len(images), 1), np.float32)


@pytest.fixture(scope="module")
def predictor():
    return make_predictor(Constant(ModelInfo(InputSpec(64), preprocessing=FINGERPRINT)))[0]


def _noise_video(path: Path, frames: int, side: int = 64) -> Path:
    rng = np.random.default_rng(0)
    return write_video(path, rng.integers(0, 256, (frames, side, side, 3), dtype=np.uint8), fps=8)


def test_too_short_videos_say_so(predictor, tmp_path):
    two = _noise_video(tmp_path / "two.mp4", 2)
    row = predictor.predict(two).row
    assert row["status"] == "too_short" and row["frames_sampled"] == 2
    assert row["reason"] == "2 decodable frames, fewer than min_frames=4"
    lenient = make_predictor(predictor.detector, min_frames=1)[0].predict(two).row
    assert lenient["status"] == "no_face"  # long enough now, and noise holds no face
    # a video of 4 frames gives all the 4 frames the model samples: not too short
    assert predictor.predict(_noise_video(tmp_path / "four.mp4", 4)).row["status"] == "no_face"


def _corrupt_tail(path: Path, keep: float) -> Path:
    """Random bytes over the mp4's media data after its first ``keep`` share; its index (moov) intact."""
    raw = bytearray(path.read_bytes())
    at = 0
    while at < len(raw):
        size, kind = struct.unpack(">I4s", raw[at : at + 8])
        if kind == b"mdat":
            start = at + 8 + int((size - 8) * keep)
            raw[start : at + size] = np.random.default_rng(1).bytes(at + size - start)
            break
        at += size
    path.write_bytes(bytes(raw))
    return path


def test_a_partly_corrupt_video_counts_its_decodable_frames(predictor, tmp_path):
    video = _corrupt_tail(_noise_video(tmp_path / "cut.mp4", 16), keep=1 / 3)
    assert video_timing(video)[0] == 16  # the container opens and lists 16 frames...
    with pytest.raises(UnreadableVideo):
        read_frames(video, num_frames=4)  # ...whose batch decode fails
    row = predictor.predict(video).row
    assert row["status"] == "too_short", row
    assert "of 4 sampled frames do not decode), fewer than min_frames=4" in row["reason"]
    assert 0 <= row["frames_sampled"] < 4
    # enough frames decode: the video is scored on them, and the reason says what was lost
    from dfd.data.synthetic.mini.media import VideoSpec
    from dfd.data.synthetic.mini.trees import Mini

    faces = _corrupt_tail(
        Mini(tmp_path, VideoSpec(192, 144, 16, 8)).real(tmp_path / "face.mp4", 0, seed=0), 2 / 3
    )
    row = make_predictor(predictor.detector, num_frames=8)[0].predict(faces).row
    assert row["status"] == "ok" and 4 <= row["frames_sampled"] < 8 and row["faces_found"] > 0, row
    assert row["reason"] == f"{8 - row['frames_sampled']} of 8 sampled frames do not decode"


def test_frames_too_small_for_a_face_are_no_face(predictor, tmp_path):
    row = predictor.predict(_noise_video(tmp_path / "small.mp4", 4, side=16)).row
    assert row["status"] == "no_face" and row["reason"].startswith(
        "frames too small (16x16 px) for face detection"
    )


def test_any_error_of_one_input_is_its_row_not_the_end_of_the_run(predictor, tmp_path, monkeypatch):
    from PIL import Image

    Image.fromarray(np.full((64, 64, 3), 90, np.uint8)).save(tmp_path / "a.png")

    def broken(frames):
        raise ZeroDivisionError("a detector bug")

    monkeypatch.setattr(predictor.cropper, "detect_all", broken)
    rows = [p.row for p in predictor.predict_many([tmp_path / "a.png", tmp_path / "a.png"])]
    assert [r["status"] for r in rows] == ["unreadable", "unreadable"]
    assert rows[0]["reason"] == "ZeroDivisionError: a detector bug"

    def interrupted(frames):
        raise KeyboardInterrupt

    monkeypatch.setattr(predictor.cropper, "detect_all", interrupted)
    with pytest.raises(KeyboardInterrupt):  # Ctrl-C still stops the run
        predictor.predict(tmp_path / "a.png")
