"""Decision thresholds and probability calibration fitted on validation outputs.

A detector trained on balanced crops rarely has its best operating point at 0.5, and deep nets
are over-confident (Guo et al., "On Calibration of Modern Neural Networks", ICML 2017,
arXiv:1706.04599). From the validation split we fit:

- the F1-optimal threshold;
- Youden's J threshold, maximising ``tpr - fpr`` (Youden, "Index for rating diagnostic tests",
  Cancer 3(1), 1950);
- the lowest threshold whose precision is at least a target (highest recall at that precision);
- a temperature ``T`` for temperature scaling (Guo et al. 2017): ``p = sigmoid(z / T)``, fitted
  by minimising the validation negative log-likelihood with L-BFGS.

Thresholds are midpoints between consecutive distinct scores, so the decision is the same
whether a consumer uses ``prob > t`` (torchmetrics) or ``prob >= t`` (scikit-learn curves).
Temperature scaling never moves the decision at 0.5 (``sigmoid(z / T) > 0.5`` iff ``z > 0``); it
changes log-loss and calibration, which is why the reports show both.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor
from torchmetrics.functional.classification import binary_calibration_error

#: The threshold choices understood by :func:`resolve_threshold` besides a number.
THRESHOLD_CHOICES = ("f1", "youden", "precision", "temperature")


@dataclass
class ThresholdSweep:
    """Confusion counts at every useful threshold, ascending (fake iff ``prob > threshold``)."""

    thresholds: Tensor
    tp: Tensor
    fp: Tensor
    tn: Tensor
    fn: Tensor

    @property
    def precision(self) -> Tensor:
        # precision is 1 by convention where nothing is predicted fake (sklearn's PR curve end)
        pos = self.tp + self.fp
        return torch.where(pos > 0, self.tp / pos.clamp(min=1), torch.ones_like(self.tp))

    @property
    def recall(self) -> Tensor:
        return self.tp / (self.tp + self.fn).clamp(min=1)

    @property
    def fpr(self) -> Tensor:
        return self.fp / (self.fp + self.tn).clamp(min=1)

    @property
    def f1(self) -> Tensor:
        return 2 * self.tp / (2 * self.tp + self.fp + self.fn).clamp(min=1)


def threshold_sweep(probs: Tensor, labels: Tensor) -> ThresholdSweep:
    """Confusion counts at a threshold below every score, between each pair of consecutive
    distinct scores, and above every score: every distinct decision the scores allow."""
    probs = probs.detach().flatten().double().cpu()
    labels = labels.detach().flatten().double().cpu()
    scores, inv = torch.unique(probs, return_inverse=True)  # ascending
    pos = torch.zeros_like(scores).index_add_(0, inv, labels)
    neg = torch.zeros_like(scores).index_add_(0, inv, 1 - labels)
    # samples strictly above cut k (k = 0 .. len(scores)): those with score index >= k
    tp = torch.cat([pos.flip(0).cumsum(0).flip(0), torch.zeros(1, dtype=pos.dtype)])
    fp = torch.cat([neg.flip(0).cumsum(0).flip(0), torch.zeros(1, dtype=neg.dtype)])
    # cut k predicts fake for scores[k:]; its threshold lies in [scores[k-1], scores[k])
    lower = torch.cat([torch.zeros(1, dtype=scores.dtype), scores])
    upper = torch.cat([scores, torch.ones(1, dtype=scores.dtype)])
    thresholds = (lower + upper) / 2
    keep = torch.ones_like(thresholds, dtype=torch.bool)
    if scores.numel():
        thresholds[0], thresholds[-1] = scores[0] / 2, (scores[-1] + 1) / 2
        # with 'prob > t' on [0, 1] no threshold predicts a score of 0 fake or a score of 1 real
        keep[0], keep[-1] = bool(scores[0] > 0), bool(scores[-1] < 1)
    n_pos, n_neg = float(labels.sum()), float((1 - labels).sum())
    tp, fp, thresholds = tp[keep], fp[keep], thresholds[keep]
    return ThresholdSweep(thresholds, tp, fp, n_neg - fp, n_pos - tp)


def f1_threshold(probs: Tensor, labels: Tensor) -> float:
    """The threshold with the highest F1 (the lowest such threshold on ties)."""
    s = threshold_sweep(probs, labels)
    return float(s.thresholds[int(torch.argmax(s.f1))])


def youden_threshold(probs: Tensor, labels: Tensor) -> float:
    """The threshold maximising Youden's J = tpr - fpr."""
    s = threshold_sweep(probs, labels)
    return float(s.thresholds[int(torch.argmax(s.recall - s.fpr))])


