"""Learning-rate schedules that torch does not ship as one class.

``cosine_with_warmup``: linear warm-up, then cosine annealing (Loshchilov & Hutter, "SGDR:
Stochastic Gradient Descent with Warm Restarts", ICLR 2017; warm-up as in Goyal et al.,
"Accurate, Large Minibatch SGD", 2017), composed from torch's own ``LinearLR``,
``CosineAnnealingLR`` and ``SequentialLR``. ``constant_then_linear``: the lr held, then
decayed linearly to zero over the last epochs, as the self-blended images recipe trains
(Shiohara & Yamasaki, CVPR 2022: the last quarter of 100 epochs). Units are scheduler steps:
epochs with ``scheduler_interval: epoch``.
"""

from __future__ import annotations

from torch.optim import Optimizer
from torch.optim.lr_scheduler import ConstantLR, CosineAnnealingLR, LinearLR, LRScheduler, SequentialLR

__all__ = ["ContinuedCosine", "constant_then_linear", "continued_from_state", "cosine_with_warmup"]


def cosine_with_warmup(
    optimizer: Optimizer,
    warmup_epochs: int,
    max_epochs: int,
    warmup_start_factor: float = 0.01,
    eta_min: float = 0.0,
) -> LRScheduler:
    """Ramp the lr linearly from ``warmup_start_factor × lr`` to ``lr`` over ``warmup_epochs``,
    then anneal it along a cosine to ``eta_min`` at ``max_epochs``."""
    if not 0 <= warmup_epochs < max_epochs:
        raise ValueError(
            f"warmup_epochs={warmup_epochs} must be in [0, max_epochs={max_epochs}); "
            "lower model.scheduler.warmup_epochs or raise trainer.max_epochs"
        )
    cosine = CosineAnnealingLR(optimizer, T_max=max_epochs - warmup_epochs, eta_min=eta_min)
    if warmup_epochs == 0:
        return cosine
    warmup = LinearLR(optimizer, start_factor=warmup_start_factor, end_factor=1.0, total_iters=warmup_epochs)
    return SequentialLR(optimizer, schedulers=[warmup, cosine], milestones=[warmup_epochs])


def constant_then_linear(optimizer: Optimizer, max_epochs: int, decay_fraction: float = 0.25) -> LRScheduler:
    """Keep the lr for the first ``1 - decay_fraction`` of ``max_epochs``, then lower it linearly to
    zero at ``max_epochs`` (SBI: held for 75 of 100 epochs)."""
    if not 0 < decay_fraction <= 1:
        raise ValueError(
            f"decay_fraction={decay_fraction} must be in (0, 1] (model.scheduler.decay_fraction)"
        )
    decay_start = int(round(max_epochs * (1 - decay_fraction)))
    decay = LinearLR(
        optimizer, start_factor=1.0, end_factor=0.0, total_iters=max(1, max_epochs - decay_start)
    )
    if decay_start == 0:
        return decay
    hold = ConstantLR(optimizer, factor=1.0, total_iters=decay_start)
    return SequentialLR(optimizer, schedulers=[hold, decay], milestones=[decay_start])


class ContinuedCosine(LRScheduler):
    """A cosine re-planned from where a run stands: from each group's current lr at epoch
    ``start_epoch`` down to ``eta_min`` at ``max_epochs``. Continuous at the start and never
    increasing, so a finished run can be extended (``extend_schedule=true``) without the jump
    or the climb that restoring the old schedule gives.

    Its ``state_dict`` says what it is (``continued_cosine``), so a resumed extended run rebuilds
    it (:func:`continued_from_state`).
    """

    def __init__(
        self,
        optimizer: Optimizer,
        start_epoch: int,
        max_epochs: int,
        start_lrs: list[float],
        eta_min: float = 0.0,
        last_epoch: int = -1,
    ) -> None:
        if max_epochs <= start_epoch:
            raise ValueError(
                f"extend_schedule: trainer.max_epochs={max_epochs} must be larger than the epoch the run "
                f"resumes at ({start_epoch})"
            )
        self.continued_cosine = True
        self.start_epoch, self.max_epochs = int(start_epoch), int(max_epochs)
        self.start_lrs, self.eta_min = [float(x) for x in start_lrs], float(eta_min)
        super().__init__(optimizer, last_epoch if last_epoch >= 0 else start_epoch - 1)

    def get_lr(self) -> list[float]:
        import math

        span = self.max_epochs - self.start_epoch
        t = min(max(self.last_epoch - self.start_epoch, 0), span) / span
        return [
            self.eta_min + (lr - self.eta_min) * 0.5 * (1 + math.cos(math.pi * t)) for lr in self.start_lrs
        ]


def continued_from_state(optimizer: Optimizer, state: dict) -> ContinuedCosine:
    """The :class:`ContinuedCosine` a checkpoint's scheduler state describes."""
    scheduler = ContinuedCosine(optimizer, state["start_epoch"], state["max_epochs"], state["start_lrs"],
                                state["eta_min"], last_epoch=state["last_epoch"])  # fmt: skip
    scheduler.load_state_dict(state)
    return scheduler
