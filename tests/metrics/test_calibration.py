"""Thresholds on data with a known optimum, and temperature scaling lowering the NLL."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn import metrics as skm

from dfd.metrics.calibration import (
    TEMPERATURE_BOUNDS,
    Calibration,
    calibrate,
    f1_threshold,
    fit_temperature,
    nll,
    precision_threshold,
    resolve_threshold,
    threshold_sweep,
    youden_threshold,
)
from dfd.metrics.detection import aggregate_video


def test_sweep_counts_match_sklearn_confusion():
    g = torch.Generator().manual_seed(3)
    probs = torch.rand(200, generator=g).round(decimals=2)  # ties on purpose
    labels = (torch.rand(200, generator=g) < probs).long()
    s = threshold_sweep(probs, labels)
    for k in range(0, len(s.thresholds), 7):
        t = float(s.thresholds[k])
        tn, fp, fn, tp = skm.confusion_matrix(labels, probs.numpy() > t, labels=[0, 1]).ravel()
        assert (s.tn[k], s.fp[k], s.fn[k], s.tp[k]) == (tn, fp, fn, tp)
        # midpoints: '>=' (scikit-learn curves) decides the same as '>' (torchmetrics)
        assert ((probs >= t) == (probs > t)).all()


def test_known_optimal_thresholds():
    # reals at 0.1..0.4, fakes at 0.35..0.9: one real (0.4) sits above one fake (0.35)
    real = torch.tensor([0.10, 0.20, 0.30, 0.40])
    fake = torch.tensor([0.35, 0.60, 0.70, 0.80, 0.90])
    probs, labels = torch.cat([real, fake]), torch.cat([torch.zeros(4), torch.ones(5)]).long()
    # Youden: cut between 0.3 and 0.35 gives tpr 1, fpr 1/4 (J = .75); between 0.4 and 0.6 gives
    # tpr 4/5, fpr 0 (J = .8): the optimum is (0.4 + 0.6) / 2
    assert youden_threshold(probs, labels) == pytest.approx(0.5)
    # F1: cut at 0.325 -> tp 5, fp 1: F1 = 10/11; cut at 0.5 -> tp 4, fn 1: F1 = 8/9 < 10/11
    assert f1_threshold(probs, labels) == pytest.approx(0.325)
    # precision >= 0.95 first holds at 0.5 (precision 1, recall .8)
    assert precision_threshold(probs, labels, 0.95) == (pytest.approx(0.5), True)
    # precision >= 5/6 reached at 0.325 already, with the highest recall
    assert precision_threshold(probs, labels, 0.8) == (pytest.approx(0.325), True)


def test_precision_target_unreachable_is_flagged():
    probs = torch.tensor([0.9, 0.8, 0.2])
    labels = torch.tensor([0, 1, 1])  # the top score is real: max precision 2/3
    t, reached = precision_threshold(probs, labels, 0.99)
    # fallback: the highest precision (2/3) is predicting every sample fake, below the lowest score
    assert not reached and t == pytest.approx(0.1)


def test_temperature_lowers_nll_of_overconfident_logits():
    g = torch.Generator().manual_seed(0)
    true_logit = 2 * torch.randn(4000, generator=g)  # the real log-odds of each sample
    labels = (torch.rand(4000, generator=g) < torch.sigmoid(true_logit)).long()
    logits = 4.0 * true_logit  # over-confident by a factor of 4: the right temperature is 4
    fit = fit_temperature(logits, labels)
    t = fit.temperature
    assert fit.fitted and not fit.note and 3.3 < t < 4.8
    assert nll(logits, labels, t) < nll(logits, labels) - 0.1
    # T is a minimum: nudging it either way does not help
    assert nll(logits, labels, t) <= min(nll(logits, labels, t * 1.1), nll(logits, labels, t / 1.1))


def test_calibrate_and_resolve():
    g = torch.Generator().manual_seed(1)
    video_idx = torch.arange(300) // 3
    labels = (torch.rand(100, generator=g) < 0.3).long()[video_idx]  # one label per video
    logits = (3 * (labels.float() * 2 - 1) + 2 * torch.randn(300, generator=g)).unsqueeze(1)
    cal = calibrate(logits, labels, video_idx, precision_target=0.9)
    assert cal.val["n_videos"] == 100 and set(cal.video_thresholds) == {"mean", "max", "confident"}
    assert all(set(t) == {"f1", "youden", "precision"} for t in cal.video_thresholds.values())
    assert cal.val["nll_temperature"] <= cal.val["nll"] + 1e-9
    assert set(cal.thresholds) == {"f1", "youden", "precision"}
    again = Calibration.from_dict(cal.to_dict())
    assert resolve_threshold("f1", again) == cal.thresholds["f1"]
    assert resolve_threshold("youden", again, "video") == cal.video_thresholds["mean"]["youden"]
    assert resolve_threshold("youden", again, "video", "max") == cal.video_thresholds["max"]["youden"]
    assert resolve_threshold("temperature", again) == 0.5
    assert resolve_threshold(0.3, None) == 0.3
    assert resolve_threshold("0.7", None) == 0.7
    with pytest.raises(ValueError, match="needs a calibration"):
        resolve_threshold("youden", None)
    with pytest.raises(ValueError, match="not a number"):
        resolve_threshold("best", cal)
    # the F1 threshold really is F1-optimal among all cuts on these data
    f1_at = skm.f1_score(labels, torch.sigmoid(logits[:, 0]) > cal.thresholds["f1"])
    best = max(skm.f1_score(labels, torch.sigmoid(logits[:, 0]) > t) for t in np.linspace(0, 1, 201))
    assert f1_at >= best - 1e-9


def test_temperature_is_bounded_for_uninformative_logits():
    g = torch.Generator().manual_seed(2)
    labels = (torch.rand(500, generator=g) < 0.5).long()
    logits = -0.5 * (2 * labels.float() - 1) + torch.randn(500, generator=g)  # the wrong sign
    fit = fit_temperature(logits, labels)
    assert fit.temperature == TEMPERATURE_BOUNDS[1] and "clipped" in fit.note
    assert nll(logits, labels, fit.temperature) < nll(logits, labels)  # still the best within the bounds


def test_separable_validation_gets_no_temperature_but_a_reason():
    """The demo's case: every fake above every real. Unbounded, the fit ran to T = 0.013 and made
    test log-loss seven times worse; here it is not fitted at all, and says why."""
    g = torch.Generator().manual_seed(3)
    labels = (torch.rand(200, generator=g) < 0.5).long()
    logits = (2 * labels.float() - 1) * (0.5 + torch.rand(200, generator=g))  # separable, margin 0.5
    fit = fit_temperature(logits, labels)
    assert not fit.fitted and fit.temperature == 1.0 and "separable" in fit.note
    cal = calibrate(logits[:, None], labels)
    assert (
        cal.temperature == 1.0 and not cal.temperature_fitted and cal.val["nll_temperature"] == cal.val["nll"]
    )
    # one wrong pair makes the data informative again: a finite, fitted temperature below 1
    logits[0], labels[0] = 3.0, 0
    fit = fit_temperature(logits, labels)
    assert fit.fitted and TEMPERATURE_BOUNDS[0] < fit.temperature < 1.0


def test_video_thresholds_are_fitted_for_the_aggregation_that_uses_them():
    g = torch.Generator().manual_seed(4)
    video_idx = torch.arange(400) // 8
    labels = (torch.rand(50, generator=g) < 0.5).long()[video_idx]
    logits = (2 * labels.float() - 1 + 1.5 * torch.randn(400, generator=g))[:, None]
    cal = calibrate(logits, labels, video_idx)
    probs = torch.sigmoid(logits[:, 0])
    for agg in ("mean", "max", "confident"):
        vp, vl, _ = aggregate_video(probs, labels, video_idx, agg, cal.confident_strategy())
        assert cal.video_thresholds[agg]["f1"] == pytest.approx(f1_threshold(vp, vl))
    # max-aggregated scores sit higher than mean ones, and so does their threshold
    assert cal.video_thresholds["max"]["f1"] > cal.video_thresholds["mean"]["f1"]


def test_a_dfd_01_checkpoint_keeps_its_one_video_table():
    old = {"thresholds": {"f1": 0.4, "youden": 0.5, "precision": 0.6}, "video_thresholds": {"f1": 0.45},
           "video_aggregation": "max"}  # fmt: skip
    cal = Calibration.from_dict(old)
    assert resolve_threshold("f1", cal, "video", "max") == 0.45
    with pytest.raises(ValueError, match="no video thresholds fitted for video_aggregation=mean"):
        resolve_threshold("f1", cal, "video", "mean")
