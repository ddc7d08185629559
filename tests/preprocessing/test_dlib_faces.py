"""preprocess=deepfakebench on a real photo video: DeepfakeBench's frame indices, crop geometry and
alignment, each recomputed here independently (OpenCV's frame count, dlib called directly)."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import cv2
import numpy as np
import pytest
from skimage.transform import SimilarityTransform

from dfd.preprocessing.dlib_faces import DEEPFAKEBENCH_POINTS, DlibFaceCropper
from dfd.preprocessing.faces import Face, template_points
from dfd.preprocessing.landmarks import dlib68_model_path, landmark_array
from dfd.preprocessing.manifest import read_manifest
from dfd.preprocessing.options import PreprocessOptions
from dfd.preprocessing.runner import run_preprocessing
from dfd.raw.records import VideoRecord
from dfd.raw.video import read_frames
from tests.conftest import compose_config

dlib = pytest.importorskip("dlib")

N_FRAMES = 40


@pytest.fixture(scope="module")
def photo_video(tmp_path_factory) -> Path:
    """40 frames (288×224) of the astronaut photo panning and zooming a little, H.264."""
    from dfd.data.synthetic.mini.media import Identity, VideoSpec, render, write_video

    frames, _ = render(Identity.make(1), VideoSpec(width=288, height=224, n_frames=N_FRAMES, fps=10), seed=4)
    return write_video(tmp_path_factory.mktemp("video") / "astronaut.mp4", frames, fps=10, crf=18)


@pytest.fixture(scope="module")
def preset_run(photo_video: Path, tmp_path_factory) -> tuple[Path, dict]:
    """The video preprocessed in process with the preset's settings, read from its config."""
    from dfd.config.instantiate import instantiate

    p = compose_config("preprocess", ["preprocess=deepfakebench"]).preprocess
    out = tmp_path_factory.mktemp("dfb")
    record = VideoRecord(
        path=photo_video, video_id="astronaut", label=0, method="real", split="test", group="a"
    )
    options = PreprocessOptions(num_frames=p.num_frames, index_rounding=p.index_rounding, landmarks=p.landmarks,
                                reuse_source_boxes=p.reuse_source_boxes)  # fmt: skip
    run_preprocessing([record], out, instantiate(p.cropper), options, progress=False)
    rows, meta = read_manifest(out)
    return out, {"rows": rows[rows["status"] == "ok"].sort_values("frame_idx"), "meta": meta}


def test_frame_indices_are_deepfakebenchs_linspace_truncated_on_opencvs_frame_count(
    preset_run, photo_video
) -> None:
    cap = cv2.VideoCapture(str(photo_video))
    count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    cap.release()
    expected = np.unique(np.linspace(0, count - 1, 32, endpoint=True, dtype=int))
    assert count == N_FRAMES
    assert preset_run[1]["rows"]["frame_idx"].tolist() == expected.tolist()
    # the rule differs from dfd's rounding here, so the test tells the two apart
    assert not np.array_equal(expected, np.unique(np.linspace(0, count - 1, 32).round().astype(int)))
    assert preset_run[1]["meta"]["index_rounding"] == "floor"


def test_crops_are_deepfakebenchs_aligned_warp_of_dlibs_five_points(preset_run, photo_video) -> None:
    out, run = preset_run
    rows = run["rows"]
    detector = dlib.get_frontal_face_detector()
    predictor = dlib.shape_predictor(str(dlib68_model_path()))
    indices, frames = read_frames(photo_video, indices=rows["frame_idx"].to_numpy())
    # DeepfakeBench's img_align_crop target at res 256, scale 1.3, built here its own way
    arcface = np.array([[30.2946, 51.6963], [65.5318, 51.5014], [48.0252, 71.7366], [33.5493, 92.3655],
                        [62.7299, 92.2041]]) + [8.0, 0.0]  # fmt: skip
    template = (arcface * 256 / 112 + 256 * 0.3 / 2) * 256 / (256 * 1.3)
    np.testing.assert_allclose(template, template_points(256, 1.3), atol=1e-9)
    crop_points = landmark_array(rows["crop_landmarks"])
    assert crop_points.shape == (len(rows), 68, 2)
    residuals = []
    for k, (frame, row) in enumerate(zip(frames, rows.itertuples(), strict=True)):
        # DeepfakeBench's rule, computed here with dlib itself: the largest HOG face, five points
        rect = max(detector(frame, 1), key=lambda r: r.width() * r.height())
        shape = predictor(frame, rect)
        points = np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float64)
        five = points[list(DEEPFAKEBENCH_POINTS)]
        assert (row.x1, row.y1, row.x2, row.y2) == (rect.left(), rect.top(), rect.right(), rect.bottom())
        stored = np.array(json.loads(row.landmarks))  # the 68 the crop was aligned on, frame px
        assert np.array_equal(stored, points) and np.array_equal(stored[list(DEEPFAKEBENCH_POINTS)], five)
        matrix = SimilarityTransform.from_estimate(
            five.astype(np.float32), template.astype(np.float32)
        ).params[:2]
        mapped = five @ matrix[:, :2].T + matrix[:, 2]
        residuals.append(np.linalg.norm(mapped - template, axis=1).mean())
        crop = cv2.cvtColor(cv2.imread(str(out / row.crop_path)), cv2.COLOR_BGR2RGB)
        assert row.crop_path.endswith(".png") and crop.shape == (256, 256, 3)
        expected = cv2.warpAffine(frame, matrix, (256, 256), flags=cv2.INTER_LINEAR, borderValue=0)
        assert np.abs(crop.astype(int) - expected).max() <= 1  # PNG is lossless; float rounding only
        # the same 68 points, through the crop's matrix: crop px
        np.testing.assert_allclose(crop_points[k], points @ matrix[:, :2].T + matrix[:, 2], atol=0.01)
        assert ((crop_points[k] > 0) & (crop_points[k] < 256)).all()
    # least squares puts the five points near the template, not on it: dlib's 37/44 are upper eyelids
    # and 49/55 inner lip corners where the template has eye centres and mouth corners (6.6 px here)
    assert 3.0 < np.mean(residuals) < 9.0, residuals


def test_the_cropper_pickles_and_chooses_the_largest_face() -> None:
    cropper = pickle.loads(pickle.dumps(DlibFaceCropper(crop_size=128)))
    small = Face(box=(0, 0, 50, 50), score=3.0)
    large = Face(box=(0, 0, 90, 90), score=0.5)
    assert cropper.choose([small, large]) is large and cropper.crop_size == 128
    assert cropper.settings()["detector"].startswith("dlib HOG") and cropper.align
    assert not cropper.can_detect(30, 300) and cropper.can_detect(40, 300)  # 80 px window, upsampled once


def test_the_preset_refuses_a_folder_of_mtcnn_crops(preset_run, photo_video, tmp_path) -> None:
    out, _ = preset_run
    from dfd.preprocessing.faces import FaceCropper

    record = VideoRecord(
        path=photo_video, video_id="astronaut", label=0, method="real", split="test", group="a"
    )
    with pytest.raises(ValueError, match=r"detector .*data\.root="):
        run_preprocessing([record], out, FaceCropper(), PreprocessOptions(landmarks="dlib68"), progress=False)
