"""Self-blended images and Face X-ray blends (dfd.data.blending) on a real face: the astronaut
photo of scikit-image, with dlib's 68 landmarks found in the test (skipped where dlib is not
installed: the ``landmarks`` extra)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import cv2
import numpy as np
import pytest

from dfd.data.blending import (
    BLEND_RATIOS,
    BROWS,
    NOSE_BASE,
    LandmarkIndex,
    blend_mask,
    face_regions,
    forehead_68,
    self_blend,
    xray_blend,
)
from dfd.data.synthetic.mini.media import base_faces

SIZE = 256  # px, the crop side the blends run at in training


def crop_face(image: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
    """A square SIZE px crop of 1.6x the face box, as the preprocessing crops."""
    x1, y1, x2, y2 = box
    cx, cy, side = (x1 + x2) / 2, (y1 + y2) / 2, 1.6 * max(x2 - x1, y2 - y1)
    x0, y0 = int(cx - side / 2), int(cy - side / 2)
    crop = image[max(y0, 0) : y0 + int(side), max(x0, 0) : x0 + int(side)]
    return np.ascontiguousarray(cv2.resize(crop, (SIZE, SIZE), interpolation=cv2.INTER_AREA))


@pytest.fixture(scope="module")
def faces() -> list[tuple[np.ndarray, np.ndarray]]:
    """(crop, 68 landmarks) of the two bundled photos (Hopper, then the astronaut)."""
    dlib = pytest.importorskip("dlib", reason="dlib is in the landmarks extra")
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None:
        pytest.skip("face_recognition_models (the landmarks extra) is not installed")
    model = Path(spec.submodule_search_locations[0]) / "models" / "shape_predictor_68_face_landmarks.dat"
    predictor = dlib.shape_predictor(str(model))
    out = []
    for image, box in base_faces():
        crop = crop_face(image, box)
        m = SIZE * 0.16  # the face box inside the 1.6x crop
        shape = predictor(crop, dlib.rectangle(int(m), int(m), int(SIZE - m), int(SIZE - m)))
        out.append((crop, np.array([[p.x, p.y] for p in shape.parts()], np.float32)))
    return out


@pytest.fixture(scope="module")
def astronaut(faces) -> tuple[np.ndarray, np.ndarray]:
    return faces[1]


def five_points(lm: np.ndarray) -> np.ndarray:
    """MTCNN's 5 points (eyes, nose tip, mouth corners) from the 68."""
    return np.stack([lm[36:42].mean(0), lm[42:48].mean(0), lm[30], lm[48], lm[54]]).astype(np.float32)


def hull_mask(points: np.ndarray) -> np.ndarray:
    mask = np.zeros((SIZE, SIZE), np.uint8)
    cv2.fillConvexPoly(mask, cv2.convexHull(np.round(points).astype(np.int32)), 1)
    return mask.astype(bool)


def test_the_astronaut_landmarks_are_a_face(astronaut):
    # guards the fixture: eyes above the nose tip above the mouth, inside the crop
    _, lm = astronaut
    assert lm.shape == (68, 2) and (lm > 0).all() and (lm < SIZE).all()
    assert lm[36:48, 1].mean() < lm[30, 1] < lm[48:68, 1].mean()


@pytest.mark.parametrize("k", [68, 81, 5])
def test_outputs_have_the_crop_shape_and_types(astronaut, k):
    crop, lm = astronaut
    if k == 81:
        lm = np.concatenate([lm, forehead_68(lm), lm[BROWS[:3]]])  # any 13 extra points
    if k == 5:
        lm = five_points(lm)
    fake, mask = self_blend(crop, lm, np.random.default_rng(0))
    assert fake.shape == crop.shape and fake.dtype == np.uint8
    assert mask.shape == crop.shape[:2] and mask.dtype == np.float32


def test_same_seed_same_fake_other_seed_other_fake(astronaut):
    crop, lm = astronaut
    a = self_blend(crop, lm, np.random.default_rng(7))
    b = self_blend(crop, lm, np.random.default_rng(7))
    c = self_blend(crop, lm, np.random.default_rng(8))
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0]) and not np.array_equal(a[1], c[1])


def test_the_global_random_state_does_not_change_the_fake(astronaut):
    # rng is the only source: albumentations is seeded from it, not from numpy's or random's state
    import random

    crop, lm = astronaut
    np.random.seed(1)
    random.seed(1)
    a = self_blend(crop, lm, np.random.default_rng(3))
    np.random.seed(2)
    random.seed(2)
    b = self_blend(crop, lm, np.random.default_rng(3))
    assert np.array_equal(a[0], b[0])


