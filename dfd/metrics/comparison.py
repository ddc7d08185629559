"""Comparing two detectors on the same test set: bootstrap AUC intervals and DeLong's test.

DeLong's test compares two *correlated* AUCs, scored on the same samples, through the
Mann-Whitney structural components of each AUC (DeLong, DeLong & Clarke-Pearson, "Comparing
the areas under two or more correlated receiver operating characteristic curves: a
nonparametric approach", Biometrics 44(3), 1988). The components are computed from midranks
in O(N log N), the algorithm of Sun & Xu ("Fast implementation of DeLong's algorithm for
comparing the areas under correlated receiver operating characteristic curves", IEEE Signal
Processing Letters 21(11), 2014).

The bootstrap resamples reals and fakes separately (stratified), with the same indices for
both detectors (paired), and reports percentile intervals, of each AUC and of their difference
(the same replicates). :func:`compare_outputs` applies both at frame and video level, over the
whole test set and per manipulation method, to two detectors' gathered outputs (``dfd.compare``,
and ``dfd.protocol`` against a published detector). A clip model
(a temporal net) and a frame model score different samples of the same videos (clips, frames):
they are compared at video level only, on the videos both scored, matched by video id.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch
from scipy import stats
from sklearn.metrics import roc_auc_score

from dfd.metrics.detection import ConfidentStrategy, aggregate_video, fake_logit


def _as_numpy(x) -> np.ndarray:
    return x.detach().cpu().numpy() if hasattr(x, "detach") else np.asarray(x)


def delong_components(scores: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """AUCs and structural components of ``k`` score vectors on the same samples.

    ``scores`` is ``[k, N]``, ``labels`` ``[N]`` (1 positive = fake). Returns ``auc [k]``,
    ``v10 [k, m]`` (one component per positive) and ``v01 [k, n]`` (one per negative), where
    ``v10_i`` is the fraction of negatives ranked below positive ``i`` (ties count 1/2).
    """
    scores = np.atleast_2d(np.asarray(scores, dtype=np.float64))
    labels = np.asarray(labels).astype(bool)
    pos, neg = scores[:, labels], scores[:, ~labels]
    m, n = pos.shape[1], neg.shape[1]
    if m == 0 or n == 0:
        raise ValueError(f"DeLong needs both classes; got {m} fakes and {n} reals")
    tx = stats.rankdata(pos, axis=1)
    ty = stats.rankdata(neg, axis=1)
    tz = stats.rankdata(np.concatenate([pos, neg], axis=1), axis=1)
    auc = (tz[:, :m].sum(axis=1) - m * (m + 1) / 2) / (m * n)
    v10 = (tz[:, :m] - tx) / n
    v01 = 1.0 - (tz[:, m:] - ty) / m
    return auc, v10, v01


def delong_covariance(scores: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """AUCs ``[k]`` and their DeLong covariance matrix ``[k, k]``."""
    auc, v10, v01 = delong_components(scores, labels)
    m, n = v10.shape[1], v01.shape[1]
    cov = np.atleast_2d(np.cov(v10)) / m + np.atleast_2d(np.cov(v01)) / n
    return auc, cov


@dataclass
class DeLongResult:
    """Outcome of DeLong's test of ``auc_a == auc_b`` (two-sided)."""

    auc_a: float
    auc_b: float
    diff: float
    se: float
    z: float
    p_value: float
    ci_low: float
    ci_high: float

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


def delong_test(scores_a, scores_b, labels, alpha: float = 0.05) -> DeLongResult:
    """DeLong's test for two correlated AUCs, with a normal ``1 - alpha`` interval of the difference."""
    a, b, y = _as_numpy(scores_a), _as_numpy(scores_b), _as_numpy(labels)
    if not (a.shape == b.shape == y.shape):
        raise ValueError(
            f"both detectors must score the same samples: shapes {a.shape}, {b.shape}, labels {y.shape}"
        )
    auc, cov = delong_covariance(np.stack([a, b]), y)
    diff = float(auc[0] - auc[1])
    var = float(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1])
    se = float(np.sqrt(max(var, 0.0)))
    if se == 0.0:  # identical rankings: no evidence of a difference
        z, p = 0.0, 1.0
    else:
        z = diff / se
        p = float(2 * stats.norm.sf(abs(z)))
    q = float(stats.norm.ppf(1 - alpha / 2))
    return DeLongResult(float(auc[0]), float(auc[1]), diff, se, float(z), p, diff - q * se, diff + q * se)


@dataclass
class BootstrapCI:
    """An AUC with its percentile bootstrap interval."""

    auc: float
    low: float
    high: float
    n_boot: int

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


