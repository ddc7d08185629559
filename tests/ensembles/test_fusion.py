"""Fusion rules on member logits with a known structure: two members that each see half the fakes."""

from __future__ import annotations

import numpy as np
import pytest

from dfd.ensembles.fusion import (
    RULES,
    AttentionFusion,
    ConfidenceFusion,
    MeanFusion,
    StackingFusion,
    WeightedFusion,
    agreement,
    fusion_from_state,
    grouped_folds,
    logit,
    make_fusion,
    sigmoid,
)
from dfd.metrics.detection import log_loss


def complementary(n_videos: int = 120, frames: int = 4, seed: int = 0):
    """Member logits where member 0 sees the fakes of method A, member 1 those of method B; reals
    look like noise to both. Returns z [N, 2], labels [N], video groups [N]."""
    rng = np.random.default_rng(seed)
    z, y, groups = [], [], []
    for v in range(n_videos):
        kind = v % 4  # 0, 1: real; 2: method A; 3: method B
        for _ in range(frames):
            signal = np.array([2.5 if kind == 2 else 0.0, 2.5 if kind == 3 else 0.0])
            z.append(signal - 1.0 + rng.normal(0, 1.0, 2))
            y.append(int(kind >= 2))
            groups.append(f"v{v:03d}")
    return np.array(z), np.array(y), np.array(groups)


def best_member_log_loss(z: np.ndarray, y: np.ndarray) -> float:
    return min(log_loss(sigmoid(z[:, k]), y) for k in range(z.shape[1]))


@pytest.mark.parametrize("rule", ["weighted", "stacking", "attention"])
def test_fitted_rules_beat_the_best_member_on_validation_log_loss(rule: str) -> None:
    z, y, groups = complementary()
    fusion = make_fusion(rule, **({"n_trials": 60} if rule == "weighted" else {}))
    fused = fusion.fit(z, y, groups)  # out-of-fold for stacking and attention
    assert log_loss(sigmoid(fused), y) < best_member_log_loss(z, y) - 0.02


def test_weights_are_non_negative_and_sum_to_one() -> None:
    z, y, groups = complementary()
    fusion = WeightedFusion(n_trials=40)
    fusion.fit(z, y, groups)
    assert fusion.w is not None and (fusion.w >= 0).all() and fusion.w.sum() == pytest.approx(1.0)
    assert 0.3 < fusion.w[0] < 0.7  # the two halves of the fakes matter alike
    w = fusion.weights(z)
    assert np.allclose(w.sum(axis=1), 1.0)


def test_the_weighted_search_never_ends_worse_than_a_member_alone() -> None:
    """The study starts from equal weights and from each member alone, so even a useless member
    cannot make the fitted weights worse than the good one on validation."""
    z, y, groups = complementary()
    z[:, 1] = np.random.default_rng(3).normal(0, 3, len(y))  # member 1 is noise
    fusion = WeightedFusion(n_trials=5)
    fusion.fit(z, y, groups)
    assert log_loss(sigmoid(fusion.fuse(z)), y) <= log_loss(sigmoid(z[:, 0]), y) + 1e-12


def test_no_stacking_fold_splits_a_video_and_folds_keep_both_classes() -> None:
    z, y, groups = complementary()
    fusion = StackingFusion(k=5)
    fusion.fit(z, y, groups)
    assert len(fusion.folds) == 5
    covered = np.zeros(len(y), int)
    for train, held in fusion.folds:
        assert not set(groups[train]) & set(groups[held])
        assert set(y[held]) == {0, 1}
        covered[held] += 1
    assert (covered == 1).all()  # every sample is held out exactly once


def test_too_few_validation_videos_for_cross_validation_says_so() -> None:
    y = np.array([0, 0, 1, 1])
    with pytest.raises(ValueError, match="at least 2 validation videos of each class"):
        grouped_folds(y, ["a", "a", "b", "b"], k=5)


def test_folds_shrink_to_the_videos_there_are(caplog) -> None:
    y = np.array([0, 0, 0, 1, 1, 1])
    folds = grouped_folds(y, ["a", "b", "c", "d", "e", "f"], k=5)
    assert len(folds) == 3 and "3 folds instead of 5" in caplog.text


def test_mean_in_probability_and_logit_space() -> None:
    z = np.array([[0.0, 2.0], [-1.0, 3.0]])
    assert np.allclose(MeanFusion("logit").fuse(z), [1.0, 1.0])
    assert np.allclose(sigmoid(MeanFusion("prob").fuse(z)), sigmoid(z).mean(axis=1))
    with pytest.raises(ValueError, match="ensemble.space='odds'"):
        MeanFusion("odds")