@pytest.mark.parametrize("seed", range(6))
def test_with_the_source_augmented_only_the_masked_pixels_change(astronaut, seed):
    crop, lm = astronaut
    fake, mask = self_blend(
        crop, lm, np.random.default_rng(seed), augmented="source", variant="face_no_forehead"
    )
    outside = mask == 0
    assert np.array_equal(fake[outside], crop[outside])
    # the mask reaches at most a band around the hull: deformation plus the second blur
    band = cv2.dilate(hull_mask(lm).astype(np.uint8), np.ones((61, 61), np.uint8)).astype(bool)
    assert not (mask > 0)[~band].any()
    # inside, the shifted and transformed source shows
    core = mask > 0.2
    changed = np.abs(fake.astype(int) - crop.astype(int)).sum(axis=2) > 0
    assert changed[core].mean() > 0.5


@pytest.mark.parametrize("seed", range(8))
def test_the_mask_is_in_0_1_with_its_maximum_the_blend_ratio(astronaut, seed):
    crop, lm = astronaut
    _, mask, drawn = self_blend(crop, lm, np.random.default_rng(seed), details=True)
    assert drawn.ratio in BLEND_RATIOS
    assert mask.min() >= 0.0
    assert mask.max() == pytest.approx(drawn.ratio, abs=1e-6)


def test_every_blend_ratio_of_the_paper_is_drawn(astronaut):
    crop, lm = astronaut
    seen = {self_blend(crop, lm, np.random.default_rng(s), details=True)[2].ratio for s in range(60)}
    assert seen == set(BLEND_RATIOS)


@pytest.mark.parametrize("seed", range(6))
def test_the_mask_covers_the_landmark_hull(astronaut, seed):
    crop, lm = astronaut
    _, mask = self_blend(crop, lm, np.random.default_rng(seed), variant="face_no_forehead")
    hull = hull_mask(lm)
    # all but a rim of the hull (eroded by deformation and the first blur's erosion) is inside
    side = np.sqrt(hull.sum())
    rim = int(0.25 * side) | 1
    core = cv2.erode(hull.astype(np.uint8), np.ones((rim, rim), np.uint8)).astype(bool)
    assert core.sum() > 0.2 * hull.sum()
    assert (mask[core] > 0).all()
    # and the mask is about the hull's size, not the whole crop
    assert 0.6 < (mask > 0).sum() / hull.sum() < 2.5


def test_the_68_point_face_mask_reaches_up_the_forehead(astronaut):
    crop, lm = astronaut
    brow = lm[BROWS].mean(axis=0)
    up = (brow - lm[8]) / np.linalg.norm(brow - lm[8])
    lift = float(np.dot(brow - lm[NOSE_BASE], up))
    forehead = np.round(brow + 0.6 * lift * up).astype(int)  # above every one of the 68 points
    assert forehead[1] < lm[:, 1].min()
    for seed in range(6):
        _, face = self_blend(crop, lm, np.random.default_rng(seed), variant="face")
        _, plain = self_blend(crop, lm, np.random.default_rng(seed), variant="face_no_forehead")
        assert face[forehead[1], forehead[0]] > 0
        assert plain[forehead[1], forehead[0]] == 0


def test_81_points_use_their_own_forehead_points(astronaut):
    crop, lm = astronaut
    high = forehead_68(lm).copy()
    high[:, 1] = 2.0  # a forehead up to the crop's top edge
    lm81 = np.concatenate([lm, high, high[:3]])
    region = face_regions(lm81)["face"]
    assert region[:, 1].min() == pytest.approx(2.0)
    _, mask = self_blend(crop, lm81, np.random.default_rng(0), variant="face")
    assert (mask[8, int(lm[BROWS, 0].mean())]) > 0


