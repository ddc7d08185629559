"""Training losses for binary real/fake classification, built from the ``loss/`` config group.

Every loss has one interface: ``loss(logits: float[B, C], target: float[B]) -> scalar``,
with ``target`` 0 for real and 1 for fake, or in between: the share of fake of a mixed image
(MixUp and CutMix, ``augment=mixup``), which every loss takes as a soft target. ``C`` is ``num_classes``: 1 (one fake logit) for the
sigmoid losses, 2 (column 1 = fake) for the softmax cross-entropy. Each loss declares the
``num_classes`` it expects, the model config reads it (``model.net.num_classes:
${loss.num_classes}``), and the loss checks the shape it receives, so the two cannot disagree.

- :class:`BCELoss`: binary cross-entropy on one logit, with optional label smoothing
  (Szegedy et al., "Rethinking the Inception Architecture", CVPR 2016) and ``pos_weight``.
- :class:`WeightedBCELoss`: BCE whose ``pos_weight`` is ``n_real / n_fake`` from the training
  split's class counts (He & Garcia, "Learning from Imbalanced Data", TKDE 2009), or a
  manual value.
- :class:`CrossEntropyLoss`: 2-class softmax cross-entropy with optional label smoothing.
- :class:`FocalLoss`: sigmoid focal loss (Lin et al., "Focal Loss for Dense Object
  Detection", ICCV 2017) through :func:`torchvision.ops.sigmoid_focal_loss`.

Losses that need the training split's class counts implement :class:`ClassCountAware`;
``DetectorModule.setup`` hands them ``datamodule.class_counts("train")``.

Every loss also carries ``mask_weight`` (``loss.mask_weight``), the weight of the pixel term a
localising net adds (``model.localization=true``) on batches with a blend mask:
:meth:`mask_loss` is binary cross-entropy with logits per pixel against the soft blend mask
(its alpha in [0, 1]), averaged over pixels, as Face X-ray trains its boundary (Li et al., CVPR
2020, eq. 6, https://arxiv.org/abs/1912.13458; that paper weights it λ = 100 against the label's
BCE; dfd's default 1 keeps the two terms level).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal, Protocol, runtime_checkable

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.ops import sigmoid_focal_loss

__all__ = [
    "BCELoss",
    "ClassCountAware",
    "CrossEntropyLoss",
    "FocalLoss",
    "WeightedBCELoss",
    "pos_weight_from_counts",
    "smooth_binary_targets",
]


@runtime_checkable
class ClassCountAware(Protocol):
    """A loss that derives a parameter from the training split's class counts ``{0: n_real, 1: n_fake}``."""

    def set_class_counts(self, counts: Mapping[int, int]) -> None: ...


def smooth_binary_targets(target: torch.Tensor, smoothing: float) -> torch.Tensor:
    """Label smoothing for a single sigmoid output: 1 → 1 - s/2 and 0 → s/2.

    This is the two-class case of uniform smoothing, so BCE with ``smoothing=s`` and
    cross-entropy with ``label_smoothing=s`` aim at the same probabilities.
    """
    return target * (1.0 - smoothing) + 0.5 * smoothing


def pos_weight_from_counts(counts: Mapping[int, int]) -> float:
    """``pos_weight = n_real / n_fake``: the fake (positive) class is weighted so that both
    classes contribute equally to the BCE sum; below 1 when fakes are the majority (DFDC)."""
    n_real, n_fake = int(counts.get(0, 0)), int(counts.get(1, 0))
    if n_real <= 0 or n_fake <= 0:
        raise ValueError(
            f"cannot derive pos_weight from class counts {dict(counts)}: the training split needs both "
            "real (0) and fake (1) samples; set loss.pos_weight to a number to override"
        )
    return n_real / n_fake


