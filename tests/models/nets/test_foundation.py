"""FoundationNet: what trains in each tuning mode, the pinned counts of CLIP ViT-B/16 and ViT-L/14,
GenD's hyperspherical head and losses, one training step, merged export, and the train command."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import torch
from torch import nn

from dfd.models.detector_module import DetectorModule, count_parameters
from dfd.models.nets.foundation import (
    TUNINGS,
    CosineHead,
    FoundationNet,
    alignment_loss,
    merge_lora,
    uniformity_loss,
)
from tests.conftest import cli_overrides, run_main

HAS_SVD = importlib.util.find_spec("dfd.models.svd_residual") is not None
#: the svd mode's code (dfd.models.svd_residual) lands from a parallel branch; until it does, its tests skip
needs_svd = pytest.mark.skipif(not HAS_SVD, reason="dfd.models.svd_residual is not on this branch yet")
MODES = [pytest.param(t, marks=needs_svd) if t == "svd" else t for t in TUNINGS]
TINY = {"backbone": "vit_tiny_patch16_224", "input_size": 32}


def tiny(tuning: str, **kwargs) -> FoundationNet:
    torch.manual_seed(0)
    return FoundationNet(**TINY, tuning=tuning, **kwargs)


def perturb_adapters(net: FoundationNet) -> None:
    """LoRA's B starts at zero (no change to the encoder); give it values, as training would."""
    with torch.no_grad():
        for name, p in net.backbone.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.05, generator=torch.Generator().manual_seed(1))


def is_layernorm_param(net: FoundationNet, name: str) -> bool:
    module = net.backbone.get_submodule(name.rpartition(".")[0])
    return isinstance(module, nn.LayerNorm)


def expected_trainable(net: FoundationNet, name: str) -> bool:
    """Whether parameter ``name`` of ``net`` should train under its tuning mode."""
    if name.startswith("head."):
        return True
    inner = name.removeprefix("backbone.")
    return {
        "linear": False,
        "layernorm": is_layernorm_param(net, inner),
        "lora": "lora_" in inner,
        "full": True,
    }[net.tuning]


@pytest.mark.parametrize("tuning", [t for t in TUNINGS if t != "svd"])
def test_only_the_modes_parameters_get_gradients(tuning: str) -> None:
    net = tiny(tuning)
    net(torch.randn(4, 3, 32, 32)).sum().backward()
    with_grad = {n for n, p in net.named_parameters() if p.grad is not None and p.grad.abs().sum() > 0}
    intended = {n for n, _ in net.named_parameters() if expected_trainable(net, n)}
    if tuning == "lora":
        intended -= {n for n in intended if "lora_A" in n}  # B = 0 at init: A's gradient is B^T·… = 0
        perturb_adapters(net)
        net.zero_grad()
        net(torch.randn(4, 3, 32, 32)).sum().backward()
        with_grad = {n for n, p in net.named_parameters() if p.grad is not None and p.grad.abs().sum() > 0}
        intended = {n for n, _ in net.named_parameters() if expected_trainable(net, n)}
    assert with_grad == intended
    assert {n for n, p in net.named_parameters() if p.requires_grad} == {
        n for n, _ in net.named_parameters() if expected_trainable(net, n)
    }


@needs_svd
def test_svd_mode_trains_only_the_residuals_of_the_split_attention_linears() -> None:
    net = tiny("svd")
    attention = [m for b in net.backbone.blocks for m in (b.attn.qkv, b.attn.proj)]
    assert all(type(m) is not nn.Linear for m in attention)  # split (Effort's default: attention only)
    net(torch.randn(4, 3, 32, 32)).sum().backward()
    trained = {n for n, p in net.named_parameters() if p.requires_grad}
    head = {"head.1.weight", "head.1.bias"}
    split = {f"backbone.{n}" for n, m in net.backbone.named_modules() if any(m is a for a in attention)}
    assert head <= trained and trained - head
    assert all(n.rpartition(".")[0] in split for n in trained - head)  # nothing outside the split layers
    assert all(p.grad is not None for n, p in net.named_parameters() if n in trained)
    assert all(p.grad is None for n, p in net.named_parameters() if n not in trained)