def precision_threshold(probs: Tensor, labels: Tensor, target: float) -> tuple[float, bool]:
    """The lowest threshold whose precision is at least ``target``, and whether it exists.

    Among thresholds that reach the target we keep the one with the highest recall. When none
    does (ignoring the empty prediction set), fall back to the highest-precision threshold and
    return ``False``.
    """
    if not 0 < target <= 1:
        raise ValueError(
            f"precision target must be in (0, 1], got {target}; set calibration.precision_target"
        )
    s = threshold_sweep(probs, labels)
    predicted = (s.tp + s.fp) > 0
    ok = predicted & (s.precision >= target)
    if ok.any():
        recall = torch.where(ok, s.recall, torch.full_like(s.recall, -1.0))
        return float(s.thresholds[int(torch.argmax(recall))]), True
    prec = torch.where(predicted, s.precision, torch.full_like(s.precision, -1.0))
    return float(s.thresholds[int(torch.argmax(prec))]), False


def fit_temperature(
    logits: Tensor, labels: Tensor, max_iter: int = 100, bounds: tuple[float, float] = (0.01, 100.0)
) -> float:
    """Temperature ``T`` minimising ``BCE(sigmoid(z / T), y)`` on fake logits ``z``, within ``bounds``.

    Optimises ``log T`` with L-BFGS (as Guo et al. 2017), so ``T`` stays positive. The NLL is
    convex in ``1 / T``, so clipping the optimum to ``bounds`` gives the bounded optimum; the
    bounds matter for a model whose validation logits carry no signal (or the wrong sign), where
    the unbounded optimum is ``T -> inf`` (every probability 0.5).
    """
    z = logits.detach().flatten().double().cpu()
    y = labels.detach().flatten().double().cpu()
    log_t = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([log_t], lr=0.1, max_iter=max_iter, line_search_fn="strong_wolfe")

    def closure() -> Tensor:
        opt.zero_grad()
        loss = F.binary_cross_entropy_with_logits(z / log_t.exp(), y)
        loss.backward()
        return loss

    opt.step(closure)
    t = float(log_t.detach().exp())
    if math.isnan(t):
        return 1.0
    return min(max(t, bounds[0]), bounds[1])


def nll(logits: Tensor, labels: Tensor, temperature: float = 1.0) -> float:
    """Mean negative log-likelihood of fake logits at a temperature."""
    z = logits.detach().flatten().double().cpu() / temperature
    return float(F.binary_cross_entropy_with_logits(z, labels.detach().flatten().double().cpu()))


def expected_calibration_error(probs: Tensor, labels: Tensor, n_bins: int = 15) -> float:
    """Expected calibration error with equal-width bins (torchmetrics' ``binary_calibration_error``)."""
    return float(
        binary_calibration_error(probs.detach().float().cpu(), labels.detach().long().cpu(), n_bins=n_bins)
    )


