"""Learning-rate schedules that torch does not ship as one class.

``cosine_with_warmup``: linear warm-up, then cosine annealing (Loshchilov & Hutter, "SGDR:
Stochastic Gradient Descent with Warm Restarts", ICLR 2017; warm-up as in Goyal et al.,
"Accurate, Large Minibatch SGD", 2017), composed from torch's own ``LinearLR``,
``CosineAnnealingLR`` and ``SequentialLR``. Units are scheduler steps: epochs with
``scheduler_interval: epoch``.
"""

from __future__ import annotations

from torch.optim import Optimizer
from torch.optim.lr_scheduler import CosineAnnealingLR, LinearLR, LRScheduler, SequentialLR

__all__ = ["cosine_with_warmup"]


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
