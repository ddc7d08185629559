"""The sources' documented crop recipes as geometry, and dfd's crops measured against them on a real photo."""

from __future__ import annotations

import numpy as np
import pytest

from dfd.preprocessing.dlib_faces import DEEPFAKEBENCH_POINTS, deepfakebench_points
from dfd.preprocessing.faces import template_points
from dfd.published.recipes import (
    aligned_region,
    region_iou,
    sbi_region,
    window_region,
)


def test_sbi_grows_the_box_by_an_eighth_each_side_and_clips_to_the_frame() -> None:
    region = sbi_region((100, 100, 140, 180), (300, 300, 3))
    assert region.tolist() == [[95, 90], [145, 90], [145, 190], [95, 190]]
    assert sbi_region((0, 10, 40, 50), (60, 45, 3)).tolist() == [[0, 5], [45, 5], [45, 55], [0, 55]]


def test_regions_and_their_iou() -> None:
    square = np.array([[0, 0], [2, 0], [2, 2], [0, 2]])
    assert region_iou(square, square) == pytest.approx(1.0)
    assert region_iou(square, square + [1, 0]) == pytest.approx(1 / 3)
    assert region_iou(square, square + [5, 5]) == 0.0
    # a crop whose five points already sit on the template sees exactly its own window
    region = aligned_region(template_points(256, 1.3), 256, 1.3)
    np.testing.assert_allclose(
        region, [[-0.5, -0.5], [255.5, -0.5], [255.5, 255.5], [-0.5, 255.5]], atol=1e-6
    )
    shift = np.array([[1.0, 0.0, -10.0], [0.0, 1.0, -20.0]])
    np.testing.assert_allclose(window_region(shift, 4)[0], [9.5, 19.5])


def test_deepfakebench_takes_its_five_points_from_dlibs_numbering() -> None:
    landmarks = np.arange(68 * 2, dtype=float).reshape(68, 2)
    assert deepfakebench_points(landmarks)[:, 0].tolist() == [2.0 * i for i in DEEPFAKEBENCH_POINTS]


def test_on_a_real_photo_dfds_aligned_crop_is_close_to_deepfakebenchs_recipe() -> None:
    """The astronaut (scikit-image): dlib's HOG face, its 68 points, DeepfakeBench's five, against
    dfd's MTCNN five on the same template; measured 0.877 (docs/published.md)."""
    import dlib
    from skimage import data

    from dfd.preprocessing.faces import FaceCropper
    from dfd.preprocessing.landmarks import Landmarker

    img = data.astronaut()
    cropper = FaceCropper(crop_size=256, align=True, align_scale=1.3, select="largest")
    face = cropper.detect([img])[0]
    ours = window_region(cropper.crop_matrix(img.shape, face), 256)
    rect = max(
        dlib.get_frontal_face_detector()(img, 1), key=lambda r: r.area()
    )  # the largest, as DeepfakeBench
    points = Landmarker("dlib68")(img, (rect.left(), rect.top(), rect.right(), rect.bottom()))
    theirs = aligned_region(deepfakebench_points(points))
    assert 0.8 < region_iou(ours, theirs) < 0.99


def test_region_iou_of_regions_equal_to_a_hundred_thousandth_of_a_pixel_is_one() -> None:
    """OpenCV's intersectConvexConvex gave 0 for this pair (an aligned crop's region, float32 vs float64)."""
    a = np.array([[66.78, 6.13], [238.48, 4.81], [239.79, 176.51], [68.1, 177.82]])
    assert region_iou(a, a + 3e-5) > 0.99999 and region_iou(a, a[::-1]) == pytest.approx(1.0)
    square = np.array([[0.0, 0.0], [2.0, 0.0], [2.0, 2.0], [0.0, 2.0]])
    assert (
        region_iou(square, square + 1.0) == pytest.approx(1 / 7) and region_iou(square, square + 5.0) == 0.0
    )
