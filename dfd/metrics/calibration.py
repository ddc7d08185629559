"""Decision thresholds and probability calibration fitted on validation outputs.

A detector trained on balanced crops rarely has its best operating point at 0.5, and deep nets
are over-confident (Guo et al., "On Calibration of Modern Neural Networks", ICML 2017,
arXiv:1706.04599). From the validation split we fit:

- the F1-optimal threshold;
- Youden's J threshold, maximising ``tpr - fpr`` (Youden, "Index for rating diagnostic tests",
  Cancer 3(1), 1950);
- the lowest threshold whose precision is at least a target (highest recall at that precision);
- a temperature ``T`` for temperature scaling (Guo et al. 2017): ``p = sigmoid(z / T)``, fitted
  by minimising the validation negative log-likelihood with L-BFGS under a weak prior, bounded,
  and not fitted at all when validation is separable (see :func:`fit_temperature`).

Video thresholds are fitted once per video aggregation, on validation videos aggregated that
way, so a report never applies a threshold fitted for ``mean`` to ``max`` scores.

Thresholds are midpoints between consecutive distinct scores, so the decision is the same
whether a consumer uses ``prob > t`` (torchmetrics) or ``prob >= t`` (scikit-learn curves).
Temperature scaling never moves the decision at 0.5 (``sigmoid(z / T) > 0.5`` iff ``z > 0``); it
changes log-loss and calibration, which is why the reports show both.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor
from torchmetrics.functional.classification import binary_calibration_error

from dfd.core.safe_load import load_torch_file
from dfd.metrics.detection import AGGREGATIONS, ConfidentStrategy, aggregate_video, fake_logit

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
            f"precision target must be in (0, 1], got {target}; set callbacks.threshold_calibration.precision_target"
        )
    s = threshold_sweep(probs, labels)
    predicted = (s.tp + s.fp) > 0
    ok = predicted & (s.precision >= target)
    if ok.any():
        recall = torch.where(ok, s.recall, torch.full_like(s.recall, -1.0))
        return float(s.thresholds[int(torch.argmax(recall))]), True
    prec = torch.where(predicted, s.precision, torch.full_like(s.precision, -1.0))
    return float(s.thresholds[int(torch.argmax(prec))]), False


#: Temperatures are kept in this range: outside it the fit only reflects too little validation data.
TEMPERATURE_BOUNDS = (0.05, 20.0)


@dataclass(frozen=True)
class TemperatureFit:
    """A fitted temperature, whether it is applied, and why not when it is not."""

    temperature: float
    fitted: bool
    note: str = ""


def is_separable(logits: Tensor, labels: Tensor) -> bool:
    """Whether every fake scores above every real: then any ``T -> 0`` drives the NLL to zero."""
    z = logits.detach().flatten().double().cpu()
    y = labels.detach().flatten().bool().cpu()
    return bool(y.any() and (~y).any() and z[y].min() > z[~y].max())


def fit_temperature(
    logits: Tensor,
    labels: Tensor,
    max_iter: int = 100,
    bounds: tuple[float, float] = TEMPERATURE_BOUNDS,
    prior_weight: float = 1.0,
) -> TemperatureFit:
    """Temperature ``T`` for ``sigmoid(z / T)`` fitted on validation fake logits ``z`` (Guo et al. 2017).

    The fit minimises the mean NLL plus a weak Gaussian prior on ``log T`` centred on 1
    (``prior_weight × (log T)² / 2n``), with L-BFGS on ``log T`` so that ``T`` stays positive, and
    is clipped to ``bounds``. The prior matters only where the data cannot decide:

    - on a perfectly separable validation split the NLL falls to zero as ``T -> 0``, so any
      temperature it gave would be an artefact (the demo's 0.013 made test log-loss seven times
      worse): the temperature is then *not fitted* (``T = 1``) and the note says why;
    - logits without signal (or of the wrong sign) push ``T -> inf``: the bound stops it, and the
      note says so.
    """
    z = logits.detach().flatten().double().cpu()
    y = labels.detach().flatten().double().cpu()
    n = max(1, z.numel())
    if is_separable(z, y):
        return TemperatureFit(
            1.0,
            False,
            "validation is perfectly separable (every fake scores above every real), so its "
            "log-likelihood keeps improving as T -> 0: no temperature is supported; probabilities stay unscaled",
        )
    log_t = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([log_t], lr=0.1, max_iter=max_iter, line_search_fn="strong_wolfe")

    def closure() -> Tensor:
        opt.zero_grad()
        loss = F.binary_cross_entropy_with_logits(z / log_t.exp(), y) + prior_weight * log_t.pow(2).sum() / (
            2 * n
        )
        loss.backward()
        return loss

    opt.step(closure)
    t = float(log_t.detach().exp())
    if math.isnan(t):
        return TemperatureFit(1.0, False, "the temperature fit did not converge; probabilities stay unscaled")
    clipped = min(max(t, bounds[0]), bounds[1])
    note = (
        "" if clipped == t else f"the fitted temperature {t:.3g} was clipped to {clipped:g} (bounds {bounds})"
    )
    return TemperatureFit(clipped, True, note)


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

    ``thresholds`` are on the raw frame fake probability. ``video_thresholds`` maps each video
    aggregation (``mean``, ``max``, ``confident``) to its thresholds on the raw video
    probability, each fitted on validation videos aggregated that way, so a threshold is always
    applied to the aggregation it was fitted for; ``video_aggregation`` is the default one and
    ``confident`` the parameters of the ``confident`` rule. ``temperature_fitted`` is false (and
    ``temperature`` 1) when validation cannot support a temperature; ``temperature_note`` says
    why. ``val`` holds diagnostics: NLL and ECE before and after temperature scaling, and the
    sample counts.
    """

    thresholds: dict[str, float]
    temperature: float = 1.0
    precision_target: float = 0.9
    precision_reached: bool = True
    video_thresholds: dict[str, dict[str, float]] = field(default_factory=dict)
    video_aggregation: str = "mean"
    val: dict[str, float] = field(default_factory=dict)
    epoch: int | None = None
    temperature_fitted: bool = True
    temperature_note: str = ""
    confident: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Calibration:
        d = dict(d)
        video = d.get("video_thresholds") or {}
        if video and all(isinstance(v, int | float) for v in video.values()):
            # dfd 0.1 checkpoints: one table, fitted for their one aggregation
            d["video_thresholds"] = {d.get("video_aggregation", "mean"): dict(video)}
        return cls(**d)

    def confident_strategy(self) -> ConfidentStrategy:
        """The ``confident`` rule these thresholds were fitted with."""
        return ConfidentStrategy(**self.confident) if self.confident else ConfidentStrategy()


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
    confident: ConfidentStrategy | None = None,
) -> Calibration:
    """Fit every threshold (frame and, with ``video_idx``, video level for every aggregation) and
    the temperature on validation logits and labels."""
    z = fake_logit(logits)
    y = labels.detach().flatten().long().cpu()
    if y.unique().numel() < 2:
        raise ValueError(
            f"calibration needs both real and fake validation samples, got only label {int(y[0])}; "
            "check the validation split of your data config"
        )
    if video_aggregation not in AGGREGATIONS:
        raise ValueError(
            f"video_aggregation={video_aggregation!r}: expected one of {AGGREGATIONS} "
            "(callbacks.threshold_calibration.video_aggregation)"
        )
    confident = confident or ConfidentStrategy()
    probs = torch.sigmoid(z)
    thresholds, reached = _fit_thresholds(probs, y, precision_target)
    video_thresholds: dict[str, dict[str, float]] = {}
    n_videos = 0
    if video_idx is not None:
        for agg in AGGREGATIONS:
            vp, vl, ids = aggregate_video(probs, y, video_idx, agg, confident)  # type: ignore[arg-type]
            n_videos = int(ids.numel())
            if vl.unique().numel() == 2:
                video_thresholds[agg], _ = _fit_thresholds(vp, vl, precision_target)
    fit = fit_temperature(z, y) if temperature else TemperatureFit(1.0, False, "temperature scaling is off")
    t = fit.temperature
    return Calibration(
        thresholds=thresholds,
        temperature=t,
        precision_target=precision_target,
        precision_reached=reached,
        video_thresholds=video_thresholds,
        video_aggregation=video_aggregation,
        temperature_fitted=fit.fitted,
        temperature_note=fit.note,
        confident=asdict(confident),
        val={
            "n": int(y.numel()),
            "n_videos": n_videos,
            "nll": nll(z, y),
            "nll_temperature": nll(z, y, t),
            "ece": expected_calibration_error(probs, y, n_bins),
            "ece_temperature": expected_calibration_error(torch.sigmoid(z / t), y, n_bins),
        },
    )


