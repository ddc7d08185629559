"""The face cropper: square crops with margin, padded outside the frame, boxes mapped back to full
resolution, no face gives None, and a video's crop equals the inference crop of that frame."""

from __future__ import annotations

import numpy as np
import pytest

from dfd.data.synthetic import mini
from dfd.data.synthetic.mini.media import render_no_face
from dfd.preprocessing.faces import Face, FaceCropper, box_iou, crop_video
from dfd.raw.video import read_frames


def test_crop_is_square_with_margin_and_padded_outside_the_frame():
    cropper = FaceCropper.__new__(FaceCropper)
    cropper.margin, cropper.crop_size, cropper.align = 0.2, 32, False
    face = Face(box=(10.0, 20.0, 60.0, 100.0), score=1.0)  # 50 × 80 box
    left, top, right, bottom = cropper.crop_box((200, 200, 3), face)
    assert right - left == bottom - top == 96  # 1.2 × the larger side, square
    assert (left + right) / 2 == pytest.approx(35, abs=1) and (top + bottom) / 2 == pytest.approx(60, abs=1)
    frame = np.full((200, 200, 3), 255, np.uint8)
    crop = cropper.crop(frame, face)
    assert crop.shape == (32, 32, 3)
    assert crop[:, 0].max() == 0 and crop[:, -1].min() == 255  # left edge is padding (box starts at x=-13)


def test_downscaled_detection_maps_boxes_to_full_resolution(cropper):
    image, box = mini.base_faces()[0]
    small = FaceCropper(detect_max_side=200, crop_size=96)
    (face,) = small.detect(image)  # 600 px photo detected at 200 px: a 3x downscale
    # mapped back to full resolution, not left in the 200 px frame (where IoU would be ~0.1)
    assert face is not None and box_iou(face.box, box) > 0.8


def test_no_face_gives_none(cropper):
    frames = render_no_face(mini.VideoSpec(160, 120, 2), seed=0)
    assert cropper.detect(frames) == [None, None]


def test_frames_too_small_for_a_face_have_none_instead_of_failing(cropper):
    # MTCNN fails (torch.cat of no tensors) on frames whose shorter side, once downscaled to
    # detect_max_side, is under min_face_size (40 px): a 1x1 photo, a 16x16 video, a 30x1000 strip
    for h, w in ((1, 1), (16, 16), (39, 200), (40, 1000)):
        assert not cropper.can_detect(h, w)
        assert cropper.detect_all(np.full((2, h, w, 3), 128, np.uint8)) == [[], []]
    assert cropper.can_detect(40, 40) and cropper.can_detect(45, 700)  # 45x700 is 41x640 when detected
    assert cropper.detect_all(np.full((1, 40, 40, 3), 128, np.uint8)) == [[]]


def test_video_crop_equals_inference_crop(ffpp_tree, cropper):
    """What inference crops from a video is bit-identical to what preprocessing saves."""
    path = ffpp_tree / "original_sequences/youtube/c23/videos/000.mp4"
    indices, frames = read_frames(path, num_frames=4)
    faces = cropper.detect(frames)
    inference = crop_video(path, cropper, num_frames=4)
    assert [i for i, _, _ in inference] == indices.tolist()
    for (_, crop, face), frame, ref in zip(inference, frames, faces, strict=True):
        assert face == ref
        assert np.array_equal(crop, cropper.crop(frame, ref))
    # single-image inference on one of those frames gives the same crop again
    assert np.array_equal(cropper.crop_image(frames[1]), inference[1][1])


def test_aligned_crops_put_the_eyes_on_the_template_in_a_real_photo():
    """DeepfakeBench's aligned protocol on scikit-image's astronaut (a real photograph): rotated
    by 12°, the aligned crop still puts her eyes where the 5-point template says, within a few px,
    and records the setting for the fingerprint."""
    import cv2
    from skimage import data

    from dfd.preprocessing.faces import template_points

    photo = data.astronaut()
    h, w = photo.shape[:2]
    tilted = cv2.warpAffine(photo, cv2.getRotationMatrix2D((w / 2, h / 2), 12, 1.0), (w, h))
    aligned = FaceCropper(crop_size=256, align=True, align_scale=1.3)
    crop = aligned.crop_image(tilted)
    assert crop.shape == (256, 256, 3)
    (found,) = FaceCropper(crop_size=256).detect(crop)  # MTCNN again, on the aligned crop
    eyes = np.array(found.landmarks[:2])
    target = template_points(256, 1.3)[:2]
    assert np.abs(eyes - target).max() < 4.0  # px
    assert abs(eyes[0, 1] - eyes[1, 1]) < 3.0  # the 12° tilt is undone: eyes level
    # the unaligned crop of the tilted photo keeps the tilt
    (plain,) = FaceCropper(crop_size=256).detect(FaceCropper(crop_size=256).crop_image(tilted))
    assert abs(plain.landmarks[0][1] - plain.landmarks[1][1]) > 8.0
    assert aligned.settings()["align"] is True and aligned.settings()["align_scale"] == 1.3


def test_align_refuses_a_face_without_landmarks():
    cropper = FaceCropper(crop_size=32, align=True)
    with pytest.raises(ValueError, match="align=true needs the face's five landmarks"):
        cropper.crop(np.zeros((64, 64, 3), np.uint8), Face(box=(0.0, 0.0, 10.0, 10.0), score=1.0))