class _BinaryLoss(nn.Module):
    """Shared checks: ``num_classes`` and label smoothing in range, logits of the declared width."""

    expected_num_classes: tuple[int, ...] = (1,)

    def __init__(self, num_classes: int = 1, label_smoothing: float = 0.0, mask_weight: float = 1.0) -> None:
        super().__init__()
        if not mask_weight >= 0:
            raise ValueError(f"loss.mask_weight must be >= 0 (0: no mask loss), got {mask_weight}")
        self.mask_weight = float(mask_weight)
        if num_classes not in self.expected_num_classes:
            raise ValueError(
                f"{type(self).__name__} works on {self.expected_num_classes} logit(s) per sample, got "
                f"num_classes={num_classes}; use loss=ce for a 2-class softmax head"
            )
        if not 0.0 <= label_smoothing < 1.0:
            raise ValueError(f"label_smoothing must be in [0, 1), got {label_smoothing}")
        self.num_classes = num_classes
        self.label_smoothing = float(label_smoothing)

    def _check(self, logits: torch.Tensor, target: torch.Tensor) -> None:
        if logits.ndim != 2 or logits.shape[1] != self.num_classes or logits.shape[0] != target.shape[0]:
            raise ValueError(
                f"{type(self).__name__} expects logits [B, {self.num_classes}] and target [B], got "
                f"{tuple(logits.shape)} and {tuple(target.shape)}; the net's num_classes must equal "
                f"loss.num_classes (model.net.num_classes=${{loss.num_classes}})"
            )

    def mask_loss(
        self, mask_logits: torch.Tensor, mask: torch.Tensor, valid: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Pixel BCE-with-logits of predicted mask logits [B, 1, S, S] against the blend mask
        [B, 1, S, S] in [0, 1], averaged over pixels (unweighted: the caller applies ``mask_weight``).

        ``valid`` [B] (bool): only these samples' pixels count (a fake whose manipulation mask is
        unknown must not teach the head that its face is clean); none valid gives a zero that keeps
        the graph. ``None``: every sample counts (self-blended batches)."""
        if mask_logits.shape != mask.shape:
            raise ValueError(
                f"mask logits {tuple(mask_logits.shape)} and blend mask {tuple(mask.shape)} differ; the "
                "mask must be [B, 1, S, S] at the net's input size (model.net.input_size)"
            )
        if valid is None:
            return F.binary_cross_entropy_with_logits(mask_logits.float(), mask.float())
        keep = valid.to(mask_logits.device).bool().reshape(-1)
        if not keep.any():
            return mask_logits.float().sum() * 0.0
        return F.binary_cross_entropy_with_logits(mask_logits[keep].float(), mask[keep].float())

    def extra_repr(self) -> str:
        return f"num_classes={self.num_classes}, label_smoothing={self.label_smoothing}, mask_weight={self.mask_weight}"


class BCELoss(_BinaryLoss):
    """Binary cross-entropy on one fake logit.

    Args:
        label_smoothing: s in [0, 1); targets become s/2 and 1 - s/2.
        pos_weight: weight of the fake (positive) class in the sum; ``None`` is 1.
        num_classes: must be 1 (one logit per sample).
        mask_weight: weight of :meth:`mask_loss` in a localising net's total (``loss.mask_weight``).
    """

    def __init__(
        self,
        label_smoothing: float = 0.0,
        pos_weight: float | None = None,
        num_classes: int = 1,
        mask_weight: float = 1.0,
    ) -> None:
        super().__init__(num_classes=num_classes, label_smoothing=label_smoothing, mask_weight=mask_weight)
        if pos_weight is not None and not pos_weight > 0:
            raise ValueError(f"pos_weight must be positive, got {pos_weight}")
        self.pos_weight = None if pos_weight is None else float(pos_weight)

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        self._check(logits, target)
        target = smooth_binary_targets(target.to(logits.dtype), self.label_smoothing)
        pos_weight = None
        if self.pos_weight is not None:
            pos_weight = torch.tensor(self.pos_weight, dtype=logits.dtype, device=logits.device)
        return F.binary_cross_entropy_with_logits(logits[:, 0], target, pos_weight=pos_weight)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, pos_weight={self.pos_weight}"


class WeightedBCELoss(BCELoss):
    """BCE with ``pos_weight = n_real / n_fake`` from the training split, or a manual value.

    With ``pos_weight="auto"`` the weight is unresolved until :meth:`set_class_counts` is called
    (``DetectorModule.setup`` does it from ``datamodule.class_counts("train")``); using the loss
    before raises. A number overrides the automatic value and ignores the counts.
    """

    def __init__(
        self,
        pos_weight: float | Literal["auto"] = "auto",
        label_smoothing: float = 0.0,
        num_classes: int = 1,
        mask_weight: float = 1.0,
    ) -> None:
        if isinstance(pos_weight, str) and pos_weight != "auto":
            raise ValueError(f"pos_weight must be 'auto' or a positive number, got {pos_weight!r}")
        fixed = None if pos_weight == "auto" else pos_weight
        super().__init__(
            label_smoothing=label_smoothing,
            pos_weight=fixed,
            num_classes=num_classes,
            mask_weight=mask_weight,
        )
        self.auto = pos_weight == "auto"

    def set_class_counts(self, counts: Mapping[int, int]) -> None:
        """Derive ``pos_weight`` from ``{0: n_real, 1: n_fake}`` unless it was set by hand."""
        if self.auto:
            self.pos_weight = pos_weight_from_counts(counts)

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if self.pos_weight is None:
            raise RuntimeError(
                "WeightedBCELoss(pos_weight='auto') has no class counts yet: call its "
                "set_class_counts(datamodule.class_counts('train')) first (DetectorModule.setup does), "
                "or set loss.pos_weight=<number>"
            )
        return super().forward(logits, target)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, auto={self.auto}"


class CrossEntropyLoss(_BinaryLoss):
    """2-class softmax cross-entropy; column 1 of the logits is the fake class.

    Needs a net with ``num_classes=2``: ``conf/loss/ce.yaml`` sets ``num_classes: 2`` and the
    model config interpolates it.
    """

    expected_num_classes = (2,)

    def __init__(self, label_smoothing: float = 0.0, num_classes: int = 2, mask_weight: float = 1.0) -> None:
        super().__init__(num_classes=num_classes, label_smoothing=label_smoothing, mask_weight=mask_weight)

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        self._check(logits, target)
        if torch.is_floating_point(target) and not torch.equal(target, target.round()):
            # soft targets (MixUp, CutMix): the share of fake, as class probabilities [1 - t, t]
            probs = torch.stack([1.0 - target, target], dim=1).to(logits.dtype)
            return F.cross_entropy(logits, probs, label_smoothing=self.label_smoothing)
        return F.cross_entropy(logits, target.long(), label_smoothing=self.label_smoothing)


class FocalLoss(_BinaryLoss):
    """Sigmoid focal loss ``-alpha_t (1 - p_t)^gamma log(p_t)``, averaged over the batch.

    ``alpha`` weights the fake (positive) class and ``1 - alpha`` the real one; ``gamma``
    down-weights easy examples. Defaults follow Lin et al. (2017): alpha 0.25, gamma 2.0.
    ``alpha < 0`` disables class weighting, as in torchvision.
    """

    def __init__(
        self,
        alpha: float = 0.25,
        gamma: float = 2.0,
        label_smoothing: float = 0.0,
        num_classes: int = 1,
        mask_weight: float = 1.0,
    ) -> None:
        super().__init__(num_classes=num_classes, label_smoothing=label_smoothing, mask_weight=mask_weight)
        if alpha > 1.0:
            raise ValueError(f"alpha must be in [0, 1] (or negative to disable), got {alpha}")
        if gamma < 0.0:
            raise ValueError(f"gamma must be >= 0, got {gamma}")
        self.alpha = float(alpha)
        self.gamma = float(gamma)

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        self._check(logits, target)
        target = smooth_binary_targets(target.to(logits.dtype), self.label_smoothing)
        return sigmoid_focal_loss(logits[:, 0], target, alpha=self.alpha, gamma=self.gamma, reduction="mean")

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, alpha={self.alpha}, gamma={self.gamma}"
