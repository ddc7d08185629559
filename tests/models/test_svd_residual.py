"""Tests of Effort's SVD residual tuning (dfd.models.svd_residual) on tiny random timm ViTs."""

from __future__ import annotations

import pytest
import timm
import torch
from torch import nn

from dfd.models.svd_residual import (
    SVDResidualLinear,
    apply_svd_residual,
    merge_svd_residual,
    svd_losses,
    svd_trainable,
)


def tiny_vit(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return timm.create_model("vit_tiny_patch16_224", pretrained=False, img_size=32, num_classes=1).eval()


def svd_vit(seed: int = 0, **kwargs) -> nn.Module:
    net = tiny_vit(seed)
    net.requires_grad_(False)
    apply_svd_residual(net, **kwargs)
    return net


def images(seed: int = 1) -> torch.Tensor:
    return torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(seed))


def train_step(net: nn.Module) -> None:
    """One SGD step on logits and both Effort terms, so the residual moves off its init."""
    params = [p for p in net.parameters() if p.requires_grad]
    optimizer = torch.optim.SGD(params, lr=0.5)
    losses = svd_losses(net)
    (net(images()).sum() + losses["orthogonal"] + losses["singular"]).backward()
    optimizer.step()
    optimizer.zero_grad()


def test_split_reconstructs_every_replaced_weight_within_1e5_at_init():
    net = tiny_vit()
    original = {
        name: m.weight.detach().clone() for name, m in net.named_modules() if isinstance(m, nn.Linear)
    }
    x = images()
    with torch.no_grad():
        before = net(x)
    replaced = apply_svd_residual(net)
    layers = {name: m for name, m in net.named_modules() if isinstance(m, SVDResidualLinear)}
    # 12 blocks × (attn.qkv, attn.proj); the MLP linears and the head stay plain
    assert replaced == len(layers) == 24
    assert {name.split(".", 2)[2] for name in layers} == {"attn.qkv", "attn.proj"}
    assert all(layers[f"blocks.{i}.attn.qkv"].chunks == 3 for i in range(12))
    for name, layer in layers.items():
        assert layer.weight.dtype == torch.float32
        assert (layer.weight - original[name]).abs().max().item() < 1e-5, name
    with torch.no_grad():
        assert torch.allclose(net(x), before, atol=1e-5)


def test_rectangular_layers_chosen_by_include_reconstruct_too():
    net = tiny_vit()
    fc1 = net.blocks[0].mlp.fc1.weight.detach().clone()  # 768 × 192
    replaced = apply_svd_residual(net, rank=3, include=lambda name, _: name.endswith("mlp.fc1"))
    layer = net.blocks[0].mlp.fc1
    assert replaced == 12 and isinstance(layer, SVDResidualLinear)
    assert (
        layer.chunks == 1 and layer.u_residual.shape == (1, 768, 3) and layer.v_residual.shape == (1, 192, 3)
    )
    assert (layer.weight - fc1).abs().max().item() < 1e-5


def test_only_the_residual_factors_get_gradients():
    net = svd_vit()
    losses = svd_losses(net)
    # push the residual off its minimum first so the two terms have gradients of their own
    (net(images()).sum() + losses["orthogonal"] + losses["singular"]).backward()
    trained = {name for name, p in net.named_parameters() if p.grad is not None}
    expected = {
        f"blocks.{i}.attn.{layer}.{factor}_residual"
        for i in range(12)
        for layer in ("qkv", "proj")
        for factor in ("u", "s", "v")
    }
    assert trained == expected
    assert all(net.get_parameter(name).grad.abs().sum() > 0 for name in expected)
    qkv = net.blocks[0].attn.qkv
    assert not qkv.bias.requires_grad and not qkv.weight_principal.requires_grad


def test_losses_are_zero_at_init_and_grow_when_the_residual_enters_the_principal_subspace():
    net = svd_vit()
    at_init = svd_losses(net)
    assert at_init["orthogonal"].item() < 1e-8
    assert at_init["singular"].item() < 1e-4
    with torch.no_grad():
        for layer in net.modules():
            if isinstance(layer, SVDResidualLinear):
                # the residual direction becomes the top principal one: no longer orthogonal to it,
                # and the weight's energy grows by the top singular value's share
                layer.u_residual.copy_(layer.u_principal[..., :1])
                layer.v_residual.copy_(layer.v_principal[..., :1])
    pushed = svd_losses(net)
    assert pushed["orthogonal"].item() > 1.0  # 2‖U_rᵀU_res‖² = 2 per factor and chunk
    assert pushed["singular"].item() > 1e3 * max(at_init["singular"].item(), 1e-9)


