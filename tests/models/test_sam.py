"""SAM: one step equals Foret et al.'s two-step update computed by hand, ASAM's too; its state is
the base optimizer's, so a resumed run continues exactly; Lightning drives it through the closure
(two passes per step), and 16-mixed is refused."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from dfd.models.sam import SAM

X = torch.tensor([[1.0, 2.0], [3.0, -1.0], [0.5, 0.5], [-2.0, 1.0]])
Y = torch.tensor([1.0, -2.0, 0.5, 3.0])


def _grad(w: torch.Tensor) -> torch.Tensor:
    """∇ of mean((Xw - y)²), by hand: 2/n · Xᵀ(Xw - y)."""
    return 2.0 / len(X) * X.T @ (X @ w - Y)


def _sam_step(w0: torch.Tensor, **kwargs) -> torch.Tensor:
    w = torch.nn.Parameter(w0.clone())
    opt = SAM([w], torch.optim.SGD, lr=0.1, **kwargs)

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = ((X @ w - Y) ** 2).mean()
        loss.backward()
        return loss

    opt.step(closure)
    return w.detach()


def test_one_step_is_the_gradient_at_the_ascended_point_applied_to_the_original_weights() -> None:
    w0 = torch.tensor([0.3, -0.7])
    g = _grad(w0)
    e = 0.05 * g / g.norm()
    expected = w0 - 0.1 * _grad(w0 + e)
    assert torch.allclose(_sam_step(w0, rho=0.05), expected, atol=1e-6)
    assert not torch.allclose(expected, w0 - 0.1 * g, atol=1e-4)  # not plain SGD
    # ASAM: the ascent scaled per weight by |w|
    e = 0.5 * w0**2 * g / (w0.abs() * g).norm()
    assert torch.allclose(_sam_step(w0, rho=0.5, adaptive=True), w0 - 0.1 * _grad(w0 + e), atol=1e-6)


def _momentum_run(steps: int, state: dict | None = None, w0: torch.Tensor | None = None):
    w = torch.nn.Parameter(torch.tensor([0.3, -0.7]) if w0 is None else w0.clone())
    opt = SAM([w], torch.optim.SGD, lr=0.05, momentum=0.9, rho=0.05)
    if state is not None:
        opt.load_state_dict(state)

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = ((X @ w - Y) ** 2).mean()
        loss.backward()
        return loss

    for _ in range(steps):
        opt.step(closure)
    return w.detach(), opt


def test_the_state_is_the_base_optimizers_and_a_resumed_run_continues_exactly() -> None:
    straight, _ = _momentum_run(5)
    halfway, opt = _momentum_run(3)
    state = opt.state_dict()
    assert state["param_groups"][0]["rho"] == 0.05 and "momentum_buffer" in state["state"][0]
    resumed, opt2 = _momentum_run(2, state=state, w0=halfway)
    assert torch.equal(resumed, straight)
    # after loading, SAM's groups and state are the base's objects: a scheduler's lr reaches SGD
    assert opt2.param_groups is opt2.base_optimizer.param_groups and opt2.state is opt2.base_optimizer.state
    torch.optim.lr_scheduler.LambdaLR(opt2, lambda epoch: 0.5)  # sets lr = 0.5 × initial at once
    assert opt2.base_optimizer.param_groups[0]["lr"] == pytest.approx(0.025)


def test_no_closure_and_16_mixed_are_refused_naming_the_precisions_that_work() -> None:
    w = torch.nn.Parameter(torch.zeros(2))
    with pytest.raises(ValueError, match="bf16-mixed or trainer.precision=32"):
        SAM([w], torch.optim.SGD, lr=0.1).step()
    from dfd.models.detector_module import DetectorModule
    from dfd.models.nets.mesonet import Meso4

    module = DetectorModule(
        Meso4(input_size=64), optimizer=lambda params: SAM(params, torch.optim.SGD, lr=0.1)
    )
    module._trainer = SimpleNamespace(precision="16-mixed", optimizers=[])
    with pytest.raises(ValueError, match=r"trainer.precision=16-mixed.*bf16-mixed or trainer.precision=32"):
        module.configure_optimizers()
    module._trainer = SimpleNamespace(precision="bf16-mixed", optimizers=[], accumulate_grad_batches=2)
    with pytest.raises(ValueError, match=r"accumulate_grad_batches=2.*set trainer.accumulate_grad_batches=1"):
        module.configure_optimizers()


def test_a_lightning_fit_with_model_optimizer_sam_takes_two_passes_per_step(make_cfg) -> None:
    import lightning as L

    from dfd.config.instantiate import instantiate

    passes: list[bool] = []

    class Count(L.Callback):
        def on_train_start(self, trainer, module) -> None:
            step = module.training_step

            def counted(*args, **kwargs):
                passes.append(trainer.optimizers[0].perturbed)
                return step(*args, **kwargs)

            module.training_step = counted

    cfg = make_cfg(["model/optimizer=sam", "model.net.input_size=64"])
    model = instantiate(cfg.model, loss=instantiate(cfg.loss))
    datamodule = instantiate(cfg.data)
    datamodule.set_input_spec(model.net.input_spec)
    trainer = L.Trainer(
        accelerator="cpu", max_epochs=1, limit_train_batches=3, limit_val_batches=0, logger=False,
        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False, callbacks=[Count()],
    )  # fmt: skip
    before = [p.detach().clone() for p in model.net.parameters()]
    trainer.fit(model, datamodule=datamodule)
    assert isinstance(trainer.optimizers[0], SAM)
    assert passes == [False, True] * 3  # each step: at w, then at the ascended weights
    assert trainer.global_step == 3
    assert any(not torch.equal(a, b) for a, b in zip(before, model.net.parameters(), strict=True))
    sgd_state = trainer.optimizers[0].state_dict()["state"]
    assert sgd_state and all("momentum_buffer" in s for s in sgd_state.values())
