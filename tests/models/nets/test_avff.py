"""AVFF net: forward/backward through both encoders, complementary masks, ablation, sizes, shape errors."""

from __future__ import annotations

import pytest
import torch

from dfd.models.detector_module import count_parameters
from dfd.models.nets.avff import AVFF
from tests.av_tiny import batch, tiny_net


def _mouth_and_loudness(sample: dict) -> tuple[torch.Tensor, torch.Tensor]:
    video, audio = sample["video"], sample["audio"][0]
    mouth = -video[:, :, 19:27, 10:22].mean((1, 2, 3))  # the mouth is dark: darker = more open
    loud = audio.mean(0)[: 4 * len(mouth)].reshape(len(mouth), 4).mean(1)
    return mouth, loud


# -- the net ---------------------------------------------------------------------------------
def test_tiny_forward_and_backward_reach_both_encoders() -> None:
    net = tiny_net()
    video, audio = batch()
    logits = net(video, audio)
    assert logits.shape == (4, 1)
    logits.sum().backward()
    for name in ("video_encoder", "audio_encoder", "a2v", "v2a", "head"):
        grads = [p.grad for n, p in net.named_parameters() if n.startswith(name) and p.grad is not None]
        assert grads and any(g.abs().sum() > 0 for g in grads), name

    net.zero_grad()
    losses = tiny_net().pretrain_losses(video, audio)
    assert set(losses) == {"loss", "rec_video", "rec_audio", "contrastive", "cross"}
    assert all(torch.isfinite(v) for v in losses.values())
    losses["loss"].backward()


def test_masks_are_complementary_in_time() -> None:
    net = tiny_net(mask_ratio=0.5)
    vgrid, agrid = (4, 2, 2), (8, 2)  # 4 video time patches, 2 audio time patches per segment
    vmask, amask = net.complementary_masks(6, vgrid, agrid, torch.device("cpu"))
    vseg = vmask.reshape(6, 4, 4).all(-1)  # every token of a segment shares its mask
    assert torch.equal(vseg, vmask.reshape(6, 4, 4).any(-1))
    aseg = amask.reshape(6, 4, 2 * 2).all(-1)
    assert torch.equal(vseg, ~aseg)  # what one modality hides, the other shows
    assert (vseg.sum(1) == 2).all()  # mask_ratio of the segments, in every sample


def test_audio_ablation_makes_the_output_independent_of_audio() -> None:
    net = tiny_net(ablate_audio=True).eval()
    video, audio = batch()
    _, other = batch(seed=1)
    assert torch.allclose(net(video, audio), net(video, other))
    full = tiny_net().eval()
    full.load_state_dict(net.state_dict())
    assert not torch.allclose(full(video, audio), full(video, other))


def test_parameter_counts_of_tiny_and_base() -> None:
    tiny = AVFF(
        dim=64, depth=2, heads=4, decoder_dim=32, decoder_depth=1, decoder_heads=2, input_size=32, patch=8
    )
    base = AVFF()  # ViT-B encoders for both modalities
    # pinned from the architecture: a change in any encoder, decoder or head moves these
    assert count_parameters(tiny) == {"total": 467_841, "trainable": 467_841, "frozen": 0}
    assert count_parameters(base) == {"total": 211_784_705, "trainable": 211_784_705, "frozen": 0}


def test_shape_errors_name_the_config_key() -> None:
    net = tiny_net()
    video, audio = batch(t=7)
    with pytest.raises(ValueError, match="data.clip_len"):
        net(video, audio)
    video, audio = batch(frames=24)  # 6 audio time patches vs 4 video time patches
    with pytest.raises(ValueError, match="data.audio_frames"):
        net(video, audio)
