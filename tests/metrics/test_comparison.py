"""DeLong's test against an independent O(m*n) implementation of the 1988 paper's formulas,
and against the sampling variance it estimates; the stratified bootstrap against its own claims."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from sklearn.metrics import roc_auc_score

from dfd.metrics.comparison import bootstrap_auc, delong_covariance, delong_test


def _delong_by_kernel(a: np.ndarray, b: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    """DeLong et al. (1988), section 2, written out pairwise: psi(X, Y) = 1, 1/2, 0; the
    structural components V10(X_i) = mean_j psi(X_i, Y_j), V01(Y_j) = mean_i psi(X_i, Y_j);
    S10, S01 their sample covariances; var(theta_a - theta_b) = L (S10/m + S01/n) L'."""
    y = y.astype(bool)
    comps10, comps01, aucs = [], [], []
    for s in (a, b):
        x, z = s[y][:, None], s[~y][None, :]
        psi = (x > z) + 0.5 * (x == z)
        comps10.append(psi.mean(axis=1))
        comps01.append(psi.mean(axis=0))
        aucs.append(psi.mean())
    m, n = y.sum(), (~y).sum()
    s10 = np.cov(np.stack(comps10))
    s01 = np.cov(np.stack(comps01))
    s = s10 / m + s01 / n
    contrast = np.array([1.0, -1.0])
    return aucs[0], aucs[1], float(contrast @ s @ contrast)


@pytest.fixture(scope="module")
def two_detectors():
    rng = np.random.default_rng(7)
    y = (rng.uniform(size=300) < 0.45).astype(int)
    shared = rng.normal(size=300)  # the two detectors make correlated errors
    a = 1.4 * y + shared + 0.5 * rng.normal(size=300)
    b = (1.0 * y + shared + 0.8 * rng.normal(size=300)).round(1)  # ties on purpose
    return a, b, y


def test_delong_matches_the_pairwise_formulas(two_detectors):
    a, b, y = two_detectors
    res = delong_test(a, b, y)
    auc_a, auc_b, var = _delong_by_kernel(a, b, y)
    assert res.auc_a == pytest.approx(auc_a, abs=1e-12)
    assert res.auc_b == pytest.approx(auc_b, abs=1e-12)
    assert res.auc_a == pytest.approx(roc_auc_score(y, a), abs=1e-12)
    assert res.se**2 == pytest.approx(var, rel=1e-9)
    assert res.p_value == pytest.approx(2 * stats.norm.sf(abs(auc_a - auc_b) / np.sqrt(var)), rel=1e-9)
    assert res.ci_low < res.diff < res.ci_high


def test_delong_variance_matches_sampling_variance():
    # draw many test sets from one population: the spread of the AUC difference across draws is
    # what DeLong's variance estimates from a single draw
    rng = np.random.default_rng(11)

    def draw(n=200):
        y = (rng.uniform(size=n) < 0.5).astype(int)
        shared = rng.normal(size=n)
        return 1.2 * y + shared + 0.6 * rng.normal(size=n), 0.9 * y + shared + 0.6 * rng.normal(size=n), y

    diffs, variances = [], []
    for _ in range(300):
        a, b, y = draw()
        auc, cov = delong_covariance(np.stack([a, b]), y)
        diffs.append(auc[0] - auc[1])
        variances.append(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1])
    assert np.mean(variances) == pytest.approx(np.var(diffs), rel=0.2)


def test_identical_detectors_and_a_clear_winner():
    rng = np.random.default_rng(0)
    y = (rng.uniform(size=400) < 0.5).astype(int)
    good = 2.5 * y + rng.normal(size=400)
    poor = 0.3 * y + rng.normal(size=400)
    same = delong_test(good, good, y)
    assert same.p_value == 1.0 and same.diff == 0.0
    clear = delong_test(good, poor, y)
    assert clear.diff > 0.3 and clear.p_value < 1e-6


def test_bootstrap_interval_covers_and_is_paired(two_detectors):
    a, b, y = two_detectors
    ci_a, ci_b = bootstrap_auc([a, b], y, n_boot=400, seed=0)
    assert ci_a.low < ci_a.auc < ci_a.high and ci_b.low < ci_b.auc < ci_b.high
    # the bootstrap standard error agrees with DeLong's for a single AUC (both estimate it)
    _, cov = delong_covariance(np.stack([a]), y)
    delong_width = 2 * 1.96 * np.sqrt(cov[0, 0])
    assert ci_a.high - ci_a.low == pytest.approx(delong_width, rel=0.25)
    # same seed, same draw
    assert bootstrap_auc([a], y, n_boot=400, seed=0)[0] == ci_a