#: Bootstrap indices drawn at a time (replicates × samples); about 0.2 GB of working memory.
BOOTSTRAP_CHUNK = 2_000_000


def bootstrap_replicates(scores: list, labels, n_boot: int = 1000, seed: int = 0) -> list[np.ndarray]:
    """The AUC of every paired, stratified bootstrap replicate, ``[n_boot]`` per score vector.

    Every replicate draws reals and fakes with replacement separately, so each replicate has
    both classes and the class balance of the test set; all detectors share the draw.
    """
    y = _as_numpy(labels).astype(bool)
    arrays = [_as_numpy(s).astype(np.float64) for s in scores]
    pos, neg = np.flatnonzero(y), np.flatnonzero(~y)
    if pos.size == 0 or neg.size == 0:
        raise ValueError(f"bootstrap AUC needs both classes; got {pos.size} fakes and {neg.size} reals")
    rng = np.random.default_rng(seed)
    yb = np.concatenate([np.ones(pos.size, bool), np.zeros(neg.size, bool)])
    # replicates in chunks of about BOOTSTRAP_CHUNK indices, so memory does not grow with n_boot × N
    chunk = max(1, BOOTSTRAP_CHUNK // y.size)
    boots: list[list[np.ndarray]] = [[] for _ in arrays]
    for start in range(0, n_boot, chunk):
        m = min(chunk, n_boot - start)
        # indices [m, N] with the positives first in every replicate, shared by all detectors
        idx = np.concatenate([rng.choice(pos, (m, pos.size)), rng.choice(neg, (m, neg.size))], axis=1)
        for boot, s in zip(boots, arrays, strict=True):
            boot.append(delong_components(s[idx], yb)[0])  # the midrank AUC of every replicate
    return [np.concatenate(boot) for boot in boots]


def bootstrap_auc(
    scores: list, labels, n_boot: int = 1000, alpha: float = 0.05, seed: int = 0
) -> list[BootstrapCI]:
    """Paired, stratified percentile bootstrap of the AUC of each score vector in ``scores``
    (:func:`bootstrap_replicates`)."""
    y = _as_numpy(labels).astype(bool)
    out = []
    for s, boot in zip(scores, bootstrap_replicates(scores, labels, n_boot, seed), strict=True):
        low, high = np.quantile(boot, [alpha / 2, 1 - alpha / 2])
        out.append(BootstrapCI(float(roc_auc_score(y, _as_numpy(s))), float(low), float(high), n_boot))
    return out


def compare_scores(
    scores_a, scores_b, labels, n_boot: int = 1000, alpha: float = 0.05, seed: int = 0
) -> dict[str, Any]:
    """Two detectors on the same samples: each AUC with its paired bootstrap interval, the difference
    ``AUC(a) - AUC(b)`` with its interval from the same replicates, and DeLong's test."""
    a, b, y = _as_numpy(scores_a), _as_numpy(scores_b), _as_numpy(labels)
    rep_a, rep_b = bootstrap_replicates([a, b], y, n_boot, seed)
    q = [alpha / 2, 1 - alpha / 2]
    cis = [BootstrapCI(float(roc_auc_score(y, s)), *map(float, np.quantile(r, q)), n_boot)
           for s, r in ((a, rep_a), (b, rep_b))]  # fmt: skip
    diff = BootstrapCI(cis[0].auc - cis[1].auc, *map(float, np.quantile(rep_a - rep_b, q)), n_boot)
    return {
        "n": int(y.size),
        "n_fake": int((y == 1).sum()),
        "alpha": alpha,
        "bootstrap_a": cis[0].to_dict(),
        "bootstrap_b": cis[1].to_dict(),
        "difference": diff.to_dict(),
        "delong": delong_test(a, b, y, alpha=alpha).to_dict(),
    }


def by_method(
    scores_a, scores_b, labels, methods, n_boot: int = 1000, alpha: float = 0.05, seed: int = 0
) -> dict[str, dict[str, Any]]:
    """:func:`compare_scores` per manipulation method: that method's fakes against every real."""
    a, b, y = _as_numpy(scores_a), _as_numpy(scores_b), _as_numpy(labels).astype(int)
    methods = np.asarray(methods).astype(str)
    out = {}
    for method in sorted(set(methods[y == 1])):
        keep = (y == 0) | (methods == method)
        if (y[keep] == 0).any():
            out[method] = compare_scores(a[keep], b[keep], y[keep], n_boot, alpha, seed)
    return out


def compare_outputs(
    a: dict[str, torch.Tensor],
    b: dict[str, torch.Tensor],
    n_boot: int = 2000,
    alpha: float = 0.05,
    seed: int = 0,
    video_aggregation: str = "mean",
    confident_a: ConfidentStrategy | None = None,
    confident_b: ConfidentStrategy | None = None,
) -> dict[str, Any]:
    """Bootstrap intervals (each AUC and their difference) and DeLong's test for two detectors'
    outputs on the same samples, and the same per manipulation method where ``a`` names each
    sample's ``method`` (that method's fakes against every real).

    ``confident_a`` and ``confident_b`` are each detector's ``confident`` parameters (those its
    run was calibrated with), used when ``video_aggregation`` is ``confident``. Outputs of
    different units (``unit``: frame, clip) are compared at video level only, on the videos both
    scored (their samples' ``video_id``); ``out["units"]`` then records both units."""
    units = (a.get("unit", "frame"), b.get("unit", "frame"))
    methods: dict[str, np.ndarray] = {}
    pa, pb = torch.sigmoid(fake_logit(a["logits"])), torch.sigmoid(fake_logit(b["logits"]))
    if units[0] != units[1]:
        levels = {"video": _common_videos(a, b, pa, pb, video_aggregation, confident_a, confident_b)}
    else:
        labels = a["labels"].long()
        if not (
            labels.shape == b["labels"].shape
            and torch.equal(labels, b["labels"].long())
            and torch.equal(a["video_idx"], b["video_idx"])
        ):
            raise ValueError(
                "the two checkpoints were not scored on the same samples in the same order; "
                "compare them on one data config (data=<name>)"
            )
        levels = {"frame": (pa, pb, labels)}
        va, vl, vids = aggregate_video(pa, labels, a["video_idx"], video_aggregation, confident_a)  # type: ignore[arg-type]
        vb, _, _ = aggregate_video(pb, labels, b["video_idx"], video_aggregation, confident_b)  # type: ignore[arg-type]
        levels["video"] = (va, vb, vl)
        if a.get("method") is not None:  # each sample's manipulation method: a row per method
            frame_methods = np.asarray(a["method"]).astype(str)
            first = pd.Series(frame_methods).groupby(a["video_idx"].numpy()).first()
            methods = {"frame": frame_methods, "video": first.loc[vids.numpy()].to_numpy()}
    out: dict[str, Any] = {"units": {"a": units[0], "b": units[1]}}
    for level, (x, y, t) in levels.items():
        out[level] = compare_scores(x, y, t, n_boot=n_boot, alpha=alpha, seed=seed)
        if level in methods:
            out[level]["by_method"] = by_method(
                x, y, t, methods[level], n_boot=n_boot, alpha=alpha, seed=seed
            )
    out["video"]["aggregation"] = video_aggregation
    if units[0] != units[1]:
        out["video"]["videos_a"], out["video"]["videos_b"] = (
            len(set(a["video_id"].tolist())),
            len(set(b["video_id"].tolist())),
        )
    if video_aggregation == "confident":  # what each detector's videos were aggregated with
        for key, confident in (("confident_a", confident_a), ("confident_b", confident_b)):
            out["video"][key] = asdict(confident or ConfidentStrategy())
    return out


def _common_videos(
    a: dict[str, Any],
    b: dict[str, Any],
    pa: torch.Tensor,
    pb: torch.Tensor,
    aggregation: str,
    confident_a: ConfidentStrategy | None,
    confident_b: ConfidentStrategy | None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(video probs of a, of b, labels)`` on the videos both scored, matched by ``video_id``."""
    per_video = []
    for out, probs, confident in ((a, pa, confident_a), (b, pb, confident_b)):
        if out.get("video_id") is None:
            raise ValueError(
                f"a {a.get('unit', 'frame')} model and a {b.get('unit', 'frame')} model score different samples, "
                "and these outputs name no video_id to pair their videos by"
            )
        vp, vl, ids = aggregate_video(probs, out["labels"], out["video_idx"], aggregation, confident)  # type: ignore[arg-type]
        names = pd.Series(np.asarray(out["video_id"]).astype(str)).groupby(out["video_idx"].numpy()).first()
        per_video.append(
            pd.DataFrame({"prob": vp.numpy(), "label": vl.numpy()}, index=names.loc[ids.numpy()])
        )
    both = per_video[0].join(per_video[1], lsuffix="_a", rsuffix="_b", how="inner").sort_index()
    if both.empty:
        raise ValueError(
            "the two models scored no video in common: compare them on one data config (data=<name>)"
        )
    if not (both["label_a"] == both["label_b"]).all():
        raise ValueError(
            "the two models' outputs give a video two labels: they were not scored on the same data"
        )
    return tuple(torch.tensor(both[k].to_numpy()) for k in ("prob_a", "prob_b", "label_a"))  # type: ignore[return-value]
