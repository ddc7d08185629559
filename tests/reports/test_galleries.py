"""Image grids: titles say the (soft) targets and scores; an empty mistake list still draws."""

from __future__ import annotations

import numpy as np
import torch

from dfd.reports.galleries import augmentation_figure, mistakes_figure, target_text


def test_targets_read_as_words():
    assert target_text(0.0) == "real" and target_text(1.0) == "fake" and target_text(0.634) == "63% fake"


def test_the_augmentation_grid_titles_each_crop_with_label_and_target():
    images = torch.rand(3, 3, 16, 16)
    fig = augmentation_figure(images, images, [0, 1, 1], [0.0, 1.0, 0.25])
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ["real", "fake", "fake", "real", "fake", "25% fake"]  # top row, then bottom row
    assert fig.axes[0].get_images()[0].get_array().shape == (16, 16, 3)


def test_the_mistakes_grid_shows_scores_and_says_when_there_are_none():
    crops = [np.zeros((20, 20, 3), np.uint8)] * 9
    fig = mistakes_figure(crops, [0] * 9, [0.91] * 9, ["video_a"] * 9, "epoch 0")
    shown = [ax.get_title() for ax in fig.axes if ax.get_images()]
    assert (
        len(shown) == 9 and shown[0] == "real, p(fake)=0.91\nvideo_a" and len(fig.axes) == 16
    )  # 2 rows of 8
    empty = mistakes_figure([], [], [], [], "epoch 1")
    assert any(t.get_text() == "no mistakes" for ax in empty.axes for t in ax.texts)
