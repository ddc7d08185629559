"""Pixel-level localisation metrics on hand-made masks: the truth's binarisation, AUC and IoU."""

from __future__ import annotations

import math

import pytest
import torch

from dfd.metrics.localization import binarize_masks, localization_metrics, pixel_auc, pixel_iou


def _masks() -> torch.Tensor:
    """Two blended faces (a soft square at blend ratio 0.6, a hard one) and a real face."""
    masks = torch.zeros(3, 1, 8, 8)
    masks[0, 0, 2:6, 2:6] = 0.6
    masks[0, 0, 1, 2:6] = 0.2  # a blurred edge below half the peak: not forged
    masks[1, 0, 4:8, 0:4] = 1.0
    return masks


def test_the_truth_is_alpha_above_half_its_images_peak_and_reals_have_none() -> None:
    truth = binarize_masks(_masks())
    assert truth[0].sum() == 16 and not truth[0, 0, 1].any()  # 0.6 counts, its 0.2 edge does not
    assert truth[1].sum() == 16
    assert not truth[2].any()


def test_a_perfect_prediction_scores_one_and_an_inverted_one_zero() -> None:
    masks = _masks()
    truth = binarize_masks(masks).float()
    assert localization_metrics(truth, masks) == {"pixel_auc": 1.0, "pixel_iou": 1.0}
    assert pixel_auc(1 - truth, masks) == 0.0
    assert pixel_iou(1 - truth, masks) == 0.0


def test_iou_counts_a_mask_predicted_on_a_real_face_against_the_detector() -> None:
    masks = _masks()
    pred = binarize_masks(masks).float()
    pred[2, 0, :4, :4] = 0.9  # 16 false pixels on the real face
    assert pixel_iou(pred, masks) == pytest.approx(32 / 48)
    assert pixel_iou(pred, masks, threshold=0.95) == 1.0  # 0.9 is not above it


def test_undefined_cases_are_nan_and_shapes_must_agree() -> None:
    reals = torch.zeros(2, 1, 4, 4)
    assert math.isnan(pixel_auc(torch.rand(2, 1, 4, 4), reals))
    assert math.isnan(pixel_iou(torch.zeros(2, 1, 4, 4), reals))
    with pytest.raises(ValueError, match=r"\(2, 1, 4, 4\).*\(2, 1, 8, 8\)"):
        pixel_auc(torch.zeros(2, 1, 4, 4), torch.zeros(2, 1, 8, 8))


def test_split_pixel_metrics_from_per_crop_counts_match_the_exact_ones_and_split_by_method():
    from dfd.metrics.localization import PIXEL_BINS, localization_summary, metrics_from_counts, pixel_counts

    g = torch.Generator().manual_seed(0)
    masks = (torch.rand(6, 1, 16, 16, generator=g) > 0.6).float()
    masks[:2] = 0  # two real crops
    probs = (0.6 * masks + 0.4 * torch.rand(6, 1, 16, 16, generator=g)).clamp(0, 1)
    counts = pixel_counts(probs, masks)
    assert counts.shape == (6, 2 * PIXEL_BINS + 2) and counts[:, : 2 * PIXEL_BINS].sum() == 6 * 16 * 16
    split = metrics_from_counts(counts)
    assert split["pixel_auc"] == pytest.approx(pixel_auc(probs, masks), abs=0.01)  # binned at 1/100
    assert split["pixel_iou"] == pytest.approx(pixel_iou(probs, masks))
    assert math.isnan(metrics_from_counts(counts[:2])["pixel_auc"])  # reals alone: nothing forged
    summary = localization_summary(counts, ["real", "real", "A", "A", "B", "B"], [0, 0, 1, 1, 1, 1])
    assert summary["crops"] == 6 and sorted(summary["by_method"]) == ["A", "B"]
    a = summary["by_method"]["A"]
    assert a["crops"] == 2 and a["pixel_iou"] == pytest.approx(pixel_iou(probs[:4], masks[:4]))
