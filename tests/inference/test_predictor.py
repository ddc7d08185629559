"""Scoring raw inputs: the same crops as preprocessing, one row per input whatever happens to it,
faces tracked per person, the most fake track deciding."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from dfd.artifacts.runs import load_detector
from dfd.inference.predictor import PredictOptions, make_predictor

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def predictor(ffpp_run):
    return make_predictor(load_detector(ffpp_run))[0]


def test_predicts_crop_of_a_frame_equals_preprocessings_crop_of_that_frame(predictor, ffpp_out, ffpp_tree):
    records, crops_dir, _ = ffpp_out
    video = next(r for r in records if r.video_id == "original/000")
    staged = predictor._stage_video(video.path)
    assert predictor.options.num_frames == 4  # the training crops' sampling, from the fingerprint
    compared = 0
    for (frame_idx, _, _), crop in zip(staged.faces, staged.crops, strict=True):
        saved = cv2.cvtColor(
            cv2.imread(str(crops_dir / f"crops/original/000/{frame_idx:05d}.png")), cv2.COLOR_BGR2RGB
        )
        assert np.array_equal(crop, saved), frame_idx  # pixel for pixel
        compared += 1
    assert compared == 4


def test_every_input_gets_one_row(predictor, ffpp_tree, tmp_path):
    from PIL import Image
    from skimage import color, data

    from tests.bad_media import bomb_png, grey16_png, truncated_jpeg

    Image.fromarray(data.astronaut()).save(tmp_path / "astronaut.jpg")
    Image.fromarray(np.full((120, 160, 3), 90, np.uint8)).save(tmp_path / "wall.png")
    (tmp_path / "broken.mp4").write_bytes(b"\x00" * 100)
    (tmp_path / "notes.md").write_text("not media")
    grey = (color.rgb2gray(data.astronaut()) * 255).round().astype(np.uint8)
    Image.fromarray(grey).save(tmp_path / "grey8.png")
    Image.fromarray(np.zeros((1, 1, 3), np.uint8)).save(tmp_path / "dot.png")
    video = ffpp_tree / "original_sequences/youtube/c23/videos/000.mp4"
    paths = [video, tmp_path / "astronaut.jpg", tmp_path / "wall.png", tmp_path / "broken.mp4",
             tmp_path / "notes.md", tmp_path / "absent.mp4", bomb_png(tmp_path / "bomb.png"),
             truncated_jpeg(tmp_path / "cut.jpg"), tmp_path / "dot.png", tmp_path / "grey8.png",
             grey16_png(tmp_path / "grey16.png", grey)]  # fmt: skip
    rows = [p.row for p in predictor.predict_many(paths)]
    assert [r["status"] for r in rows] == ["ok", "ok", "no_face", "unreadable", "unsupported", "missing",
                                           "too_large", "unreadable", "no_face", "ok", "ok"]  # fmt: skip
    # a 68-byte PNG claiming 30000x30000 px is refused before decoding, and the run goes on
    assert "bomb.png is too large to decode" in rows[6]["reason"]
    assert "cut.jpg cannot be decoded as an image (image file is truncated" in rows[7]["reason"]
    assert rows[8]["reason"].startswith("image too small (1x1 px) for face detection")
    # a 16-bit photo is read as its 8-bit version (not clipped to white), and scored the same
    assert rows[10]["faces_found"] == 1 and rows[10]["score"] == pytest.approx(rows[9]["score"], abs=1e-6)
    ok = rows[0]
    assert (
        ok["kind"] == "video" and ok["frames_sampled"] == 4 and ok["faces_found"] == 4 and ok["tracks"] == 1
    )
    assert 0 <= ok["score"] <= 1 and ok["decision"] == ("fake" if ok["score"] > ok["threshold"] else "real")
    assert ok["aggregation"] == "mean" and ok["threshold"] == pytest.approx(predictor.video_threshold)
    assert (
        rows[1]["kind"] == "image"
        and rows[1]["faces_found"] == 1
        and rows[1]["threshold"] == predictor.frame_threshold
    )
    assert all(r["reason"] for r in rows[2:9]) and np.isnan(rows[3]["score"])


def test_two_people_are_scored_per_track_and_the_most_fake_decides(predictor, ffpp_tree, tmp_path):
    from dfd.data.synthetic.mini import write_video
    from dfd.raw.video import read_frames

    real = ffpp_tree / "original_sequences/youtube/c23/videos/000.mp4"
    fake = ffpp_tree / "manipulated_sequences/FaceSwap/c23/videos/000_001.mp4"
    _, a = read_frames(real, num_frames=0)
    _, b = read_frames(fake, num_frames=0)
    both = np.concatenate([a, b], axis=2)  # the two videos side by side: two people per frame
    path = write_video(tmp_path / "two.mp4", both, fps=8)
    prediction = predictor.predict(path)
    assert prediction.row["tracks"] == 2 and prediction.row["faces_found"] == 8
    per_track = {}
    for frame in prediction.frames:
        per_track.setdefault(frame["track"], []).append(frame["score"])
    means = {k: float(np.mean(v)) for k, v in per_track.items()}
    assert prediction.row["score"] == pytest.approx(
        max(means.values()), abs=1e-6
    )  # mean per track, max over tracks
    lefts = {k: np.mean([f["x1"] for f in prediction.frames if f["track"] == k]) for k in per_track}
    assert min(lefts.values()) < both.shape[2] / 2 < max(lefts.values())  # one track per half
    larger = make_predictor(predictor.detector, track_rule="largest")[0].predict(path)
    assert any(larger.row["score"] == pytest.approx(m, abs=1e-6) for m in means.values())


def test_options_are_checked():
    with pytest.raises(ValueError, match="track_rule='best'"):
        PredictOptions(track_rule="best")
    with pytest.raises(ValueError, match="aggregation='median'"):
        PredictOptions(aggregation="median")
