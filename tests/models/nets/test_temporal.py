"""The temporal nets: FTCN's fully temporal 3D ResNet and its parameter count derived by hand,
TALL's thumbnail (where each frame's pixels land), its mask and frame embedding and Swin-B count,
TemporalHead over any image net (a FoundationNet included), frozen or tuned, and their configs.
The interface every net shares is tested for these too by test_package.py (from small_config)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from omegaconf import open_dict
from torch import nn

from dfd.config.instantiate import instantiate
from dfd.models.nets.foundation import FoundationNet
from dfd.models.nets.temporal import FTCN, TALL, TemporalHead, thumbnail
from tests.conftest import CONF, cli_overrides, compose_config, run_main


def count(module: nn.Module, trainable: bool = False) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable)


def transformer_count(
    in_features: int, d: int, depth: int, tokens: int, mlp_ratio: float, qkv_bias: bool
) -> int:
    """A temporal transformer's parameters by hand: the projection (none when in_features = d), the
    CLS token and ``tokens`` position vectors, per block two LayerNorms (4d), qkv (3d², + 3d with
    bias), the attention output (d² + d), the MLP (2·r·d² + r·d + d), and the final LayerNorm (2d)."""
    hidden = int(mlp_ratio * d)
    block = 4 * d + 3 * d * d + 3 * d * qkv_bias + d * d + d + 2 * d * hidden + hidden + d
    proj = 0 if in_features == d else in_features * d + d
    return proj + d + tokens * d + depth * block + 2 * d


# --- FTCN -----------------------------------------------------------------------------------------


def ftcn_count_by_hand(clip_len: int) -> int:
    """FTCN's parameters from the paper's layer list, counted without the module: the I3D ResNet-50
    up to res4 (stem 5×7×7 → 5×1×1; bottleneck blocks 3, 4, 6 of widths 64, 128, 256 whose first
    convolution is 3×1×1 in every res2 block and in alternate res3/res4 blocks starting with the
    first, and whose 3×3 is now 1×1), each convolution bias-free with a BatchNorm (2 per channel),
    a projection shortcut in each stage's first block; then the Temporal Transformer of width 1024
    (one block, MLP 2048, no qkv bias, CLS + T positions) and a 1-logit linear head."""
    total = 3 * 64 * 5 + 2 * 64  # stem
    cin = 64
    for stage, (blocks, width) in enumerate([(3, 64), (4, 128), (6, 256)]):
        for i in range(blocks):
            kt = 3 if stage == 0 or i % 2 == 0 else 1
            total += cin * width * kt + 2 * width  # kt×1×1
            total += width * width + 2 * width  # the 3×3, now 1×1
            total += width * 4 * width + 2 * 4 * width  # 1×1×1 expansion
            if i == 0:
                total += cin * 4 * width + 2 * 4 * width  # projection shortcut
            cin = 4 * width
    total += transformer_count(1024, 1024, 1, clip_len + 1, 2.0, qkv_bias=False)
    return total + 1024 + 1


def test_ftcn_default_is_the_papers_network_with_its_parameter_count() -> None:
    net = FTCN(clip_len=16)
    # 6,347,584 (3D net) + 8,396,800 (transformer block) + 20,480 (CLS, 17 positions, LayerNorm) + 1,025
    assert count(net) == ftcn_count_by_hand(16) == 14_765_889
    assert net.num_features == 1024 and net.input_spec.size == 224
    convs = [m for m in net.backbone.modules() if isinstance(m, nn.Conv3d)]
    assert len(convs) == 1 + 3 * 13 + 3  # stem, 3 per bottleneck, 3 shortcuts
    assert all(c.kernel_size[1:] == (1, 1) for c in convs)  # the "fully temporal" convolutions
    assert [c.kernel_size[0] for c in convs if c.kernel_size[0] > 1] == [5] + [3] * (3 + 2 + 3)


def test_ftcn_keeps_every_frame_and_reads_their_order() -> None:
    torch.manual_seed(0)
    net = FTCN(**FTCN.small_config).eval()
    (x,) = net.example_inputs()
    assert net.forward_feature_map(x).shape == (2, 128, 4, 2, 2)  # T kept, space at 1/16 of 32 px
    with torch.no_grad():
        assert not torch.allclose(net(x), net(x.flip(1)), atol=1e-5)


def test_ftcn_refuses_pretrained_and_a_clip_of_another_length() -> None:
    with pytest.raises(ValueError, match="model.net.pretrained=false"):
        FTCN(**FTCN.small_config, pretrained=True)
    net = FTCN(**FTCN.small_config)
    with pytest.raises(ValueError, match=r"reads clips \[B, 4, 3, 32, 32\].*data.clip_len=4"):
        net(torch.zeros(1, 5, 3, 32, 32))


# --- TALL -----------------------------------------------------------------------------------------


def test_thumbnail_puts_each_frame_in_its_tile_row_major() -> None:
    torch.manual_seed(0)
    clips = torch.rand(2, 4, 3, 32, 32)
    image = thumbnail(clips, 32)
    assert image.shape == (2, 3, 32, 32)
    tiles = F.interpolate(clips.flatten(0, 1), size=(16, 16), mode="bilinear").reshape(2, 4, 3, 16, 16)
    for i in range(4):
        r, c = divmod(i, 2)
        torch.testing.assert_close(image[:, :, 16 * r : 16 * (r + 1), 16 * c : 16 * (c + 1)], tiles[:, i])


def test_thumbnail_of_a_non_square_clip_leaves_empty_tiles_and_border_zero() -> None:
    clips = torch.arange(1.0, 4.0).view(1, 3, 1, 1, 1).expand(1, 3, 3, 30, 30)  # frame i has value i + 1
    image = thumbnail(clips, 32)  # g = 2, tiles of 16 px: nothing to pad
    assert [image[0, 0, 16 * r, 16 * c].item() for r in range(2) for c in range(2)] == [1.0, 2.0, 3.0, 0.0]
    image = thumbnail(torch.ones(1, 9, 3, 32, 32), 32)  # g = 3, tiles of 10 px and a 2 px border
    torch.testing.assert_close(image[0, :, :30, :30], torch.ones(3, 30, 30))
    assert image[0, :, 30:].eq(0).all() and image[0, :, :, 30:].eq(0).all()


def test_tall_masks_one_square_at_the_same_place_in_every_frame_in_training_only() -> None:
    torch.manual_seed(0)
    net = TALL(**TALL.small_config)
    x = torch.ones(8, 4, 3, 32, 32)
    masked = net.mask(x)
    for clip in masked:
        zeros = clip.eq(0)
        assert all(torch.equal(zeros[0], zeros[t]) for t in range(4))
        assert 0 < zeros[0, 0].sum() <= 4 * 4
    net.eval()
    (x,) = net.example_inputs()
    torch.testing.assert_close(net(x), net(x))  # no mask, no randomness


def test_tall_frame_embedding_follows_the_tiles() -> None:
    net = TALL(**TALL.small_config).eval()
    # 32 px, patch 4: an 8 × 8 token grid; 2 × 2 tiles of 4 × 4 tokens
    expected = torch.tensor([[0, 1], [2, 3]]).repeat_interleave(4, 0).repeat_interleave(4, 1)
    assert torch.equal(net.frame_index, expected)
    with torch.no_grad():
        net.frame_embed.zero_()
        net.frame_embed[3] = 1.0
        tokens = net.backbone.patch_embed(torch.zeros(1, 3, 32, 32))
        net.frame_embed.zero_()
        plain = net.backbone.patch_embed(torch.zeros(1, 3, 32, 32))
    added = (tokens - plain)[0].sum(-1)  # [8, 8]: C where the token is in tile 3, else 0
    assert (
        added[4:, 4:].eq(net.frame_embed.shape[1]).all()
        and added[:4].eq(0).all()
        and added[:, :4].eq(0).all()
    )


def test_tall_on_a_cnn_backbone() -> None:
    with pytest.raises(ValueError, match="set model.net.frame_embed=false"):
        TALL(backbone="resnet10t", input_size=32, clip_len=4)
    net = TALL(backbone="resnet10t", input_size=32, clip_len=4, frame_embed=False).eval()
    assert net(*net.example_inputs()).shape == (2, 1)


def test_tall_default_is_swin_b_with_the_papers_windows() -> None:
    with torch.device("meta"):
        net = TALL(timm_kwargs={"window_size": 14})
    # Swin-B with its 1000-class head: 87,768,224 (the Swin paper's "88M"); without the head,
    # 86,743,224; windows of 14 (stages 1-3; stage 4's map is 7) grow each block's relative
    # position table from 13² to 27² entries per head: 560 × (2·4 + 2·8 + 18·16) = 174,720;
    # then 4 tile embeddings of 128 and a 1-logit head on 1024 features
    assert count(net) == 87_768_224 - 1_025_000 + 174_720 + 4 * 128 + 1_025 == 86_919_481
    assert net.input_spec.size == 224 and net.clip_len == 4 and net.num_features == 1024


# --- TemporalHead ---------------------------------------------------------------------------------


def test_temporal_head_reads_its_frame_nets_features_per_frame() -> None:
    torch.manual_seed(0)
    net = TemporalHead(**TemporalHead.small_config).eval()
    (x,) = net.example_inputs()
    with torch.no_grad():
        per_frame = torch.stack([net.backbone.forward_features(x[:, t]) for t in range(4)], dim=1)
        torch.testing.assert_close(net.frame_features(x), per_frame)
    assert isinstance(net.backbone.head, nn.Identity)  # the frame net's classifier is dropped


def test_temporal_head_frozen_or_tuned_over_a_foundation_net() -> None:
    kwargs = dict(input_size=32, clip_len=4, dim=32, depth=1, heads=2,
                  frame_net="dfd.models.nets.foundation.FoundationNet",
                  frame_kwargs={"backbone": "vit_tiny_patch16_224", "tuning": "layernorm"})  # fmt: skip
    # the transformer on 192 features: 192·32 + 32 projection, CLS + 5 positions, one block, norm;
    # then the 1-logit head
    temporal = transformer_count(192, 32, 1, 5, 4.0, qkv_bias=True) + 33
    frozen = TemporalHead(**kwargs, freeze_frame_net=True)
    assert isinstance(frozen.backbone, FoundationNet)
    assert count(frozen, trainable=True) == temporal == 19_169
    frozen.train()
    assert not frozen.backbone.training and frozen.temporal.training
    tuned = TemporalHead(**kwargs, freeze_frame_net=False)
    # the FoundationNet keeps its tuning: vit_tiny's 25 LayerNorms × 2 × 192 train
    assert count(tuned, trainable=True) == temporal + 9_600
    tuned.train()
    assert tuned.backbone.training
    out = tuned(*tuned.example_inputs())
    out.sum().backward()
    assert out.shape == (2, 1)


def test_temporal_head_refuses_what_is_not_an_image_net_or_is_its_own_argument() -> None:
    base = {k: v for k, v in TemporalHead.small_config.items() if k != "frame_net"}
    with pytest.raises(ValueError, match="is a temporal net"):
        TemporalHead(**base, frame_net="dfd.models.nets.temporal.FTCN")
    with pytest.raises(ValueError, match="not a registered net"):
        TemporalHead(**base, frame_net="torch.nn.Linear")
    with pytest.raises(ValueError, match="set model.net.pretrained instead"):
        TemporalHead(
            **{**TemporalHead.small_config, "frame_kwargs": {"model_name": "resnet10t", "pretrained": True}}
        )


# --- configs --------------------------------------------------------------------------------------

#: data.clip_len comes from the clip data keys (conf/data/base/crops.yaml); forced here so the
#: configs compose whether or not the data side declares it
CLIP_DATA = ["++data.clip_len=4", "++data.clips=true"]


@pytest.mark.parametrize(
    ("overrides", "cls"),
    [(["model=ftcn"], FTCN), (["model=tall"], TALL), (["model=temporal_head"], TemporalHead),
     (["model=temporal_head", "model/frame_net=efficientnet_b4"], TemporalHead)],
)  # fmt: skip
def test_model_configs_build_their_net_at_the_datas_clip_length(overrides: list[str], cls: type) -> None:
    cfg = compose_config("train", [*overrides, *CLIP_DATA])
    with open_dict(cfg):
        cfg.model.net.pretrained = False
    with torch.device("meta"):
        net = instantiate(cfg.model.net)
    assert type(net) is cls and net.clip_len == 4


def test_every_frame_net_option_names_a_registered_image_net() -> None:
    options = sorted(p.stem for p in (CONF / "model" / "frame_net").glob("*.yaml"))
    assert {"clip_vit_b16", "efficientnet_b4"} <= set(options)
    for option in options:
        cfg = compose_config("train", ["model=temporal_head", f"model/frame_net={option}", *CLIP_DATA])
        with open_dict(cfg):
            cfg.model.net.pretrained = False
        with torch.device("meta"):
            assert instantiate(cfg.model.net).input_spec.size > 0


def test_training_a_temporal_model_on_frames_is_refused_before_any_data_is_built(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    proc = run_main("dfd.train", [*cli_overrides(tmp_path, data_dir), "model=tall", "++data.clips=false"])
    assert proc.returncode == 1
    assert "data.clips=False: TALL reads clips of face crops; set data.clips=true" in proc.stderr
    assert not data_dir.exists()
