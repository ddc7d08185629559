"""DetectorModule: the resume check compares schedules, nested ones too."""

from __future__ import annotations

import torch


def test_schedule_changes_looks_inside_sequential_schedulers() -> None:
    from dfd.models.detector_module import schedule_changes
    from dfd.models.schedulers import cosine_with_warmup

    def state(max_epochs: int) -> dict:
        opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
        return cosine_with_warmup(opt, warmup_epochs=1, max_epochs=max_epochs).state_dict()

    assert schedule_changes(state(10), state(10)) == {}
    assert schedule_changes(state(10), state(20)) == {"schedulers[1].T_max": (9, 19)}


def test_channels_last_keeps_weights_and_inputs_nhwc_and_the_outputs() -> None:
    from dfd.models.detector_module import DetectorModule
    from dfd.models.nets.mesonet import Meso4

    torch.manual_seed(0)
    net = Meso4()
    x = torch.rand(2, 3, 256, 256)  # Meso4 is built for 256 px
    plain = DetectorModule(net, optimizer=torch.optim.Adam).eval()
    expected = plain(x)
    module = DetectorModule(net, optimizer=torch.optim.Adam, channels_last=True).eval()
    conv = next(m for m in module.net.modules() if isinstance(m, torch.nn.Conv2d))
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    assert not conv.weight.is_contiguous()  # really NHWC, not a 1x1 kernel that is both
    seen = []
    conv.register_forward_pre_hook(
        lambda _m, args: seen.append(args[0].is_contiguous(memory_format=torch.channels_last))
    )
    assert torch.allclose(module(x), expected, atol=1e-5) and seen == [True]


def test_eval_store_keeps_sample_and_video_ids_above_2_pow_24() -> None:
    """Ids past float32's 24-bit mantissa stay distinct: as float32, 2**24 + 1 became 2**24 and
    2**24 + 3 became 2**24 + 4, so distinct samples were dropped as padding copies."""
    from dfd.models.detector_module import EvalStore

    big = 2**24
    store = EvalStore()
    index = torch.tensor([big, big + 1, big + 3])
    store.update(torch.zeros(3, 1), torch.tensor([0, 1, 1]), torch.tensor([big + 1, big + 2, big + 3]), index)
    store.update(
        torch.ones(1, 1), torch.tensor([1]), torch.tensor([big + 2]), torch.tensor([big + 1])
    )  # a copy
    out = store.compute()
    assert out["index"].dtype == out["video_idx"].dtype == torch.int64
    assert out["index"].tolist() == [big, big + 1, big + 3]
    assert out["video_idx"].tolist() == [big + 1, big + 2, big + 3]
    assert out["logits"][:, 0].tolist() == [0.0, 0.0, 0.0]  # the copy is dropped, not a sample
    store.reset()
    store.update(torch.zeros(2, 1), torch.tensor([0, 1]), torch.tensor([7, 8]))  # no index: a running count
    assert store.compute()["index"].tolist() == [0, 1]


def _localizing_module(mask_weight: float = 1.0):
    from dfd.models.detector_module import DetectorModule
    from dfd.models.losses import BCELoss
    from dfd.models.nets.mesonet import Meso4

    torch.manual_seed(0)
    net = Meso4(input_size=64, dropout=0.0, localization=True)
    return DetectorModule(
        net, optimizer=torch.optim.SGD, loss=BCELoss(mask_weight=mask_weight), localization=True
    )


def _grads(module, batch) -> dict[str, torch.Tensor]:
    module.zero_grad()
    module.log = lambda *a, **k: None  # no trainer attached
    module.training_step(batch, 0).backward()
    return {k: p.grad.clone() for k, p in module.named_parameters() if p.grad is not None}


def test_the_mask_loss_trains_the_head_only_on_batches_with_a_mask() -> None:
    module = _localizing_module(mask_weight=2.0).train()
    g = torch.Generator().manual_seed(1)
    image = torch.rand(4, 3, 64, 64, generator=g)
    label = torch.tensor([0.0, 1.0, 0.0, 1.0])
    mask = torch.zeros(4, 1, 64, 64)
    mask[[1, 3], :, 16:48, 16:48] = 0.8
    without = _grads(module, {"image": image, "label": label})
    with_mask = _grads(module, {"image": image, "label": label, "mask": mask})
    assert "net.mask_head.conv.weight" not in without  # no mask: the head takes no part
    assert with_mask["net.mask_head.conv.weight"].abs().sum() > 0
    # the backbone's gradients change by exactly mask_weight × the pixel loss's
    module.zero_grad()
    _, mask_logits = module.net.forward_with_mask(image)
    module.loss_fn.mask_loss(mask_logits, mask).backward()
    conv = "net.backbone.0.0.weight"
    pixel = module.net.backbone[0][0].weight.grad
    assert torch.allclose(with_mask[conv], without[conv] + 2.0 * pixel, atol=1e-5)


def test_localization_needs_a_net_with_the_head() -> None:
    import pytest

    from dfd.models.detector_module import DetectorModule
    from dfd.models.nets.audio_cnn import AudioCNN
    from dfd.models.nets.mesonet import Meso4

    with pytest.raises(
        ValueError, match=r"Meso4 cannot predict a blend mask \(it was built without one.*Xception"
    ):
        DetectorModule(Meso4(input_size=64), optimizer=torch.optim.SGD, localization=True)
    with pytest.raises(
        ValueError, match="AudioCNN cannot predict a blend mask .it has no spatial feature map"
    ):
        DetectorModule(AudioCNN(), optimizer=torch.optim.SGD, localization=True)


def test_model_localization_switches_the_module_and_the_net_in_every_image_model_config(make_cfg) -> None:
    import pytest

    from dfd.config.instantiate import instantiate

    cfg = make_cfg(["model.localization=true", "loss.mask_weight=0.5", "model.net.input_size=64"])
    module = instantiate(cfg.model, loss=instantiate(cfg.loss))
    assert module.hparams.localization and module.net.localization and module.loss_fn.mask_weight == 0.5
    for name in ("xception", "efficientnet_b4", "f3net", "meso_inception", "timm", "hybrid_vit_cnn"):
        assert make_cfg([f"model={name}", "model.localization=true"]).model.net.localization is True
    audio = make_cfg(["model=audio_only", "model.localization=true", "data=synthetic_av"])
    with pytest.raises(
        ValueError, match="AudioCNN cannot predict a blend mask .it has no spatial feature map"
    ):
        instantiate(audio.model, loss=instantiate(audio.loss))