@pytest.mark.parametrize("seed", range(4))
def test_five_points_give_an_ellipse_around_them(astronaut, seed):
    crop, lm = astronaut
    lm5 = five_points(lm)
    _, mask = self_blend(crop, lm5, np.random.default_rng(seed), variant="face")
    support = (mask > 0).astype(np.uint8)
    pts = np.round(lm5).astype(int)
    assert (mask[pts[:, 1], pts[:, 0]] > 0).all()
    contours, _ = cv2.findContours(support, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    assert len(contours) == 1
    (cx, cy), axes, _ = cv2.fitEllipse(contours[0])
    ellipse_area = np.pi * axes[0] * axes[1] / 4
    assert 0.9 < cv2.contourArea(contours[0]) / ellipse_area < 1.1  # ellipse-like
    assert max(axes) / min(axes) > 1.15  # taller than wide, as a face
    # centred on the face: between the eyes and the chin horizontally, above the mouth
    assert abs(cx - lm5[:, 0].mean()) < 0.1 * SIZE
    assert lm5[:2, 1].mean() - 0.3 * SIZE < cy < lm5[3:, 1].mean()


def test_blend_mask_of_an_empty_polygon_outside_the_crop_is_zero():
    poly = np.array([[-50, -50], [-40, -50], [-40, -40]], np.float32)
    assert not blend_mask((64, 64), poly, np.random.default_rng(0)).any()


@pytest.mark.parametrize(
    "shape",
    [(67, 2), (68, 3), (68,), (4, 2), (2, 68, 2)],
    ids=["67pts", "3cols", "flat", "4pts", "batched"],
)
def test_bad_landmark_shapes_are_refused_in_one_line(astronaut, shape):
    crop, _ = astronaut
    with pytest.raises(ValueError) as err:
        self_blend(crop, np.zeros(shape, np.float32), np.random.default_rng(0))
    text = str(err.value)
    assert "\n" not in text and str(tuple(shape)) in text and "preprocess.landmarks" in text


def test_nan_landmarks_are_refused(astronaut):
    crop, lm = astronaut
    bad = lm.copy()
    bad[3, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        self_blend(crop, bad, np.random.default_rng(0))


def test_xray_blend_puts_the_source_face_inside_the_target_mask(faces):
    (hopper, hopper_lm), (astro, astro_lm) = faces
    fake, mask = xray_blend(
        astro, astro_lm, hopper, hopper_lm, np.random.default_rng(0), variant="face_no_forehead"
    )
    assert fake.shape == astro.shape and fake.dtype == np.uint8 and mask.dtype == np.float32
    assert mask.max() == pytest.approx(1.0)
    assert np.array_equal(fake[mask == 0], astro[mask == 0])
    # inside the hull the fake is far from the target (another person), and colour-corrected
    # toward it: its mean colour there is nearer the target's than the raw source's is
    core = (mask > 0.99) & hull_mask(astro_lm)
    assert np.abs(fake[core].astype(int) - astro[core].astype(int)).mean() > 10
    src_hull = hull_mask(hopper_lm)
    target_mean, fake_mean = astro[core].mean(axis=0), fake[core].mean(axis=0)
    assert np.abs(fake_mean - target_mean).sum() < np.abs(hopper[src_hull].mean(axis=0) - target_mean).sum()


def test_xray_blend_refuses_landmarks_of_two_predictors(faces):
    (hopper, hopper_lm), (astro, astro_lm) = faces
    with pytest.raises(ValueError, match="68 landmarks and source 5"):
        xray_blend(astro, astro_lm, hopper, five_points(hopper_lm), np.random.default_rng(0))


def landmark_set(base: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Crops of 4 videos: video 0 (the base face, 3 crops), video 1 (the same face moved and
    scaled, 2 crops: near after normalising), videos 2 and 3 (other shapes: far)."""
    rng = np.random.default_rng(0)
    crops, videos = [], []
    for _ in range(3):
        crops.append(base + rng.normal(0, 0.3, base.shape))
        videos.append(0)
    for s in (2.0, 0.5):
        crops.append(base * s + 17.0 + rng.normal(0, 0.3, base.shape))
        videos.append(1)
    for v in (2, 3):
        for _ in range(3):
            warped = base.copy()
            warped[48:68, 1] += 15.0 * v  # an open mouth
            warped[:17, 0] *= 1.0 + 0.2 * v  # a wider jaw
            crops.append(warped + rng.normal(0, 0.3, base.shape))
            videos.append(v)
    return np.stack(crops).astype(np.float32), np.array(videos)


def test_landmark_index_picks_the_nearest_crop_of_another_video(astronaut):
    _, lm = astronaut
    crops, videos = landmark_set(lm)
    index = LandmarkIndex(crops, videos, k=2)
    for i in range(3):  # video 0's nearest other-video crops are video 1's, whatever their scale
        assert set(index.neighbours(i)) == {3, 4}
        assert index.nearest(i, np.random.default_rng(i)) in (3, 4)
    for i in range(len(crops)):
        assert (videos[index.neighbours(i)] != videos[i]).all()


def test_landmark_index_draws_among_its_k_nearest(astronaut):
    _, lm = astronaut
    crops, videos = landmark_set(lm)
    index = LandmarkIndex(crops, videos, k=2)
    picks = {index.nearest(0, np.random.default_rng(s)) for s in range(20)}
    assert picks == {3, 4}


def test_landmark_index_refuses_a_single_video(astronaut):
    _, lm = astronaut
    with pytest.raises(ValueError, match="at least 2 videos"):
        LandmarkIndex(np.stack([lm, lm]), np.array([5, 5]))


def test_landmark_index_looks_past_a_crowd_of_its_own_video(astronaut):
    # crop 0's 4k + 1 nearest are all of its own video: the index widens its search
    _, lm = astronaut
    rng = np.random.default_rng(1)
    own = [lm + rng.normal(0, 0.1, lm.shape) for _ in range(30)]
    other = lm.copy()
    other[48:68, 1] += 20.0
    crops = np.stack([*own, other]).astype(np.float32)
    videos = np.array([0] * 30 + [1])
    index = LandmarkIndex(crops, videos, k=1)
    assert list(index.neighbours(0)) == [30]
    # and with k above what other videos hold, it returns what there is
    assert list(LandmarkIndex(crops, videos, k=5).neighbours(0)) == [30]