def resolve_threshold(
    choice: str | float, calibration: Calibration | None, level: str = "frame", aggregation: str | None = None
) -> float:
    """The decision threshold on the raw fake probability for a threshold choice.

    ``choice`` is a number in [0, 1] (e.g. 0.5), one of ``f1``, ``youden``, ``precision`` (the
    thresholds fitted for ``level`` "frame", or "video" with ``aggregation``, by default the
    calibration's), or ``temperature``: 0.5 on temperature-scaled probabilities, which is the
    same decision as 0.5 on raw ones.
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
    if level != "video":
        return float(calibration.thresholds[choice])
    aggregation = aggregation or calibration.video_aggregation
    table = calibration.video_thresholds.get(aggregation)
    if table is None:
        raise ValueError(
            f"the checkpoint has no video thresholds fitted for video_aggregation={aggregation} "
            f"(it has {sorted(calibration.video_thresholds) or 'none'}): evaluate with one of those, "
            "or with threshold=<number>"
        )
    return float(table[choice])


#: where a checkpoint keeps its calibration (written by :class:`~dfd.callbacks.calibration.ThresholdCalibration`)
CHECKPOINT_KEY = "calibration"


def load_calibration(
    ckpt_path: str | Path, allow_pickle: bool = False, opt_in: str = "allow_pickle=true"
) -> Calibration | None:
    """The calibration stored in a checkpoint, or ``None`` when it was trained without one."""
    checkpoint = load_torch_file(ckpt_path, allow_pickle, opt_in)
    data = checkpoint.get(CHECKPOINT_KEY)
    return Calibration.from_dict(data) if data else None
