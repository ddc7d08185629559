"""The mini media: the bundled photos' face boxes are where MTCNN finds them, at every scale, and
the Temporal fakes are real frames in a wrong order (docs/temporal.md)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from dfd.data.synthetic import mini
from dfd.data.synthetic.mini.media import TEMPORAL, Identity, fake_frames, render
from dfd.preprocessing.faces import box_iou
from dfd.preprocessing.tracks import track_faces


@pytest.mark.parametrize("index", [0, 1])
def test_bundled_photo_boxes_are_what_mtcnn_finds(cropper, index):
    # the recorded box is MTCNN's mean over image scales; a single scale moves the edges a few px
    image, box = mini.base_faces()[index]
    found = []
    for scale in (0.5, 0.75, 1.0, 1.25):
        resized = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        (face,) = cropper.detect(resized)
        assert face is not None
        found.append(np.asarray(face.box) / scale)
        assert box_iou(found[-1], box) > 0.85
    assert box_iou(np.mean(found, axis=0), box) > 0.93


# -- the Temporal manipulation: clean real frames, wrong motion (docs/temporal.md) --
TEMPORAL_SPEC = mini.VideoSpec(width=112, height=88, n_frames=16, fps=12)


@pytest.fixture(scope="module")
def pair_videos() -> dict[str, list[tuple[np.ndarray, np.ndarray]]]:
    """8 FF++-like pairs as make_ffpp draws them: (frames, face boxes) of each pair's two reals and
    their Temporal and FaceSwap fakes (fake a_b is a's footage, so a's boxes)."""
    videos: dict[str, list] = {"real": [], TEMPORAL: [], "FaceSwap": []}
    for i in range(8):
        a, b = Identity.make(2 * i), Identity.make(2 * i + 1)
        for seed, (target, source) in ((2 * i, (a, b)), (2 * i + 1, (b, a))):
            frames, boxes = render(target, TEMPORAL_SPEC, seed)
            videos["real"].append((frames, boxes))
            for method in (TEMPORAL, "FaceSwap"):
                videos[method].append((fake_frames(target, source, TEMPORAL_SPEC, seed, method), boxes))
    return videos


def face_means(videos: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """The mean RGB of the face box of every frame, [frames, 3]."""
    means = []
    for frames, boxes in videos:
        for frame, (x1, y1, x2, y2) in zip(frames, boxes.astype(int), strict=True):
            means.append(frame[max(0, y1) : y2, max(0, x1) : x2].reshape(-1, 3).mean(0))
    return np.asarray(means)


def test_every_temporal_frame_is_a_real_frame_of_the_pair():
    a, b = Identity.make(4), Identity.make(5)
    fake = fake_frames(a, b, TEMPORAL_SPEC, 4, TEMPORAL)
    own, other = render(a, TEMPORAL_SPEC, 4)[0], render(b, TEMPORAL_SPEC, 4)[0]
    is_own = (fake == own).all(axis=(1, 2, 3))
    is_other = (fake == other).all(axis=(1, 2, 3))
    assert (is_own | is_other).all()  # no frame edited
    assert 0 < is_own.sum() < len(fake)  # both people appear
    # either person's face box sits where the other's does, so a face tracker keeps one track
    boxes_a, boxes_b = render(a, TEMPORAL_SPEC, 4)[1], render(b, TEMPORAL_SPEC, 4)[1]
    assert min(box_iou(x, y) for x, y in zip(boxes_a, boxes_b, strict=True)) > 0.95


def test_temporal_frames_have_the_colour_statistics_of_real_frames(pair_videos):
    real = face_means(pair_videos["real"])
    for method, close in ((TEMPORAL, True), ("FaceSwap", False)):
        fake = face_means(pair_videos[method])
        # per channel, the mean over frames of each frame's face colour, in units of the reals' spread
        shift = np.abs(fake.mean(0) - real.mean(0)) / real.std(0)
        spread = fake.std(0) / real.std(0)
        if close:
            assert shift.max() < 0.15 and np.all((spread > 0.85) & (spread < 1.15)), (shift, spread)
        else:  # the check can fail: a per-frame edit's colour shift is seen
            assert shift.max() > 1.0, shift


def test_temporal_fakes_change_far_more_from_frame_to_frame(pair_videos):
    def change(videos):  # mean |frame t+1 − frame t|, grey levels
        return np.mean([np.abs(np.diff(frames.astype(np.float32), axis=0)).mean() for frames, _ in videos])

    real, temporal, faceswap = (change(pair_videos[k]) for k in ("real", TEMPORAL, "FaceSwap"))
    assert temporal > 3 * real
    assert faceswap < 1.2 * real  # a per-frame edit keeps the footage's motion


def test_mtcnn_tracks_a_temporal_fake_as_one_face(cropper):
    frames = fake_frames(Identity.make(2), Identity.make(3), mini.VideoSpec(n_frames=6), 2, TEMPORAL)
    tracks = track_faces(cropper.detect_all(frames))
    assert [len(t.faces) for t in tracks] == [6]


def test_an_unknown_method_names_the_config_key():
    with pytest.raises(ValueError, match=r"mini\.methods.*Temporal"):
        fake_frames(Identity.make(0), Identity.make(1), TEMPORAL_SPEC, 0, "Deepfake")
