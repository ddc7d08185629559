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
    cropper.margin, cropper.crop_size = 0.2, 32
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