def test_bootstrap_in_chunks_draws_every_replicate(two_detectors, monkeypatch):
    from dfd.metrics import comparison

    a, b, y = two_detectors
    calls = []
    real = comparison.delong_components
    monkeypatch.setattr(comparison, "delong_components", lambda s, t: calls.append(len(s)) or real(s, t))
    monkeypatch.setattr(comparison, "BOOTSTRAP_CHUNK", 7 * len(y))  # 7 replicates per chunk
    ci_a, ci_b = bootstrap_auc([a, b], y, n_boot=400, seed=0)
    assert sum(calls) == 2 * 400 and max(calls) == 7  # both detectors, every replicate, bounded chunks
    _, cov = delong_covariance(np.stack([a]), y)
    assert ci_a.high - ci_a.low == pytest.approx(2 * 1.96 * np.sqrt(cov[0, 0]), rel=0.25)
    assert ci_a.low < ci_a.auc < ci_a.high and ci_b.low < ci_b.auc < ci_b.high


def test_a_clip_model_and_a_frame_model_are_compared_on_the_videos_both_scored():
    import torch

    from dfd.metrics.comparison import compare_outputs
    from dfd.reports.tables import comparison_markdown

    rng = np.random.default_rng(3)
    names = np.array([f"v{k:02d}" for k in range(40)])
    label = {n: k % 2 for k, n in enumerate(names)}
    # frames: 4 of every video; clips: 2 of 30 videos (the 10 others had no track long enough),
    # their video_idx numbered in another order
    frame_videos = np.repeat(names, 4)
    clip_names = names[rng.permutation(40)[:30]]
    clip_videos = np.repeat(clip_names, 2)

    def outputs(videos: np.ndarray, unit: str, strength: float) -> dict:
        y = torch.tensor([label[v] for v in videos])
        logits = strength * y.float() + torch.from_numpy(rng.normal(size=len(videos))).float()
        codes = torch.from_numpy(np.unique(videos, return_inverse=True)[1])
        return {"logits": logits[:, None], "labels": y, "video_idx": codes, "video_id": videos, "unit": unit}

    frames, clips = outputs(frame_videos, "frame", 1.0), outputs(clip_videos, "clip", 2.0)
    result = compare_outputs(frames, clips, n_boot=50)
    assert "frame" not in result and result["units"] == {"a": "frame", "b": "clip"}
    video = result["video"]
    assert (video["n"], video["videos_a"], video["videos_b"]) == (30, 40, 30)
    # A's video AUC over the 30 common videos: the mean of their frame probabilities
    probs = torch.sigmoid(frames["logits"][:, 0]).numpy()
    common = sorted(clip_names)
    mean_a = [probs[frame_videos == n].mean() for n in common]
    assert video["bootstrap_a"]["auc"] == pytest.approx(roc_auc_score([label[n] for n in common], mean_a))
    md = comparison_markdown(result)
    assert "A scores frames, B clips: compared at video level only, on the 30 videos both scored" in md
    assert "## Video level (30 samples)" in md and "Frame level" not in md
    with pytest.raises(ValueError, match="scored no video in common"):
        compare_outputs(frames, {**clips, "video_id": np.char.add(clip_videos, "x")}, n_boot=50)


def test_per_method_intervals_contain_their_point_and_differ_from_the_dataset_ones():
    import torch

    from dfd.metrics.comparison import compare_outputs

    rng = np.random.default_rng(3)
    n = 240  # 60 videos of 4 frames: 20 real, 20 of method "easy", 20 of "hard"
    video = np.arange(n) // 4
    kind = np.array(["real", "easy", "hard"])[video % 3]
    labels = (kind != "real").astype(int)
    signal = {"real": 0.0, "easy": 3.0, "hard": 0.2}
    logits_a = np.array([signal[k] for k in kind]) + rng.normal(size=n)
    logits_b = 0.5 * np.array([signal[k] for k in kind]) + rng.normal(size=n)

    def outputs(logits):
        return {"logits": torch.tensor(logits, dtype=torch.float32), "labels": torch.tensor(labels),
                "video_idx": torch.tensor(video), "method": kind}  # fmt: skip

    result = compare_outputs(outputs(logits_a), outputs(logits_b), n_boot=300, seed=0)
    for level in ("frame", "video"):
        by_method = result[level]["by_method"]
        assert set(by_method) == {"easy", "hard"}
        for m in by_method.values():
            for key in ("bootstrap_a", "bootstrap_b", "difference"):
                assert m[key]["low"] <= m[key]["auc"] <= m[key]["high"]
        overall = result[level]["bootstrap_a"]
        easy, hard = by_method["easy"]["bootstrap_a"], by_method["hard"]["bootstrap_a"]
        assert easy["auc"] > overall["auc"] > hard["auc"]  # each method's own AUC and interval
        assert (easy["low"], easy["high"]) != (overall["low"], overall["high"]) != (hard["low"], hard["high"])
        if level == "frame":  # 80 fakes a method: the intervals do not even overlap
            assert easy["low"] > overall["high"] and hard["high"] < overall["low"]
        assert by_method["easy"]["n_fake"] == (80 if level == "frame" else 20)
    from dfd.reports.tables import comparison_markdown

    md = comparison_markdown(result)
    assert "| easy | 80 |" in md and "| hard | 20 |" in md