def test_the_linear_mode_keeps_the_encoder_in_eval_mode() -> None:
    net = tiny("linear", timm_kwargs={"drop_rate": 0.5, "proj_drop_rate": 0.5}).train()
    assert not net.backbone.training and net.head.training
    x = torch.randn(2, 3, 32, 32)
    assert torch.equal(net.forward_features(x), net.forward_features(x))  # no dropout in the encoder


# counts from the architecture alone (meta device, no weights), with a one-logit head:
# ViT-B/16 CLIP: 12 blocks × 2 LayerNorms + norm_pre + norm = 26 × 2 × 768 = 39,936 LayerNorm
# parameters; ViT-L/14: 50 × 2 × 1024 = 102,400 (GenD's "0.03 %" of 303 M). LoRA rank 8 on qkv:
# 8 × (d + 3d) per block = 12 × 24,576 (B/16) and 24 × 32,768 (L/14). Heads: d + 1 (linear
# weight and bias, or cosine weight and scale). SVD (Effort's default: residual rank 1 in qkv, as
# three d × d matrices, and proj): 4 × (d + 1 + d) per block = 12 × 6,148 (B/16), 24 × 8,196 (L/14),
# the latter Effort's "0.19M".
PINNED = {
    "vit_base_patch16_clip_224": {
        "linear": 769, "layernorm": 39_936 + 769, "svd": 73_776 + 769, "lora": 294_912 + 769, "full": 85_800_193, "total": 85_800_193,
    },
    "vit_large_patch14_clip_224": {
        "linear": 1_025, "layernorm": 102_400 + 1_025, "svd": 196_704 + 1_025, "lora": 786_432 + 1_025, "full": 303_180_801,
        "total": 303_180_801,
    },
}  # fmt: skip


@pytest.mark.parametrize("backbone", list(PINNED))
@pytest.mark.parametrize(
    "tuning", ["linear", "layernorm", pytest.param("svd", marks=needs_svd), "lora", "full"]
)
def test_trainable_counts_of_clip_vit_b16_and_l14_are_pinned(backbone: str, tuning: str) -> None:
    with torch.device("meta"):
        net = FoundationNet(backbone=backbone, tuning=tuning)
    counts = count_parameters(net)
    assert counts["trainable"] == PINNED[backbone][tuning]
    extra = counts["trainable"] - PINNED[backbone]["linear"] if tuning in ("lora", "svd") else 0
    # LoRA adds its adapters and SVD its residual factors (the principal part keeps the weight's size)
    assert counts["total"] == PINNED[backbone]["total"] + extra


def test_input_spec_is_the_backbones_own_from_timm() -> None:
    with torch.device("meta"):
        clip = FoundationNet(backbone="vit_base_patch16_clip_224.openai", tuning="linear")
        dino = FoundationNet(backbone="vit_small_patch14_dinov2.lvd142m", tuning="linear")
    assert clip.input_spec.size == 224
    assert clip.input_spec.mean == pytest.approx((0.48145466, 0.4578275, 0.40821073))
    assert clip.input_spec.std == pytest.approx((0.26862954, 0.26130258, 0.27577711))
    assert dino.input_spec.size == 518 and dino.input_spec.mean == pytest.approx((0.485, 0.456, 0.406))


def test_bad_values_name_the_key() -> None:
    with pytest.raises(ValueError, match=r"model.tuning='adapter' is not a tuning mode; expected one of"):
        FoundationNet(**TINY, tuning="adapter")
    with pytest.raises(ValueError, match=r"model.backbone='vit_nonexistent'"):
        FoundationNet(backbone="vit_nonexistent")
    with pytest.raises(ValueError, match="model.localization=false"):
        FoundationNet(**TINY, localization=True)


def test_layernorm_features_lie_on_the_sphere_and_logits_are_scaled_cosines() -> None:
    net = tiny("layernorm", num_classes=2, cosine_scale=7.0)
    features = net.forward_features(torch.randn(5, 3, 32, 32))
    assert torch.allclose(features.norm(dim=-1), torch.ones(5), atol=1e-5)
    logits = net.forward_head(features)
    assert logits.abs().max() <= 7.0 + 1e-5
    head = CosineHead(3, 1, scale=2.0)
    with torch.no_grad():
        head.weight.copy_(torch.tensor([[0.0, 3.0, 0.0]]))
    cos = head(torch.tensor([[0.0, 5.0, 0.0], [1.0, 0.0, 0.0], [0.0, -1.0, 0.0]]))
    assert torch.allclose(cos[:, 0], torch.tensor([2.0, 0.0, -2.0]))
    assert isinstance(head.scale, nn.Parameter) and head.scale.requires_grad


