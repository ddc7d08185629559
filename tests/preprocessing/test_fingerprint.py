"""The preprocessing fingerprint: read from a manifest, compared setting by setting, turned back into a cropper."""

from __future__ import annotations

import pytest

from dfd.preprocessing.fingerprint import cropper_settings, describe, differences, fingerprint
from dfd.preprocessing.manifest import write_manifest

MTCNN = {"dataset": "ffpp", "detector": "facenet-pytorch MTCNN", "margin": 0.2, "crop_size": 256, "detect_max_side": 640,
         "select": "confident", "min_score": 0.9, "min_face_size": 40, "frames_per_video": 32, "stride": 0,
         "image_format": "png", "mode": "frames", "align": False, "align_scale": 1.3, "keyframe_every": 4}  # fmt: skip


def test_a_fingerprint_records_the_crop_settings_and_the_exact_manifest(tmp_path):
    import pandas as pd

    write_manifest(tmp_path, pd.DataFrame({"video_id": ["a"], "label": [0]}), MTCNN)
    fp = fingerprint(MTCNN, tmp_path)
    assert {k: fp[k] for k in ("margin", "crop_size", "detector", "frames_per_video")} == {
        "margin": 0.2, "crop_size": 256, "detector": "facenet-pytorch MTCNN", "frames_per_video": 32}  # fmt: skip
    assert len(fp["manifest_sha256"]) == 64
    write_manifest(tmp_path, pd.DataFrame({"video_id": ["b"], "label": [0]}), MTCNN)
    assert fingerprint(MTCNN, tmp_path)["manifest_sha256"] != fp["manifest_sha256"]  # other crops, other hash


def test_old_manifests_say_size_and_png():
    old = {k: v for k, v in MTCNN.items() if k not in ("crop_size", "image_format")} | {"size": 128}
    fp = fingerprint(old)
    assert fp["crop_size"] == 128 and fp["image_format"] == "png" and "size" not in fp


def test_differences_name_only_crop_settings_both_sides_record():
    other = {**MTCNN, "margin": 0.3, "crop_size": 128, "dataset": "celebdf", "frames_per_video": 8}
    diff = differences(MTCNN, other)
    assert diff == {
        "margin": (0.2, 0.3),
        "crop_size": (256, 128),
    }  # dataset and sampling are not crop settings
    assert describe(diff) == "margin 0.2 → 0.3, crop_size 256 → 128"
    assert differences(MTCNN, {"detector": "facenet-pytorch MTCNN"}) == {}
    assert differences(None, MTCNN) == {}


def test_cropper_settings_reproduce_the_training_cropper():
    from dfd.preprocessing.faces import FaceCropper

    # a fingerprint from before aligned crops existed gives the box cropper
    old = {k: v for k, v in MTCNN.items() if not k.startswith("align")}
    assert FaceCropper(**cropper_settings(old)).align is False
    cropper = FaceCropper(**cropper_settings(MTCNN))
    assert cropper.settings() | {"image_format": "png"} == {k: MTCNN[k] for k in cropper.settings()} | {
        "image_format": "png"
    }
    with pytest.raises(
        ValueError, match="not made by dfd's MTCNN cropper.*cropper.margin=0.2 cropper.crop_size=256"
    ):
        cropper_settings({"detector": "none (generated crops)", "crop_size": 96})


def test_the_landmark_provider_is_recorded_but_not_a_crop_setting():
    dlib = {**MTCNN, "landmarks": "dlib68", "landmark_model": "shape_predictor_68_face_landmarks.dat",
            "landmark_model_sha256": "ab" * 32, "dlib_version": "20.0.1"}  # fmt: skip
    fp = fingerprint(dlib)
    assert fp["landmarks"] == "dlib68" and fp["landmark_model_sha256"] == "ab" * 32
    assert "landmarks" not in fingerprint(MTCNN)  # manifests made before landmarks existed
    assert differences(fp, fingerprint({**MTCNN, "landmarks": "none"})) == {}  # the crops look the same


def test_keyframe_tracking_is_recorded_and_reused_but_not_a_crop_setting():
    from dfd.preprocessing.faces import FaceCropper

    fp = fingerprint(MTCNN)
    # recorded, and dfd.predict tracks as the training crops were tracked
    assert fp["keyframe_every"] == 4 and cropper_settings(fp)["keyframe_every"] == 4
    assert differences(fp, {**fp, "keyframe_every": 1}) == {}  # the boxes sit where the detector puts faces
    before = {k: v for k, v in MTCNN.items() if k != "keyframe_every"}  # a manifest of per-frame detection
    assert "keyframe_every" not in fingerprint(before) and "keyframe_every" not in cropper_settings(before)
    assert FaceCropper(**cropper_settings(before)).keyframe_every == FaceCropper().keyframe_every
    with pytest.raises(ValueError, match="preprocess.cropper.keyframe_every"):
        FaceCropper(keyframe_every=0)
