"""Losses: each equals a direct computation on fixed tensors; pos_weight derivation; shape checks."""

from __future__ import annotations

import math

import pytest
import torch

from dfd.models.losses import (
    BCELoss,
    ClassCountAware,
    CrossEntropyLoss,
    FocalLoss,
    WeightedBCELoss,
    pos_weight_from_counts,
)

LOGITS = torch.tensor([[2.0], [-1.0], [0.5], [-3.0]])
TARGET = torch.tensor([1.0, 1.0, 0.0, 0.0])


def _direct_focal(logits: torch.Tensor, target: torch.Tensor, alpha: float, gamma: float) -> float:
    """Lin et al. (2017), eq. 5, written out element by element in plain Python."""
    total = 0.0
    for z, y in zip(logits[:, 0].tolist(), target.tolist(), strict=True):
        p = 1.0 / (1.0 + math.exp(-z))
        p_t = p if y == 1 else 1.0 - p
        alpha_t = alpha if y == 1 else 1.0 - alpha
        total += -alpha_t * (1.0 - p_t) ** gamma * math.log(p_t)
    return total / len(target)


@pytest.mark.parametrize(("alpha", "gamma"), [(0.25, 2.0), (0.5, 0.0), (0.75, 3.0)])
def test_focal_equals_direct_computation(alpha: float, gamma: float) -> None:
    got = FocalLoss(alpha=alpha, gamma=gamma)(LOGITS, TARGET).item()
    assert got == pytest.approx(_direct_focal(LOGITS, TARGET, alpha, gamma), rel=1e-6)


def test_focal_default_is_lin_et_al_and_downweights_easy_examples() -> None:
    loss = FocalLoss()
    assert (loss.alpha, loss.gamma) == (0.25, 2.0)
    easy = loss(torch.tensor([[6.0]]), torch.tensor([1.0])).item()
    hard = loss(torch.tensor([[-1.0]]), torch.tensor([1.0])).item()
    bce = BCELoss()
    # focusing factor (1 - p_t)^gamma shrinks the easy example far more than the hard one
    assert easy / bce(torch.tensor([[6.0]]), torch.tensor([1.0])).item() < 1e-4
    assert hard / bce(torch.tensor([[-1.0]]), torch.tensor([1.0])).item() > 0.1


def test_bce_matches_formula_with_label_smoothing() -> None:
    s = 0.2
    got = BCELoss(label_smoothing=s)(LOGITS, TARGET).item()
    expected = 0.0
    for z, y in zip(LOGITS[:, 0].tolist(), TARGET.tolist(), strict=True):
        t = y * (1 - s) + s / 2
        p = 1 / (1 + math.exp(-z))
        expected += -(t * math.log(p) + (1 - t) * math.log(1 - p))
    assert got == pytest.approx(expected / 4, rel=1e-6)


def test_ce_matches_formula_and_smoothing_agrees_with_bce_targets() -> None:
    logits2 = torch.tensor([[0.0, 2.0], [1.0, 0.0], [0.3, -0.2]])
    target = torch.tensor([1.0, 1.0, 0.0])
    log_p = torch.log_softmax(logits2, dim=1)
    expected = -(log_p[0, 1] + log_p[1, 1] + log_p[2, 0]) / 3
    assert CrossEntropyLoss()(logits2, target).item() == pytest.approx(expected.item(), rel=1e-6)
    # a 2-logit head [0, z] is a sigmoid on z: CE and BCE agree, also with label smoothing
    z = torch.tensor([[1.5], [-0.7], [0.2]])
    two = torch.cat([torch.zeros_like(z), z], dim=1)
    for s in (0.0, 0.1):
        assert CrossEntropyLoss(label_smoothing=s)(two, target).item() == pytest.approx(
            BCELoss(label_smoothing=s)(z, target).item(), rel=1e-5
        )


def test_pos_weight_from_counts_and_weighted_bce() -> None:
    # DFDC-like: 1 real to 5 fakes → fakes are down-weighted by 1/5
    assert pos_weight_from_counts({0: 200, 1: 1000}) == pytest.approx(0.2)
    assert pos_weight_from_counts({0: 900, 1: 100}) == pytest.approx(9.0)
    loss = WeightedBCELoss()
    assert isinstance(loss, ClassCountAware)
    with pytest.raises(RuntimeError, match="set_class_counts"):
        loss(LOGITS, TARGET)
    loss.set_class_counts({0: 200, 1: 1000})
    assert loss.pos_weight == pytest.approx(0.2)
    # with pos_weight w the positive terms are multiplied by w: check against the formula
    expected = 0.0
    for z, y in zip(LOGITS[:, 0].tolist(), TARGET.tolist(), strict=True):
        p = 1 / (1 + math.exp(-z))
        expected += -(0.2 * y * math.log(p) + (1 - y) * math.log(1 - p))
    assert loss(LOGITS, TARGET).item() == pytest.approx(expected / 4, rel=1e-6)


