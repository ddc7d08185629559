"""AVFF net: forward/backward, complementary masks, encode-then-mask, adversarial term, head, sizes, errors."""

from __future__ import annotations

import pytest
import torch

from dfd.models.detector_module import count_parameters
from dfd.models.nets.avff import AVFF, PatchDiscriminator, adversarial_terms
from tests.av_tiny import batch, tiny_net

#: dfd's behaviour before the paper's defaults: MAE-style masking, cosine A2V/V2A term, no
#: adversarial term, |own − cross| in the stage-2 head
DFD_EARLIER = dict(mask_before_encoder=True, cross_weight=1.0, adversarial_weight=0.0, fuse_difference=True)


def _grads(net: torch.nn.Module, prefix: str) -> bool:
    return any(
        p.grad is not None and p.grad.abs().sum() > 0
        for n, p in net.named_parameters()
        if n.startswith(prefix)
    )


# -- the net ---------------------------------------------------------------------------------
def test_tiny_forward_and_backward_reach_both_encoders() -> None:
    net = tiny_net()
    video, audio = batch()
    logits = net(video, audio)
    assert logits.shape == (4, 1)
    logits.sum().backward()
    for name in ("video_encoder", "audio_encoder", "a2v", "v2a", "head"):
        assert _grads(net, name), name


def test_stage1_terms_follow_the_switches() -> None:
    video, audio = batch()
    paper = tiny_net()
    losses = paper.pretrain_losses(video, audio)
    assert set(losses) == {"loss", "rec_video", "rec_audio", "contrastive", "adversarial", "discriminator"}
    assert set(paper.pretrain_terms) == set(losses) - {"loss"}
    earlier = tiny_net(**DFD_EARLIER)
    losses = earlier.pretrain_losses(video, audio)
    assert set(losses) == {"loss", "rec_video", "rec_audio", "contrastive", "cross"}
    assert not hasattr(earlier, "video_disc")  # no adversarial term, no discriminators
    assert all(torch.isfinite(v) for v in losses.values())


def test_loss_is_the_weighted_sum_of_the_terms() -> None:
    video, audio = batch()
    weights = dict(
        rec_video_weight=0.5,
        rec_audio_weight=2.0,
        contrastive_weight=0.1,
        adversarial_weight=0.3,
        cross_weight=4.0,
    )
    net = tiny_net(**weights)
    torch.manual_seed(0)
    losses = net.pretrain_losses(video, audio)
    expected = sum(weights[f"{k}_weight"] * losses[k] for k in net.pretrain_terms if k != "discriminator")
    torch.testing.assert_close(losses["loss"], expected)
    with pytest.raises(ValueError, match=r"model.net.<term>_weight"):
        tiny_net(cross_weight=-1.0)


def test_adversarial_losses_reach_only_their_own_side() -> None:
    """One optimizer and one backward train both sides: each loss moves only its side's weights."""
    net = tiny_net()
    video, audio = batch()
    losses = net.pretrain_losses(video, audio)
    losses["discriminator"].backward(retain_graph=True)
    assert _grads(net, "video_disc") and _grads(net, "audio_disc")
    assert not any(_grads(net, p) for p in ("video_encoder", "video_decoder", "a2v", "audio_decoder"))
    net.zero_grad()
    losses["adversarial"].backward()
    assert _grads(net, "video_decoder") and _grads(net, "audio_decoder") and _grads(net, "video_encoder")
    assert not _grads(net, "video_disc") and not _grads(net, "audio_disc")


def test_the_discriminator_learns_to_tell_reconstructions_from_patches() -> None:
    torch.manual_seed(0)
    disc = PatchDiscriminator(12, 32)
    opt = torch.optim.Adam(disc.parameters(), lr=1e-2)
    real, fake = torch.randn(64, 12) + 1.0, torch.randn(64, 12) - 1.0
    for _ in range(50):
        _, d_loss = adversarial_terms(disc, fake, real)
        opt.zero_grad()
        d_loss.backward()
        opt.step()
    assert d_loss.item() < 0.2  # log 2 = 0.69 at chance
    g_loss, _ = adversarial_terms(disc, fake, real)
    assert g_loss.item() > 2.0  # and the reconstructions' generator loss is then high


