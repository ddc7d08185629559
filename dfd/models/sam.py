"""Sharpness-Aware Minimization (SAM): a ``torch.optim.Optimizer`` around a base optimizer.

Foret, Kleiner, Mobahi, Neyshabur, "Sharpness-Aware Minimization for Efficiently Improving
Generalization", ICLR 2021, https://arxiv.org/abs/2010.01412, Algorithm 1. Each step takes two
gradients through the closure: ``g = ∇L(w)``, then the ascent to the worst point within radius
``rho`` of ``w``, ``ε = rho · g / ||g||₂`` (the norm over every parameter), and the gradient
there, ``∇L(w + ε)``, with which the base optimizer updates the *original* ``w``. The adaptive
variant (``adaptive=True``) is ASAM (Kwon, Kim, Park, Choi, "ASAM: Adaptive Sharpness-Aware
Minimization for Scale-Invariant Learning of Deep Neural Networks", ICML 2021,
https://arxiv.org/abs/2102.11600): ``ε = rho · T² g / ||T g||₂`` with ``T = |w|`` per element.
Self-Blended Images trains EfficientNet-B4 with SAM over SGD (Shiohara & Yamasaki, CVPR 2022,
https://arxiv.org/abs/2204.08376), ``conf/model/optimizer/sam.yaml``.

Lightning's automatic optimisation hands ``step`` a closure that runs ``training_step`` and the
backward pass (zeroing the gradients first), so SAM works with any LightningModule; during the
second call :attr:`SAM.perturbed` is true, so a module can skip logging the perturbed loss.
BatchNorm layers see both passes (their running statistics move twice per step, as in the
paper's own implementation). Under ``trainer.precision=16-mixed`` Lightning's GradScaler calls
``step`` without a closure, which SAM cannot work with (it refuses, naming the fix).

The optimizer's state *is* the base optimizer's: ``state_dict`` and ``load_state_dict`` are the
base's (SAM keeps nothing between steps), and the parameter groups and per-parameter state are
shared objects, so learning-rate schedulers, checkpoints and exact resume see one optimizer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch.optim import Optimizer

#: The fix named when SAM gets no closure (Lightning's GradScaler path under 16-mixed).
PRECISION_FIX = "trainer.precision=bf16-mixed or trainer.precision=32"


class SAM(Optimizer):
    """SAM (or ASAM with ``adaptive=True``) around ``base_optimizer``.

    Args:
        params: parameters or parameter groups, as for any optimizer.
        base_optimizer: the optimizer class (or partial) that makes the update, e.g. ``torch.optim.SGD``.
        rho: radius of the neighbourhood (paper: 0.05; ASAM uses larger values, e.g. 0.5-2).
        adaptive: scale the ascent by ``|w|`` per element (ASAM).
        **kwargs: the base optimizer's arguments (``lr``, ``momentum``, ...).
    """

    def __init__(
        self,
        params: Iterable[Any],
        base_optimizer: Callable[..., Optimizer] = torch.optim.SGD,
        rho: float = 0.05,
        adaptive: bool = False,
        **kwargs: Any,
    ) -> None:
        if not rho >= 0:
            raise ValueError(f"SAM's rho must be >= 0 (paper: 0.05), got {rho}; set model.optimizer.rho")
        super().__init__(params, {"rho": float(rho), "adaptive": bool(adaptive), **kwargs})
        # the base optimizer is built on the very same group dicts, so an lr a scheduler sets is the base's
        self.base_optimizer = base_optimizer(self.param_groups, **kwargs)
        self._share_base()
        #: true while the closure runs at the perturbed weights (the second pass of a step)
        self.perturbed = False

    def _share_base(self) -> None:
        self.param_groups = self.base_optimizer.param_groups
        self.state = self.base_optimizer.state
        self.defaults = {**self.base_optimizer.defaults, **self.defaults}

    @torch.no_grad()
    def ascent(self) -> dict[torch.Tensor, torch.Tensor]:
        """Move every parameter with a gradient to ``w + ε``; returns the original values."""
        norms = []
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    scale = p.abs() if group["adaptive"] else 1.0
                    norms.append((scale * p.grad).norm(p=2).to(p.device))
        if not norms:
            return {}
        device = norms[0].device
        grad_norm = torch.stack([n.to(device) for n in norms]).norm(p=2)
        saved = {}
        for group in self.param_groups:
            factor = group["rho"] / (grad_norm + 1e-12)
            for p in group["params"]:
                if p.grad is None:
                    continue
                saved[p] = p.detach().clone()
                e = p.grad * factor.to(p.device)
                if group["adaptive"]:
                    e = e * p.pow(2)
                p.add_(e)
        return saved

    @torch.no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:  # type: ignore[override]
        """One SAM step: ``closure()`` at ``w``, the ascent, ``closure()`` at ``w + ε``, back to
        ``w``, then the base optimizer's step with the second gradients; returns the first loss."""
        if closure is None:
            raise ValueError(
                "SAM needs a closure (two forward-backward passes per step), and got none: Lightning's "
                f"16-mixed GradScaler steps without one; use {PRECISION_FIX}"
            )
        closure = torch.enable_grad()(closure)
        loss = closure()
        saved = self.ascent()
        self.perturbed = True
        try:
            closure()
        finally:
            self.perturbed = False
            for p, value in saved.items():
                p.copy_(value)
        self.base_optimizer.step()
        return loss

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.base_optimizer.zero_grad(set_to_none=set_to_none)

    def state_dict(self) -> dict[str, Any]:
        """The base optimizer's state (momentum buffers, groups with their ``rho`` and ``adaptive``)."""
        return self.base_optimizer.state_dict()

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.base_optimizer.load_state_dict(state_dict)
        self._share_base()  # loading replaces the base's group and state objects
