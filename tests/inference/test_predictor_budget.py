"""The pixel budget (``max_pixels``): media above it get a ``too_large`` row before any pixel is
decoded, a video's frames are decoded a few at a time with the same crops as all at once, and a
JPEG above it is scored at a reduced scale."""

from __future__ import annotations

import numpy as np
import pytest

from dfd.core.input_spec import InputSpec
from dfd.data.synthetic.mini.media import VideoSpec
from dfd.data.synthetic.mini.trees import Mini
from dfd.inference.detector import ModelInfo
from dfd.inference.predictor import make_predictor
from tests.inference.test_predictor_bad_inputs import FINGERPRINT, Constant


@pytest.fixture(scope="module")
def detector():
    return Constant(ModelInfo(InputSpec(64), preprocessing=FINGERPRINT))


@pytest.fixture(scope="module")
def face_video(tmp_path_factory):
    root = tmp_path_factory.mktemp("budget")
    return Mini(root, VideoSpec(192, 144, 8, 8)).real(root / "a.mp4", 0, seed=0)


def test_media_above_the_budget_get_a_too_large_row_before_decoding(detector, tmp_path, monkeypatch):
    import dfd.inference.predictor as predictor_module
    from tests.bad_media import flat_png, flat_video

    def no_decoding(*args, **kwargs):
        raise AssertionError("frames decoded")

    monkeypatch.setattr(predictor_module, "read_frame_chunks", no_decoding)
    monkeypatch.setattr(predictor_module, "iter_decodable_frames", no_decoding)
    predictor = make_predictor(detector)[0]
    assert predictor.options.max_pixels == 4096 * 3072  # the default budget
    wide = flat_video(tmp_path / "wide.mp4", 8192, 4320, frames=1)
    png = flat_png(tmp_path / "big.png", 9400, 9400)
    rows = [p.row for p in predictor.predict_many([wide, png])]
    assert [(r["status"], r["kind"]) for r in rows] == [("too_large", "video"), ("too_large", "image")]
    assert (
        "wide.mp4 is too large to decode: 8192x4320 px frames (35.4 MP), above max_pixels=12582912"
        in (rows[0]["reason"])
    )
    assert (
        "big.png is too large to decode: 9400x9400 px (88.4 MP), above max_pixels=12582912"
        in rows[1]["reason"]
    )
    with pytest.raises(ValueError, match="max_pixels=0: expected a positive pixel count"):
        make_predictor(detector, max_pixels=0)


def test_frames_decoded_in_chunks_give_the_crops_of_frames_decoded_at_once(detector, face_video):
    whole = make_predictor(detector, keep_media=True)[0]
    chunked = make_predictor(detector, keep_media=True, max_pixels=192 * 144)[0]  # one frame at a time
    assert chunked.options.max_pixels // (192 * 144) == 1
    a, b = whole._stage_video(face_video), chunked._stage_video(face_video)
    assert len(a.crops) == len(b.crops) == 4 and a.indices == b.indices
    assert [(i, k) for i, k, _ in a.faces] == [(i, k) for i, k, _ in b.faces]
    # MTCNN's batches differ (8 frames, then 1): boxes agree to float32 rounding, crops pixel for pixel
    assert np.allclose([f.box for *_, f in a.faces], [f.box for *_, f in b.faces], atol=1e-3)
    assert all(np.array_equal(x, y) for x, y in zip(a.crops, b.crops, strict=True))
    assert a.scale == b.scale and all(np.array_equal(x, y) for x, y in zip(a.images, b.images, strict=True))
    assert whole.predict(face_video).row == chunked.predict(face_video).row
    assert whole.predict(face_video).row["status"] == "ok"
    small = make_predictor(detector, max_pixels=192 * 144 - 1)[0].predict(face_video).row
    assert small["status"] == "too_large" and "above max_pixels=27647" in small["reason"]


def test_a_jpeg_photo_above_the_budget_is_scored_at_a_reduced_scale(detector, tmp_path):
    from PIL import Image
    from skimage import data

    Image.fromarray(data.astronaut()).save(tmp_path / "astronaut.jpg")  # 512x512 px
    full = make_predictor(detector)[0].predict(tmp_path / "astronaut.jpg").row
    half = make_predictor(detector, max_pixels=256 * 256)[0].predict(tmp_path / "astronaut.jpg").row
    assert full["status"] == half["status"] == "ok" and full["faces_found"] == half["faces_found"] == 1
    Image.fromarray(data.astronaut()).save(tmp_path / "astronaut.png")
    png = make_predictor(detector, max_pixels=256 * 256)[0].predict(tmp_path / "astronaut.png").row
    assert png["status"] == "too_large" and "512x512 px" in png["reason"]