def test_encode_then_mask_lets_masked_video_reach_the_audio_reconstruction() -> None:
    """The paper encodes the whole clip, so the visible video tokens carry the masked segments;
    masking before the encoder (MAE style) hides them from everything V2A and the decoders see."""
    video, audio = batch()
    seg = torch.tensor([True, False, True, False])  # video time segments 0 and 2 masked
    vmask = seg.repeat_interleave(2 * 2)[None].expand(4, -1)  # 2 × 2 spatial tokens per segment
    amask = (~seg).repeat_interleave(2 * 2)[None].expand(4, -1)  # 2 audio time × 2 freq tokens per segment
    changed = video.clone()
    changed[:, 0:2] += 1.0  # frames of video time patch 0: masked in the video
    for mask_before_encoder, moves in ((False, True), (True, False)):
        torch.manual_seed(0)
        net = tiny_net(mask_before_encoder=mask_before_encoder).eval()
        net.complementary_masks = lambda *_: (vmask, amask)
        before = net.pretrain_losses(video, audio)["rec_audio"]
        after = net.pretrain_losses(changed, audio)["rec_audio"]
        assert (not torch.allclose(before, after)) is moves, mask_before_encoder


def test_masks_are_complementary_in_time() -> None:
    net = tiny_net(mask_ratio=0.5)
    vgrid, agrid = (4, 2, 2), (8, 2)  # 4 video time patches, 2 audio time patches per segment
    vmask, amask = net.complementary_masks(6, vgrid, agrid, torch.device("cpu"))
    vseg = vmask.reshape(6, 4, 4).all(-1)  # every token of a segment shares its mask
    assert torch.equal(vseg, vmask.reshape(6, 4, 4).any(-1))
    aseg = amask.reshape(6, 4, 2 * 2).all(-1)
    assert torch.equal(vseg, ~aseg)  # what one modality hides, the other shows
    assert (vseg.sum(1) == 2).all()  # mask_ratio of the segments, in every sample


def test_segments_are_the_common_time_patches_of_both_modalities() -> None:
    """8 video time patches and 4 audio ones (16-frame audio patches): 4 segments of 2 video patches."""
    net = tiny_net()
    vmask, amask = net.complementary_masks(3, (8, 1, 1), (4, 2), torch.device("cpu"))
    vseg = vmask.reshape(3, 4, 2)
    assert torch.equal(vseg[..., 0], vseg[..., 1])  # the two video time patches of a segment agree
    assert torch.equal(vseg[..., 0], ~amask.reshape(3, 4, 2)[..., 0])
    video, audio = batch(t=16, frames=16)  # 8 video and 4 audio time patches
    assert net(video, audio).shape == (4, 1)


def test_fuse_difference_is_the_stage2_ablation_flag() -> None:
    paper, earlier = tiny_net(), tiny_net(fuse_difference=True)
    assert paper.video_fuse[0].in_features == 2 * paper.dim  # own ⊕ cross
    assert earlier.video_fuse[0].in_features == 3 * earlier.dim  # own ⊕ cross ⊕ |own − cross|
    video, audio = batch()
    assert paper(video, audio).shape == earlier(video, audio).shape == (4, 1)


def test_audio_ablation_makes_the_output_independent_of_audio() -> None:
    net = tiny_net(ablate_audio=True).eval()
    video, audio = batch()
    _, other = batch(seed=1)
    assert torch.allclose(net(video, audio), net(video, other))
    full = tiny_net().eval()
    full.load_state_dict(net.state_dict())
    assert not torch.allclose(full(video, audio), full(video, other))


def test_parameter_counts_of_tiny_and_base() -> None:
    tiny = dict(
        dim=64, depth=2, heads=4, decoder_dim=32, decoder_depth=1, decoder_heads=2, input_size=32, patch=8
    )
    # pinned from the architecture: a change in any encoder, decoder, discriminator or head moves these.
    # Built on the meta device: counting needs no memory and no initialisation (ViT-B × 2 is slow).
    with torch.device("meta"):
        counts = {
            "tiny": count_parameters(AVFF(**tiny))["total"],
            "base": count_parameters(AVFF())["total"],  # ViT-B encoders for both modalities
            "tiny_earlier": count_parameters(AVFF(**tiny, **DFD_EARLIER))["total"],
            "base_earlier": count_parameters(AVFF(**DFD_EARLIER))["total"],
        }
    # the paper's defaults: the patch discriminators (+82,434 tiny, +2,758,658 base) and a head
    # without |own − cross| (−2 dim², i.e. −8,192 tiny, −1,179,648 base)
    assert counts["tiny"] == 542_083
    assert counts["base"] == 213_363_715
    # dfd's earlier settings still build the earlier network, parameter for parameter
    assert counts["tiny_earlier"] == 467_841
    assert counts["base_earlier"] == 211_784_705


def test_shape_and_setting_errors_name_the_config_key() -> None:
    net = tiny_net()
    video, audio = batch(t=7)
    with pytest.raises(ValueError, match="data.clip_len"):
        net(video, audio)
    video, audio = batch(frames=20)  # 5 audio time patches vs 4 video time patches: 1 common segment
    with pytest.raises(ValueError, match="data.audio_frames"):
        net(video, audio)
    with pytest.raises(ValueError, match="model.net.video_weights"):
        tiny_net(pretrained=True)