def test_singular_term_is_the_change_of_each_weights_frobenius_energy():
    net = tiny_vit()
    before = {n: m.weight.detach().double() for n, m in net.named_modules() if isinstance(m, nn.Linear)}
    net.requires_grad_(False)
    apply_svd_residual(net)
    train_step(net)
    direct = []
    with torch.no_grad():
        for name, layer in net.named_modules():
            if isinstance(layer, SVDResidualLinear):
                # a residual grown past its singular value and leaning into the principal subspace
                layer.s_residual.mul_(3.0)
                layer.u_residual.add_(0.3 * layer.u_principal[..., :1])
                layer.v_residual.add_(0.3 * layer.v_principal[..., :1])
                now = layer.weight.double().reshape(layer.chunks, -1).square().sum(-1)
                then = before[name].reshape(layer.chunks, -1).square().sum(-1)
                direct.append((now - then).abs().mean())
    expected = torch.stack(direct).mean().item()
    assert expected > 1e-3
    assert svd_losses(net)["singular"].item() == pytest.approx(expected, rel=1e-4)


def test_merge_gives_plain_linears_with_the_same_outputs():
    net = svd_vit()
    train_step(net)
    x = images(seed=2)
    with torch.no_grad():
        tuned = net(x)
    layer = net.blocks[3].attn.qkv
    assert not torch.allclose(layer.weight, layer.weight_principal + 0)  # the residual is not zero
    assert merge_svd_residual(net) == 24
    assert not any(isinstance(m, SVDResidualLinear) for m in net.modules())
    assert type(net.blocks[3].attn.qkv) is nn.Linear and net.blocks[3].attn.qkv.weight.shape == (576, 192)
    with torch.no_grad():
        assert (net(x) - tuned).abs().max().item() < 1e-5
    assert not any("residual" in key or "principal" in key for key in net.state_dict())


def test_state_dict_round_trip_reproduces_outputs_exactly():
    net = svd_vit(seed=0)
    train_step(net)
    resumed = svd_vit(seed=5)  # other weights, so only the loaded state can make them agree
    x = images(seed=3)
    with torch.no_grad():
        assert not torch.allclose(resumed(x), net(x))
        resumed.load_state_dict(net.state_dict())
        assert torch.equal(resumed(x), net(x))
    assert svd_losses(resumed)["orthogonal"].item() == svd_losses(net)["orthogonal"].item()


# Effort's default: residual rank 1 in every block's 4 attention matrices (timm's fused qkv counts
# as 3 of them): trainable = blocks × 4 × (d + 1 + d).
#   ViT-B/16: 12 × 4 × (768 + 1 + 768)   = 12 × 4 × 1537 =  73,776
#   ViT-L/14: 24 × 4 × (1024 + 1 + 1024) = 24 × 4 × 2049 = 196,704 (the paper's "0.19M")
@pytest.mark.parametrize(
    ("name", "width", "blocks", "expected"),
    [("vit_base_patch16_clip_224", 768, 12, 73_776), ("vit_large_patch14_clip_224", 1024, 24, 196_704)],
)
def test_trainable_counts_of_clip_vits_are_pinned_without_weights(name, width, blocks, expected):
    with torch.device("meta"):
        net = timm.create_model(name, pretrained=False, num_classes=0)
    net.requires_grad_(False)
    total = sum(p.numel() for p in net.parameters())
    assert apply_svd_residual(net) == 2 * blocks
    assert sum(p.numel() for p in net.parameters() if p.requires_grad) == expected
    # the principal weights stay (frozen) parameters: the total grows by the residual factors only
    assert sum(p.numel() for p in net.parameters()) == total + expected
    per_block = svd_trainable((3 * width, width), chunks=3) + svd_trainable((width, width))
    assert blocks * per_block == expected


def test_rank_overrides_the_residual_rank_and_out_of_range_is_refused():
    net = svd_vit(rank=4)
    # 12 × [3 chunks × 4 × (192 + 1 + 192) + 4 × (192 + 1 + 192)] = 12 × 16 × 385
    assert sum(p.numel() for p in net.parameters() if p.requires_grad) == 12 * 16 * 385
    with pytest.raises(ValueError, match="rank=192"):
        SVDResidualLinear(nn.Linear(192, 192), rank=192)
    with pytest.raises(ValueError, match="found no SVDResidualLinear"):
        svd_losses(tiny_vit())