def test_alignment_and_uniformity_are_wang_and_isolas() -> None:
    e = torch.eye(3)
    same = torch.stack([e[0], e[0], e[1], e[1]])
    assert alignment_loss(same, torch.tensor([0, 0, 1, 1])).item() == pytest.approx(0.0)
    # labels that pair orthogonal unit vectors: squared distance 2 for each of the two pairs
    assert alignment_loss(same, torch.tensor([0, 1, 0, 1])).item() == pytest.approx(2.0)
    assert alignment_loss(e, torch.tensor([0, 1, 2])).item() == 0.0  # no same-label pair
    antipodal = torch.tensor([[1.0, 0.0], [-1.0, 0.0]])
    assert uniformity_loss(antipodal).item() == pytest.approx(-8.0)  # log exp(-2 · 4)
    assert uniformity_loss(torch.tensor([[1.0, 0.0], [1.0, 0.0]])).item() == pytest.approx(0.0)


def test_auxiliary_losses_are_weighted_and_only_when_switched_on() -> None:
    net = tiny("layernorm", alignment_weight=0.5, uniformity_weight=0.25)
    f = net.forward_features(torch.randn(4, 3, 32, 32))
    labels = torch.tensor([0.0, 0.0, 1.0, 1.0])
    terms = net.auxiliary_losses(f, labels)
    assert terms.keys() == {"alignment_loss", "uniformity_loss"}
    assert terms["alignment_loss"].item() == pytest.approx(0.5 * alignment_loss(f, labels).item())
    assert terms["uniformity_loss"].item() == pytest.approx(0.25 * uniformity_loss(f).item())
    assert tiny("layernorm").auxiliary_losses(f, labels) == {}
    assert tiny("full", alignment_weight=1.0).auxiliary_losses(f, labels) == {}


@pytest.mark.parametrize("tuning", MODES)
def test_one_training_step_moves_exactly_the_trainable_parameters(tuning: str) -> None:
    extra = {"alignment_weight": 1.0, "uniformity_weight": 1.0} if tuning == "layernorm" else {}
    if tuning == "svd":
        extra = {"svd_orthogonal_weight": 1.0, "svd_singular_weight": 1.0}
    net = tiny(tuning, **extra)
    if tuning == "lora":
        perturb_adapters(net)
    module = DetectorModule(net, optimizer=lambda params: torch.optim.SGD(params, lr=0.5))
    optimizer = module.configure_optimizers()
    before = {n: p.detach().clone() for n, p in net.named_parameters()}
    batch = {"image": torch.randn(4, 3, 32, 32), "label": torch.tensor([0.0, 1.0, 0.0, 1.0])}
    loss = module.training_step(batch, 0)
    with torch.no_grad():
        features = net.forward_features(batch["image"])
        label_loss = module.loss_fn(net.forward_head(features), batch["label"]).item()
        terms = net.auxiliary_losses(features, batch["label"])
    names = {"layernorm": {"alignment_loss", "uniformity_loss"}, "svd": {"orthogonal_loss", "singular_loss"}}
    assert terms.keys() == names.get(tuning, set())  # the auxiliary terms are in the loss
    assert loss.item() == pytest.approx(label_loss + sum(t.item() for t in terms.values()), abs=1e-6)
    loss.backward()
    optimizer.step()
    moved = {n for n, p in net.named_parameters() if not torch.equal(p, before[n])}
    trainable = {n for n, p in net.named_parameters() if p.requires_grad}
    assert moved == trainable and moved


@pytest.mark.parametrize("tuning", MODES)
def test_merged_net_is_plain_and_computes_the_same_logits(tuning: str) -> None:
    net = tiny(tuning)
    if tuning == "lora":
        perturb_adapters(net)
    merged, kwargs = net.eval().merged({**TINY, "tuning": tuning})
    x = torch.randn(3, 3, 32, 32)
    with torch.no_grad():
        assert (merged.eval()(x) - net(x)).abs().max().item() < 1e-5
    rebuilt = FoundationNet(**kwargs)
    assert rebuilt.state_dict().keys() == merged.state_dict().keys()  # the folder's kwargs rebuild it
    if tuning in ("lora", "svd"):
        assert kwargs["tuning"] == "full" and net.tuning == tuning  # the original is untouched
        assert all(type(m) is nn.Linear for n, m in merged.backbone.named_modules() if n.endswith("qkv"))


