"""Learning-rate schedules of ``dfd.models.schedulers``."""

from __future__ import annotations

import pytest
import torch

from dfd.models.schedulers import constant_then_linear


def lrs(scheduler_factory, epochs: int) -> list[float]:
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1e-3)
    scheduler = scheduler_factory(optimizer)
    out = []
    for _ in range(epochs):
        out.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return out + [optimizer.param_groups[0]["lr"]]


def test_constant_then_linear_holds_for_three_quarters_then_falls_to_zero():
    values = lrs(lambda o: constant_then_linear(o, max_epochs=100), 100)
    assert values[:76] == pytest.approx([1e-3] * 76)
    # the SBI recipe: lr - lr/25 per epoch after epoch 75
    assert values[76] == pytest.approx(1e-3 - 1e-3 / 25)
    assert values[87] == pytest.approx(1e-3 * (100 - 87) / 25)
    assert values[100] == pytest.approx(0.0, abs=1e-12)
    assert all(a >= b for a, b in zip(values, values[1:], strict=False))


def test_constant_then_linear_refuses_a_fraction_outside_zero_to_one():
    with pytest.raises(ValueError, match=r"model\.scheduler\.decay_fraction"):
        lrs(lambda o: constant_then_linear(o, max_epochs=10, decay_fraction=0.0), 1)
    assert lrs(lambda o: constant_then_linear(o, max_epochs=4, decay_fraction=1.0), 4)[:5] == pytest.approx(
        [1e-3, 7.5e-4, 5e-4, 2.5e-4, 0.0]
    )
