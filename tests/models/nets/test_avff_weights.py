"""MARLIN and AudioMAE checkpoints into AVFF's encoders: key mapping, loading through the config, errors.

The files are built here from a dfd encoder with its tensors renamed to MARLIN's and AudioMAE's
key schemes (as their released checkpoints name them), so no test needs the network.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from omegaconf import open_dict

from dfd.config.instantiate import instantiate
from dfd.models.nets.avff import AVFF
from dfd.models.nets.avff_weights import MARLIN, load_encoder_weights

#: conf/model/avff_tiny.yaml's sizes, with 16 × 16 audio patches as AudioMAE's
SIZES = dict(
    dim=64, depth=2, heads=4, decoder_dim=32, decoder_depth=1, decoder_heads=2, input_size=32, patch=8
)


def _source(**overrides) -> AVFF:
    """A dfd AVFF with random values everywhere (biases too), to tell loaded tensors from initial ones."""
    torch.manual_seed(1)
    net = AVFF(**{**SIZES, **overrides})
    with torch.no_grad():
        for p in net.parameters():
            p.normal_()
    return net


def as_marlin(net: AVFF) -> dict[str, torch.Tensor]:
    """The video encoder under MARLIN's names, plus the parts of a full MARLIN file dfd leaves out."""
    out: dict[str, torch.Tensor] = {
        "encoder.patch_embedding.projection.weight": net.video_embed.weight,
        "encoder.patch_embedding.projection.bias": net.video_embed.bias,
        "encoder.pos_embedding.emb": torch.zeros(1, 64, net.dim),
        "encoder.norm.weight": net.video_encoder.norm.weight,
        "encoder.norm.bias": net.video_encoder.norm.bias,
        "decoder.norm.weight": torch.ones(8),
        "enc_dec_proj.weight": torch.ones(8, net.dim),
    }
    parts = {"mlp.fc1": "mlp.layers.0.linear", "mlp.fc2": "mlp.layers.1.linear"}
    for i, block in enumerate(net.video_encoder.blocks):
        for name, value in block.state_dict().items():
            if name == "attn.qkv.bias":  # MARLIN: query and value biases, no key bias
                q, _, v = value.chunk(3)
                out[f"encoder.blocks.{i}.attn.q_bias"], out[f"encoder.blocks.{i}.attn.v_bias"] = q, v
                continue
            module, _, leaf = name.rpartition(".")
            out[f"encoder.blocks.{i}.{parts.get(module, module)}.{leaf}"] = value
    return {k: v.detach().clone() for k, v in out.items()}


def as_audiomae(net: AVFF) -> dict:
    """AudioMAE's pretrained.pth layout: tensors under ``model`` (kernel [time, freq]) beside its argparse options."""
    model = {f"blocks.{k}": v for k, v in net.audio_encoder.blocks.state_dict().items()}
    model |= {
        "patch_embed.proj.weight": net.audio_embed.weight.transpose(-1, -2),
        "patch_embed.proj.bias": net.audio_embed.bias,
        "norm.weight": net.audio_encoder.norm.weight,
        "norm.bias": net.audio_encoder.norm.bias,
        "cls_token": torch.zeros(1, 1, net.dim),
        "pos_embed": torch.zeros(1, 9, net.dim),
        "decoder_embed.weight": torch.zeros(8, net.dim),
    }
    model = {k: v.detach().clone() for k, v in model.items()}
    return {
        "model": model,
        "epoch": 32,
        "args": argparse.Namespace(model="mae_vit_base_patch16", mask_ratio=0.8),
    }


def _net_from_config(make_cfg, **files) -> AVFF:
    cfg = make_cfg(["model=avff_tiny", "model.net.audio_patch_time=16"], tiny=False)
    with open_dict(cfg):
        cfg.model.net.pretrained = True
        cfg.model.net.video_weights = files.get("video")
        cfg.model.net.audio_weights = files.get("audio")
    return instantiate(cfg.model.net)


