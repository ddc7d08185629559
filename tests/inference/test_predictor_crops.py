"""Predict crops as training saw them: a model trained on JPEG crops (preprocess.image_ext=.jpg, or
crops packed as JPEG by dfd.pack) scores crops that went through the same JPEG round trips."""

from __future__ import annotations

import cv2
import numpy as np

from dfd.core.input_spec import InputSpec
from dfd.data.synthetic.mini.media import VideoSpec
from dfd.data.synthetic.mini.trees import Mini
from dfd.inference.detector import ModelInfo
from dfd.inference.predictor import jpeg_round_trips, make_predictor
from dfd.preprocessing.faces import FaceCropper
from dfd.preprocessing.fingerprint import fingerprint
from dfd.preprocessing.manifest import read_manifest
from dfd.preprocessing.options import PreprocessOptions
from dfd.preprocessing.runner import run_preprocessing
from dfd.raw.records import VideoRecord
from dfd.raw.video import read_frames
from tests.inference.test_predictor_bad_inputs import Constant


def test_the_jpeg_round_trips_follow_the_fingerprint():
    assert jpeg_round_trips({"image_format": "png"}) == [] and jpeg_round_trips({}) == []
    assert jpeg_round_trips({"image_format": "jpg"}) == [
        95
    ]  # manifests before jpeg_quality: OpenCV's default
    assert jpeg_round_trips({"image_format": "jpg", "jpeg_quality": 80}) == [80]
    assert jpeg_round_trips({"image_format": "jpeg q90 (packed from png)"}) == [90]  # dfd.pack encoding=jpeg
    assert jpeg_round_trips({"image_format": "jpeg q90 (packed from jpg)", "jpeg_quality": 95}) == [95, 90]


def test_predicts_crop_equals_preprocessings_jpeg_crop(tmp_path):
    video = Mini(tmp_path / "raw", VideoSpec(192, 144, 8, 8)).real(tmp_path / "raw" / "a.mp4", 0, seed=0)
    record = VideoRecord(video, "a", 0, "real", "train", "a")
    out = tmp_path / "crops"
    cropper = FaceCropper(crop_size=96)
    run_preprocessing(
        [record], out, cropper, PreprocessOptions(num_frames=4, image_ext=".jpg"), progress=False
    )
    rows, meta = read_manifest(out)
    fp = fingerprint(meta, out)
    assert fp["image_format"] == "jpg" and fp["jpeg_quality"] == 95  # recorded, so the checkpoint carries it
    predictor = make_predictor(Constant(ModelInfo(InputSpec(64), preprocessing=fp)))[0]
    staged = predictor._stage_video(video)
    saved = {int(r.frame_idx): r.crop_path for r in rows.itertuples()}
    assert len(staged.crops) == len(saved) == 4
    for (frame_idx, _, _), crop in zip(staged.faces, staged.crops, strict=True):
        training = cv2.cvtColor(cv2.imread(str(out / saved[frame_idx])), cv2.COLOR_BGR2RGB)
        assert np.array_equal(crop, training), frame_idx  # pixel for pixel, as the data module reads it
    # JPEG is lossy: the crop before its round trip is not what training saw
    _, frames = read_frames(video, num_frames=4)
    assert not np.array_equal(cropper.crop(frames[0], staged.faces[0][2]), staged.crops[0])
