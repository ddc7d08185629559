"""Every detection metric against scikit-learn or a direct computation on fixed data."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from sklearn import metrics as skm

from dfd.metrics.detection import (
    ConfidentStrategy,
    DetectionMetrics,
    aggregate_video,
    detection_metrics,
    equal_error_rate,
    fake_logit,
    log_loss,
)


@pytest.fixture(scope="module")
def data() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    labels = (torch.rand(400, generator=g) < 0.4).long()
    # informative but overlapping scores, strictly inside (0, 1)
    probs = torch.sigmoid(1.5 * (labels.float() * 2 - 1) + torch.randn(400, generator=g))
    return probs, labels


@pytest.mark.parametrize("threshold", [0.5, 0.3, 0.72])
def test_frame_metrics_match_sklearn(data, threshold):
    probs, labels = data
    p, y = probs.numpy().astype(np.float64), labels.numpy()
    pred = (p > threshold).astype(int)
    m = detection_metrics(probs, labels, threshold)
    tn, fp, fn, tp = skm.confusion_matrix(y, pred).ravel()
    assert (m["tn"], m["fp"], m["fn"], m["tp"]) == (tn, fp, fn, tp)
    assert m["auc"] == pytest.approx(skm.roc_auc_score(y, p), abs=1e-6)
    assert m["ap"] == pytest.approx(skm.average_precision_score(y, p), abs=1e-6)
    assert m["log_loss"] == pytest.approx(skm.log_loss(y, p), abs=1e-6)
    assert m["acc"] == pytest.approx(skm.accuracy_score(y, pred))
    assert m["precision"] == pytest.approx(skm.precision_score(y, pred))
    assert m["recall"] == pytest.approx(skm.recall_score(y, pred))
    assert m["f1"] == pytest.approx(skm.f1_score(y, pred))
    assert m["real_acc"] == pytest.approx(tn / (tn + fp))
    assert m["fake_acc"] == pytest.approx(tp / (tp + fn))


def test_log_loss_reads_numpy_in_float64_and_clips_at_eps(data):
    """The fusion rules score NumPy float64 probabilities: no float32 rounding on the way."""
    probs, labels = data
    p = probs.numpy().astype(np.float64) ** 1.01  # values that float32 cannot hold exactly
    y = labels.numpy()
    assert log_loss(p, y) == pytest.approx(skm.log_loss(y, p), abs=1e-12)
    assert log_loss(torch.from_numpy(p), labels) == log_loss(p, y)
    # a certain, wrong answer costs -log(1e-7), not infinity
    assert log_loss(np.array([1.0, 0.0]), np.array([0, 1])) == pytest.approx(-math.log(1e-7))


def test_eer_is_where_fpr_meets_fnr(data):
    probs, labels = data
    eer, thr = equal_error_rate(probs, labels)
    fpr, tpr, _ = skm.roc_curve(labels.numpy(), probs.numpy())
    fnr = 1 - tpr
    i = int(np.argmin(np.abs(fnr - fpr)))
    # the interpolated crossing lies within the bracketing ROC step
    assert min(fpr[i], fnr[i]) - 0.02 <= eer <= max(fpr[i], fnr[i]) + 0.02
    # at the EER threshold the two error rates are (nearly) equal on this data
    pred = probs.numpy() >= thr
    y = labels.numpy().astype(bool)
    assert abs((pred & ~y).sum() / (~y).sum() - (~pred & y).sum() / y.sum()) < 0.03


def test_eer_of_a_hand_example():
    # scores of 2 reals (0.1, 0.6) and 2 fakes (0.4, 0.9): at any threshold in (0.4, 0.6)
    # fpr = 1/2 and fnr = 1/2, so the EER is exactly 0.5
    eer, _ = equal_error_rate(torch.tensor([0.1, 0.6, 0.4, 0.9]), torch.tensor([0, 0, 1, 1]))
    assert eer == pytest.approx(0.5)
    assert equal_error_rate(torch.tensor([0.1, 0.2, 0.8, 0.9]), torch.tensor([0, 0, 1, 1]))[0] == 0.0


def test_single_class_gives_nan_ranking_metrics():
    m = detection_metrics(torch.tensor([0.2, 0.7]), torch.tensor([1, 1]))
    assert math.isnan(m["auc"]) and math.isnan(m["ap"]) and math.isnan(m["real_acc"])
    assert m["fake_acc"] == 0.5


def test_rejects_logits():
    with pytest.raises(ValueError, match="pass probs, not logits"):
        detection_metrics(torch.tensor([-2.0, 3.0]), torch.tensor([0, 1]))


def test_fake_logit_matches_softmax_column_one():
    z = torch.randn(10, 2)
    assert torch.allclose(torch.sigmoid(fake_logit(z)), torch.softmax(z, 1)[:, 1], atol=1e-6)
    assert fake_logit(torch.ones(3, 1)).shape == (3,)


def _loop_confident(p: np.ndarray, c: ConfidentStrategy) -> float:
    # the DFDC winner's confident_strategy, transcribed (selimsef/dfdc_deepfake_challenge)
    sz = len(p)
    fakes = np.count_nonzero(p > c.fake_threshold)
    if fakes > sz // 2.5 and fakes > c.min_fake_frames:
        return float(np.mean(p[p > c.fake_threshold]))
    if np.count_nonzero(p < c.real_threshold) > c.real_fraction * sz:
        return float(np.mean(p[p < c.real_threshold]))
    return float(np.mean(p))


@pytest.mark.parametrize("strategy", ["mean", "max", "confident"])
def test_video_aggregation_against_a_loop(strategy):
    rng = np.random.default_rng(1)
    n_videos = 30
    video_idx = np.repeat(np.arange(n_videos), 32)
    kind = rng.integers(0, 3, n_videos)  # mostly fake / mostly real / mixed
    u = rng.uniform(0, 1, video_idx.size)
    high, low, any_ = (
        rng.uniform(0.82, 1.0, u.size),
        rng.uniform(0.0, 0.19, u.size),
        rng.uniform(0, 1, u.size),
    )
    p = np.where(
        kind[video_idx] == 0,
        np.where(u < 0.6, high, any_),  # 60% confidently fake frames among noise
        np.where(kind[video_idx] == 1, np.where(u < 0.96, low, high), any_),
    )
    labels = (kind[video_idx] == 0).astype(int)
    perm = rng.permutation(video_idx.size)  # frames arrive in any order (DDP gathering)
    c = ConfidentStrategy()
    vp, vl, ids = aggregate_video(
        torch.tensor(p[perm]), torch.tensor(labels[perm]), torch.tensor(video_idx[perm]), strategy, c
    )
    assert ids.tolist() == list(range(n_videos))
    for v in range(n_videos):
        frames = p[video_idx == v]
        want = {"mean": frames.mean(), "max": frames.max(), "confident": _loop_confident(frames, c)}[strategy]
        assert float(vp[v]) == pytest.approx(want, abs=1e-6)
        assert int(vl[v]) == labels[video_idx == v][0]
    if strategy == "confident":  # the rule differs from the mean on these videos
        assert not torch.allclose(
            vp, aggregate_video(torch.tensor(p), torch.tensor(labels), torch.tensor(video_idx))[0]
        )


def test_metric_class_accumulates_batches_and_video_level(data):
    probs, labels = data
    video_idx = torch.arange(400) // 4
    labels = labels.view(100, 4)[:, :1].expand(100, 4).reshape(-1)  # one label per video
    metric = DetectionMetrics(threshold=0.4, video_aggregation="mean")
    for i in range(0, 400, 64):
        metric.update(probs[i : i + 64], labels[i : i + 64], video_idx[i : i + 64])
    out = metric.compute()
    assert out["auc"] == pytest.approx(skm.roc_auc_score(labels.numpy(), probs.numpy()), abs=1e-6)
    vp = probs.view(100, 4).mean(1).numpy()
    vl = labels.view(100, 4)[:, 0].numpy()
    assert out["video_auc"] == pytest.approx(skm.roc_auc_score(vl, vp), abs=1e-6)
    assert out["video_f1"] == pytest.approx(skm.f1_score(vl, vp > 0.4), abs=1e-6)
    assert out["video_tp"] + out["video_fn"] == int(vl.sum())
