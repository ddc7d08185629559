"""The bundled photos' face boxes are where MTCNN finds them, at every scale."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from dfd.data.synthetic import mini
from dfd.preprocessing.faces import box_iou


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