def test_weighted_bce_manual_override_ignores_counts() -> None:
    loss = WeightedBCELoss(pos_weight=3.0)
    loss.set_class_counts({0: 200, 1: 1000})
    assert loss.pos_weight == 3.0
    with pytest.raises(ValueError, match="pos_weight"):
        WeightedBCELoss(pos_weight="balanced")  # type: ignore[arg-type]


def test_pos_weight_needs_both_classes() -> None:
    with pytest.raises(ValueError, match="loss.pos_weight"):
        pos_weight_from_counts({0: 0, 1: 10})


def test_shape_mismatch_names_the_fix() -> None:
    with pytest.raises(ValueError, match="num_classes"):
        CrossEntropyLoss()(LOGITS, TARGET)  # one logit given to the 2-class loss
    with pytest.raises(ValueError, match="num_classes"):
        FocalLoss()(torch.zeros(4, 2), TARGET)
    with pytest.raises(ValueError, match="loss=ce"):
        BCELoss(num_classes=2)


def test_every_loss_takes_soft_targets_as_the_share_of_fake() -> None:
    """MixUp / CutMix targets: a 30 % fake image is scored against 0.3 by each loss."""
    soft = torch.tensor([0.3, 0.7, 0.0, 1.0])
    z = LOGITS[:, 0]
    p = torch.sigmoid(z)
    bce = -(soft * p.log() + (1 - soft) * (1 - p).log()).mean()
    assert BCELoss()(LOGITS, soft).item() == pytest.approx(bce.item(), rel=1e-6)
    two = torch.stack([torch.zeros_like(z), z], dim=1)  # softmax of [0, z] is sigmoid(z) for column 1
    assert CrossEntropyLoss()(two, soft).item() == pytest.approx(bce.item(), rel=1e-5)
    hard = torch.tensor([0.0, 1.0, 0.0, 1.0])
    assert CrossEntropyLoss()(two, hard).item() == pytest.approx(BCELoss()(LOGITS, hard).item(), rel=1e-5)
    # focal: -alpha_t (1 - p_t)^gamma log p_t with p_t, alpha_t interpolated by the soft target
    p_t = p * soft + (1 - p) * (1 - soft)
    alpha_t = 0.25 * soft + 0.75 * (1 - soft)
    ce = torch.nn.functional.binary_cross_entropy_with_logits(z, soft, reduction="none")
    assert FocalLoss()(LOGITS, soft).item() == pytest.approx(
        (alpha_t * (1 - p_t) ** 2 * ce).mean().item(), rel=1e-5
    )
    weighted = WeightedBCELoss(pos_weight=2.0)(LOGITS, soft)
    assert weighted.item() == pytest.approx(
        -(2 * soft * p.log() + (1 - soft) * (1 - p).log()).mean().item(), rel=1e-6
    )


@pytest.mark.parametrize("name", ["BCELoss", "WeightedBCELoss", "CrossEntropyLoss", "FocalLoss"])
def test_every_loss_has_the_pixel_mask_loss_and_its_weight(name: str) -> None:
    import dfd.models.losses as losses

    loss = getattr(losses, name)(mask_weight=3.0)
    logits = torch.tensor([[[[2.0, -1.0], [0.0, 4.0]]]])
    mask = torch.tensor([[[[1.0, 0.0], [0.5, 0.25]]]])
    p = torch.sigmoid(logits)
    by_hand = -(mask * p.log() + (1 - mask) * (1 - p).log()).mean()
    assert loss.mask_weight == 3.0
    assert torch.allclose(loss.mask_loss(logits, mask), by_hand)
    with pytest.raises(ValueError, match="must be \\[B, 1, S, S\\].*model.net.input_size"):
        loss.mask_loss(logits, mask[..., :1])
    with pytest.raises(ValueError, match="loss.mask_weight must be >= 0.*-1"):
        getattr(losses, name)(mask_weight=-1)


def test_the_mask_loss_skips_samples_whose_mask_is_unknown() -> None:
    loss = BCELoss()
    logits = torch.tensor([[[[3.0, -2.0]]], [[[5.0, 5.0]]], [[[-1.0, 1.0]]]])
    mask = torch.tensor([[[[1.0, 0.0]]], [[[0.0, 0.0]]], [[[0.0, 1.0]]]])
    valid = torch.tensor([True, False, True])
    kept = loss.mask_loss(logits[valid], mask[valid])
    assert torch.allclose(loss.mask_loss(logits, mask, valid), kept)
    assert not torch.allclose(loss.mask_loss(logits, mask), kept)  # the unknown one would weigh in as clean
    assert torch.equal(
        loss.mask_loss(logits, mask, torch.ones(3, dtype=torch.bool)), loss.mask_loss(logits, mask)
    )
    none = loss.mask_loss(logits.requires_grad_(), mask, torch.zeros(3, dtype=torch.bool))
    none.backward()
    assert none.item() == 0.0 and logits.grad is not None and not logits.grad.any()