def test_merge_lora_folds_the_adapters_into_the_weight() -> None:
    net = tiny("lora", lora_alpha=8.0, lora_rank=4)
    perturb_adapters(net)
    qkv = net.backbone.blocks[0].attn.qkv
    expected = qkv.base_layer.weight + (8.0 / 4) * qkv.lora_B["default"].weight @ qkv.lora_A["default"].weight
    assert merge_lora(net.backbone) == len(net.backbone.blocks)
    assert type(net.backbone.blocks[0].attn.qkv) is nn.Linear
    assert torch.allclose(net.backbone.blocks[0].attn.qkv.weight, expected.detach(), atol=1e-6)


@pytest.mark.parametrize("tuning", MODES)
def test_export_merges_adapters_and_the_folder_agrees_with_torch(tuning: str, tmp_path: Path) -> None:
    from dfd.inference.export import export_model, load_exported, read_description

    net = tiny(tuning)
    if tuning == "lora":
        perturb_adapters(net)
    spec = {"target": "dfd.models.nets.foundation.FoundationNet", "kwargs": {**TINY, "tuning": tuning}}
    out = export_model(net, spec, tmp_path / "model")
    description = read_description(out)
    assert description["onnx"]["max_abs_deviation_from_torch"] <= 1e-4
    assert description["net"]["kwargs"]["tuning"] == ("full" if tuning in ("lora", "svd") else tuning)
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        reference = net.eval()(x)
        rebuilt = load_exported(out, backend="torch").net  # from model.safetensors and the folder's kwargs
        assert (rebuilt(x) - reference).abs().max().item() < 1e-4
    import onnxruntime as ort

    session = ort.InferenceSession(str(out / "model.onnx"), providers=["CPUExecutionProvider"])
    onnx_logits = session.run(None, {"image": x.numpy()})[0]
    assert abs(onnx_logits - reference.numpy()).max() < 1e-4


@pytest.mark.slow
def test_the_train_command_trains_layernorm_and_writes_the_trainable_count(
    tmp_path: Path, data_dir: Path
) -> None:
    proc = run_main(
        "dfd.train",
        [*cli_overrides(tmp_path, data_dir), "model=foundation", "model.backbone=vit_tiny_patch16_224",
         "model.pretrained=false", "model.tuning=layernorm", "model.net.input_size=32", "data=synthetic",
         "trainer.max_epochs=1", "test=false"],
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    (run,) = (tmp_path / "train" / "runs").iterdir()
    params = json.loads((run / "metrics.json").read_text())["params"]
    # vit_tiny: 12 blocks × 2 + norm = 25 LayerNorms × 2 × 192 = 9,600; cosine head 192 + 1
    assert params["trainable"] == 9_600 + 193
    assert params["total"] == 5_487_552 + 193
    config = (run / "config.yaml").read_text()
    assert "tuning: layernorm" in config and "backbone: vit_tiny_patch16_224" in config
    from dfd.artifacts.runs import load_detector

    # the run loads back (evaluation, export): the module built without the model-level net keys
    net = load_detector(run / "checkpoints" / "last.ckpt").net
    assert isinstance(net, FoundationNet) and net.tuning == "layernorm" and isinstance(net.head, CosineHead)


def test_pretrained_offline_fails_fast_naming_the_backbone_and_the_fix(monkeypatch, tmp_path: Path) -> None:
    import socket

    from huggingface_hub import constants

    from dfd.models.nets.pretrained import PretrainedWeightsUnavailable

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))  # nothing cached
    monkeypatch.setattr(socket, "create_connection", lambda *a, **k: pytest.fail("network touched"))
    with pytest.raises(PretrainedWeightsUnavailable) as err:
        FoundationNet(backbone="vit_base_patch16_clip_224.openai", pretrained=True, tuning="layernorm")
    assert "vit_base_patch16_clip_224.openai" in str(err.value) and "pretrained=false" in str(err.value)
