"""Predict crops as ``preprocess=deepfakebench`` made the training crops: a model whose record names
dlib's aligned cropper gets that cropper and DeepfakeBench's frame rule, not MTCNN's square crops."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from dfd.core.input_spec import InputSpec
from dfd.inference.detector import ModelInfo
from dfd.inference.predictor import make_predictor
from dfd.preprocessing.dlib_faces import DlibFaceCropper
from dfd.preprocessing.fingerprint import fingerprint
from dfd.raw.video import sample_indices
from tests.inference.test_predictor_bad_inputs import Constant

pytest.importorskip("dlib")
pytest_plugins = ["tests.preprocessing.test_dlib_faces"]


def test_predict_crops_a_deepfakebench_models_frames_as_its_training_crops(preset_run, photo_video, caplog):
    out, run = preset_run
    fp = fingerprint(run["meta"], out)
    predictor, diff = make_predictor(Constant(ModelInfo(InputSpec(64), preprocessing=fp)), {"margin": 0.5})
    assert isinstance(predictor.cropper, DlibFaceCropper) and diff == {}
    assert "cropper settings ['margin'] ignored" in caplog.text  # an MTCNN setting means nothing here
    assert predictor.options.index_rounding == "floor" and predictor.options.num_frames == 32
    staged = predictor._stage_video(photo_video)
    saved = {int(r.frame_idx): r.crop_path for r in run["rows"].itertuples()}
    frames = [f for f, _, _ in staged.faces]
    # DeepfakeBench's indices (40 frames: floor rounding differs from nearest), every one with its crop
    assert frames == sorted(saved) == sorted(set(sample_indices(40, 32, rounding="floor").tolist()))
    assert frames != sorted(set(sample_indices(40, 32).tolist()))
    for (frame_idx, _, _), crop in zip(staged.faces, staged.crops, strict=True):
        training = cv2.cvtColor(cv2.imread(str(out / saved[frame_idx])), cv2.COLOR_BGR2RGB)
        assert crop.shape == training.shape == (256, 256, 3)
        assert np.abs(crop.astype(int) - training).max() <= 1, frame_idx  # the same aligned crop