@dataclass
class Calibration:
    """What :class:`~dfd.callbacks.calibration.ThresholdCalibration` fits on a validation split.

    ``thresholds`` are on the raw frame fake probability; ``video_thresholds`` on the raw video
    probability (frame probabilities aggregated with ``video_aggregation``), fitted when the
    split had video ids. ``val`` holds diagnostics: NLL and ECE before and after temperature
    scaling, and the sample counts.
    """

    thresholds: dict[str, float]
    temperature: float = 1.0
    precision_target: float = 0.9
    precision_reached: bool = True
    video_thresholds: dict[str, float] = field(default_factory=dict)
    video_aggregation: str = "mean"
    val: dict[str, float] = field(default_factory=dict)
    epoch: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Calibration:
        return cls(**d)


def _fit_thresholds(probs: Tensor, labels: Tensor, precision_target: float) -> tuple[dict[str, float], bool]:
    prec_t, reached = precision_threshold(probs, labels, precision_target)
    return {
        "f1": f1_threshold(probs, labels),
        "youden": youden_threshold(probs, labels),
        "precision": prec_t,
    }, reached


def calibrate(
    logits: Tensor,
    labels: Tensor,
    video_idx: Tensor | None = None,
    precision_target: float = 0.9,
    temperature: bool = True,
    video_aggregation: str = "mean",
    n_bins: int = 15,
) -> Calibration:
    """Fit every threshold (frame and, with ``video_idx``, video level) and the temperature on
    validation logits and labels."""
    from dfd.metrics.detection import aggregate_video, fake_logit  # detection imports nothing from here

    z = fake_logit(logits)
    y = labels.detach().flatten().long().cpu()
    if y.unique().numel() < 2:
        raise ValueError(
            f"calibration needs both real and fake validation samples, got only label {int(y[0])}; "
            "check the validation split of your data config"
        )
    probs = torch.sigmoid(z)
    thresholds, reached = _fit_thresholds(probs, y, precision_target)
    video_thresholds: dict[str, float] = {}
    n_videos = 0
    if video_idx is not None:
        vp, vl, ids = aggregate_video(probs, y, video_idx, video_aggregation)  # type: ignore[arg-type]
        n_videos = int(ids.numel())
        if vl.unique().numel() == 2:
            video_thresholds, _ = _fit_thresholds(vp, vl, precision_target)
    t = fit_temperature(z, y) if temperature else 1.0
    return Calibration(
        thresholds=thresholds,
        temperature=t,
        precision_target=precision_target,
        precision_reached=reached,
        video_thresholds=video_thresholds,
        video_aggregation=video_aggregation,
        val={
            "n": int(y.numel()),
            "n_videos": n_videos,
            "nll": nll(z, y),
            "nll_temperature": nll(z, y, t),
            "ece": expected_calibration_error(probs, y, n_bins),
            "ece_temperature": expected_calibration_error(torch.sigmoid(z / t), y, n_bins),
        },
    )


def resolve_threshold(choice: str | float, calibration: Calibration | None, level: str = "frame") -> float:
    """The decision threshold on the raw fake probability for a threshold choice.

    ``choice`` is a number in [0, 1] (e.g. 0.5), one of ``f1``, ``youden``, ``precision`` (the
    fitted thresholds of ``level`` "frame" or "video"), or ``temperature``: 0.5 on temperature-
    scaled probabilities, which is the same decision as 0.5 on raw ones.
    """
    try:
        value = float(choice)
    except (TypeError, ValueError):
        value = None
    if value is not None:
        if not 0 <= value <= 1:
            raise ValueError(f"threshold={choice} is outside [0, 1]")
        return value
    if choice not in THRESHOLD_CHOICES:
        raise ValueError(
            f"threshold={choice!r} is not a number in [0, 1] nor one of {', '.join(THRESHOLD_CHOICES)}"
        )
    if calibration is None:
        raise ValueError(
            f"threshold={choice} needs a calibration, but the checkpoint has none; train with the "
            "ThresholdCalibration callback (callbacks=default) or use threshold=0.5"
        )
    if choice == "temperature":
        return 0.5
    table = calibration.video_thresholds if level == "video" else calibration.thresholds
    if choice not in table:  # no video ids in validation: fall back to the frame threshold
        table = calibration.thresholds
    return float(table[choice])