@pytest.mark.parametrize("measure", ["margin", "entropy"])
def test_the_confident_member_weighs_more(measure: str) -> None:
    z = np.array([[4.0, 0.1], [0.0, 0.0]])  # member 0 sure, member 1 unsure; then neither
    w = ConfidenceFusion(measure).weights(z)
    assert np.allclose(w.sum(axis=1), 1.0)
    assert w[0, 0] > 0.9 and np.allclose(w[1], [0.5, 0.5])
    assert sigmoid(ConfidenceFusion(measure).fuse(z))[0] > 0.9


@pytest.mark.parametrize("rule", sorted(RULES))
def test_every_rule_survives_its_plain_data_state(rule: str) -> None:
    import json

    z, y, groups = complementary(n_videos=48)
    params = {"n_trials": 10} if rule == "weighted" else {"max_epochs": 40} if rule == "attention" else {}
    fusion = make_fusion(rule, **params)
    fusion.fit(z, y, groups)
    again = fusion_from_state(json.loads(json.dumps(fusion.state())))
    assert np.allclose(again.fuse(z), fusion.fuse(z), atol=1e-6)


def test_attention_reads_member_features_when_asked() -> None:
    z, y, groups = complementary()
    rng = np.random.default_rng(1)
    features = [rng.normal(size=(len(y), 12)), rng.normal(size=(len(y), 20))]
    fusion = AttentionFusion(use_features=True, feature_dim=4, max_epochs=60)
    assert fusion.needs_features
    fusion.fit(z, y, groups, features)
    w = fusion.weights(z, features)
    assert w.shape == z.shape and np.allclose(w.sum(axis=1), 1.0)
    with pytest.raises(ValueError, match="reads member features"):
        fusion.fuse(z)


def test_agreement_is_the_share_of_members_on_the_ensembles_side() -> None:
    member_probs = np.array([[0.9, 0.8, 0.2], [0.1, 0.2, 0.3]])
    fused = np.array([0.7, 0.2])
    assert np.allclose(agreement(member_probs, [0.5, 0.5, 0.5], fused, 0.5), [2 / 3, 1.0])
    # each member decides at its own threshold
    assert np.allclose(agreement(member_probs, [0.5, 0.5, 0.1], fused, 0.5), [1.0, 2 / 3])


def test_unknown_rule_names_the_choices() -> None:
    with pytest.raises(ValueError, match="method='vote'"):
        make_fusion("vote")


def test_logit_and_sigmoid_are_inverse() -> None:
    p = np.array([0.01, 0.5, 0.99])
    assert np.allclose(sigmoid(logit(p)), p)


def test_attention_early_stops_on_videos_of_the_folds_training_part_never_its_held_out_ones(
    monkeypatch,
) -> None:
    """Each fold's early stopping reads an inner grouped split of its training part: no held-out
    video (whose out-of-fold predictions calibrate the ensemble) and no video the gate trains on."""
    z, y, groups = complementary(n_videos=40)
    seen: list[
        tuple[np.ndarray, np.ndarray | None]
    ] = []  # per call: the rows trained on, the rows stopped on
    rows = {tuple(r): i for i, r in enumerate(np.clip(z, -20, 20).astype(np.float32))}
    train = AttentionFusion._train

    def recording(self, x, zt, yt, epochs, held=None):
        stop = None if held is None else np.array([rows[tuple(r)] for r in held[1].numpy()])
        seen.append((np.array([rows[tuple(r)] for r in zt.numpy()]), stop))
        return train(self, x, zt, yt, epochs, held)

    monkeypatch.setattr(AttentionFusion, "_train", recording)
    fusion = AttentionFusion(k=4, max_epochs=30, patience=5)
    fusion.fit(z, y, groups)
    assert len(seen) == len(fusion.folds) + 1 and seen[-1][1] is None  # the final fit stops on nothing
    for (tr, te), (fitted, stop) in zip(fusion.folds, seen, strict=False):
        assert stop is not None and len(stop) > 0
        assert set(stop) <= set(tr) and not set(stop) & set(te)
        assert not set(groups[stop]) & set(groups[te]) and not set(groups[stop]) & set(groups[fitted])
        assert set(fitted) | set(stop) == set(tr) and {0, 1} <= set(y[stop])
