"""The picture of one scored input: boxes coloured by the decision, heatmaps over the crops."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from matplotlib.colors import to_rgb

from dfd.reports.explanation import FAKE_COLOR, REAL_COLOR, CropPanel, FramePanel, save_explanation


def _pixels_near(path: Path, color: str) -> int:
    from PIL import Image

    with Image.open(path) as picture:
        pixels = np.asarray(picture.convert("RGB")).astype(int)
    target = np.array(to_rgb(color)) * 255
    return int((np.abs(pixels - target).max(axis=-1) < 12).sum())


@pytest.mark.parametrize(
    ("score", "drawn", "absent"), [(0.9, FAKE_COLOR, REAL_COLOR), (0.1, REAL_COLOR, FAKE_COLOR)]
)
def test_a_face_box_is_red_above_the_threshold_and_green_below(tmp_path, score, drawn, absent) -> None:
    frame = FramePanel(np.full((120, 160, 3), 128, np.uint8), "frame 0", [((40, 20, 100, 90), score)])
    crop = CropPanel(np.full((64, 64, 3), 128, np.uint8), np.zeros((8, 8)), "face 0")
    path = save_explanation(tmp_path / "x" / "p.png", "title", [frame], [crop], threshold=0.5)
    assert path.is_file()
    assert _pixels_near(path, drawn) > 100 and _pixels_near(path, absent) == 0