def test_marlin_file_lands_in_the_video_encoder(make_cfg, tmp_path: Path) -> None:
    source = _source()
    path = tmp_path / "marlin_vit_base_ytf.encoder.pt"
    torch.save(as_marlin(source), path)
    net = _net_from_config(make_cfg, video=str(path))
    loaded, expected = net.state_dict(), source.state_dict()
    for key in expected:
        if key.startswith("video_encoder.") and not key.endswith("attn.qkv.bias"):
            assert torch.equal(loaded[key], expected[key]), key
    assert torch.equal(loaded["video_embed.weight"], expected["video_embed.weight"])
    q, k, v = loaded["video_encoder.blocks.1.attn.qkv.bias"].chunk(3)
    q0, _, v0 = expected["video_encoder.blocks.1.attn.qkv.bias"].chunk(3)
    assert torch.equal(q, q0) and torch.equal(v, v0) and not k.any()  # MARLIN has no key bias
    # the audio side and everything else keep their initial values
    assert not torch.equal(
        loaded["audio_encoder.blocks.0.attn.qkv.weight"], expected["audio_encoder.blocks.0.attn.qkv.weight"]
    )


def test_audiomae_file_lands_in_the_audio_encoder_with_its_time_frequency_order(
    make_cfg, tmp_path: Path
) -> None:
    source = _source(audio_patch_time=16)
    path = tmp_path / "audiomae_vit_base_as2m_pretrained.pth"
    checkpoint = as_audiomae(source)
    torch.save(checkpoint, path)  # its argparse options need no allow_pickle
    net = _net_from_config(make_cfg, audio=str(path))
    for key, value in source.audio_encoder.state_dict().items():
        assert torch.equal(net.audio_encoder.state_dict()[key], value), key
    # AudioMAE embeds [time, freq] spectrograms, dfd [freq, time]: the same patches, the same tokens
    mel = torch.randn(2, 1, 128, 32)  # [B, 1, mels, frames]
    kernel = checkpoint["model"]["patch_embed.proj.weight"]
    theirs = F.conv2d(mel.transpose(-1, -2), kernel, checkpoint["model"]["patch_embed.proj.bias"], stride=16)
    torch.testing.assert_close(net.audio_embed(mel), theirs.transpose(-1, -2), rtol=1e-5, atol=1e-4)


def test_a_mismatched_file_is_refused_with_what_did_not_match(tmp_path: Path) -> None:
    wider = tmp_path / "wider.pt"
    torch.save(as_marlin(_source(dim=48, heads=4)), wider)
    net = AVFF(**SIZES)
    with pytest.raises(
        ValueError, match=r"shapes that differ: .*video_embed.weight \(file \(48, 3, 2, 8, 8\)"
    ):
        load_encoder_weights(net, wider, MARLIN)
    deeper = tmp_path / "deeper.pt"
    torch.save(as_marlin(_source(depth=3)), deeper)
    with pytest.raises(ValueError, match=r"no place for: video_encoder.blocks.2"):
        load_encoder_weights(net, deeper, MARLIN)
    # a dfd AVFF state dict is not a MARLIN file: its keys are listed as unknown, the net's as missing
    own = tmp_path / "avff_state.pt"
    torch.save(net.state_dict(), own)
    with pytest.raises(
        ValueError, match=r"not MARLIN encoder keys: .*a2v\..*net tensors the file does not hold"
    ):
        load_encoder_weights(net, own, MARLIN)


def test_a_missing_file_fails_at_once_with_the_download_and_the_way_out(make_cfg, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="model.net.video_weights") as err:
        _net_from_config(make_cfg, video=str(tmp_path / "nowhere.pt"))
    assert "marlin_vit_base_ytf.encoder.pt" in str(err.value) and "model.net.pretrained=false" in str(
        err.value
    )
    with pytest.raises(FileNotFoundError, match=r"model.net.audio_weights.*pretrained.pth.*AudioMAE"):
        _net_from_config(make_cfg, audio=str(tmp_path / "nowhere.pth"))
