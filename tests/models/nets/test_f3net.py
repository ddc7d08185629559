"""F3-Net (Qian et al., ECCV 2020): DCT bands against scipy, LFS statistics, MixBlock, streams, and
the switches that reproduce the yyk-wew/F3Net re-implementation (docs/f3net.md)."""

import numpy as np
import pytest
import torch
from scipy.fft import dctn, idctn

from dfd.models.nets.f3net import (
    FAD,
    LFS,
    F3Net,
    MixBlock,
    band_mask,
    fad_band_edges,
    lfs_band_edges,
)


def ortho_dct(n: int) -> np.ndarray:
    """DCT-II matrix from its definition, C[k, i] = a_k cos(pi (2i + 1) k / 2n), written apart from the module."""
    k, i = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    scale = np.where(k == 0, np.sqrt(1.0 / n), np.sqrt(2.0 / n))
    return scale * np.cos(np.pi * (2 * i + 1) * k / (2 * n))


def window_at(gray: np.ndarray, i: int, j: int, window: int = 10, stride: int = 2) -> np.ndarray:
    """The LFS window at output position (i, j): zero padding (window - stride) / 2, then slide."""
    padded = np.pad(gray, (window - stride) // 2)
    return padded[stride * i : stride * i + window, stride * j : stride * j + window]


def test_fad_bands_partition_the_spectrum_in_paper_proportions():
    size = 299
    masks = [band_mask(size, s, e) for s, e in fad_band_edges(size)]
    np.testing.assert_array_equal(sum(masks), np.ones((size, size)))  # disjoint and complete
    low, mid, high = (m.sum() / size**2 for m in masks)
    # Paper: low = first 1/16, middle = 1/16 to 1/8, high = the last 7/8 of the spectrum.
    assert low == pytest.approx(1 / 16, abs=0.005)
    assert mid == pytest.approx(1 / 16, abs=0.005)
    assert high == pytest.approx(7 / 8, abs=0.005)
    assert masks[0][0, 0] == 1  # the DC coefficient is in the low band


def test_fad_low_band_reconstructs_the_low_passed_image():
    size = 32
    fad = FAD(size, learnable=False)
    img = np.random.default_rng(1).normal(size=(3, size, size))
    out = fad(torch.from_numpy(img).float().unsqueeze(0))[0].double().numpy()
    masks = [band_mask(size, s, e) for s, e in fad_band_edges(size)]
    for band, mask in enumerate(masks):
        # Direct computation: DCT of each channel, keep the band, inverse DCT.
        expected = idctn(dctn(img, axes=(1, 2), norm="ortho") * mask, axes=(1, 2), norm="ortho")
        np.testing.assert_allclose(out[3 * band : 3 * band + 3], expected, atol=1e-4)
    # The three bands add back up to the image.
    np.testing.assert_allclose(out[0:3] + out[3:6] + out[6:9], img, atol=1e-4)


def test_learnable_filters_start_close_to_the_fixed_bands():
    fad = FAD(16, learnable=True)
    for f in fad.filters:
        assert (f.weights() - f.base).abs().max() < 0.5
        assert f.learnable.requires_grad and not any(b is f.learnable for b in f.buffers())


def test_lfs_statistic_matches_direct_window_dct():
    lfs = LFS(window=10, bands=6, mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0), learnable=False)
    img = torch.rand(1, 3, 30, 30)
    out = lfs(img)
    assert out.shape == (1, 6, 15, 15)
    gray = (0.299 * img[0, 0] + 0.587 * img[0, 1] + 0.114 * img[0, 2]).double().numpy() * 255
    padded = np.pad(gray, 4)
    i, j = 5, 7  # window at output position (5, 7): rows 10..19, cols 14..23 of the padded image
    window = padded[2 * i : 2 * i + 10, 2 * j : 2 * j + 10]
    coeffs = np.abs(dctn(window, norm="ortho"))
    edges = [-1] + [20 * m / 6 for m in range(1, 7)]
    for m in range(6):
        expected = np.log10((coeffs * band_mask(10, edges[m], edges[m + 1])).sum() + 1e-6)
        assert out[0, m, i, j].item() == pytest.approx(expected, rel=1e-4)


def paper_sigma(w: np.ndarray) -> np.ndarray:
    """The paper's squashing of the learnable filters, (1 - e^-x) / (1 + e^-x)."""
    return (1 - np.exp(-w)) / (1 + np.exp(-w))


@pytest.mark.parametrize("all_pass", [False, True], ids=["paper_9", "all_pass_12"])
def test_fad_bands_match_direct_numpy_computation(all_pass):
    size = 16
    torch.manual_seed(0)
    fad = FAD(size, learnable=True, all_pass_band=all_pass).double()
    img = np.random.default_rng(2).normal(size=(3, size, size))
    out = fad(torch.from_numpy(img).unsqueeze(0))[0].detach().numpy()
    assert fad.out_channels == out.shape[0] == (12 if all_pass else 9)
    d, diag = ortho_dct(size), np.add.outer(np.arange(size), np.arange(size))
    bases = [diag <= size / 2.82, (diag > size / 2.82) & (diag <= size / 2), diag > size / 2]
    bases += [np.ones((size, size), dtype=bool)] if all_pass else []
    for band, (base, f) in enumerate(zip(bases, fad.filters, strict=True)):
        np.testing.assert_array_equal(f.base.numpy(), base)
        h = base + paper_sigma(f.learnable.detach().numpy())
        # y = D^-1 (D(x) ⊙ h) per colour; D^-1 = D^T for the orthonormal DCT
        np.testing.assert_allclose(out[3 * band : 3 * band + 3], d.T @ ((d @ img @ d.T) * h) @ d, atol=1e-6)
    if all_pass:  # with the fixed masks alone the fourth band gives the image back
        fixed = FAD(size, learnable=False, all_pass_band=True).double()
        np.testing.assert_allclose(fixed(torch.from_numpy(img).unsqueeze(0))[0, 9:].numpy(), img, atol=1e-6)


def test_reimplementation_band_edges_share_boundary_diagonals():
    size = 299
    diag = np.add.outer(np.arange(size), np.arange(size))
    masks = [f.base.numpy() for f in FAD(size, learnable=False, band_edges="reimplementation").filters]
    # the re-implementation's bands, both ends included: [0, 299 // 2.82], [299 // 2.82, 299 // 2], [299 // 2, 598]
    for mask, (lo, hi) in zip(masks, [(0, 106), (106, 149), (149, 598)], strict=True):
        np.testing.assert_array_equal(mask, (diag >= lo) & (diag <= hi))
    total = sum(masks)
    assert total.min() == 1 and masks[0][0, 0] == 1  # every coefficient, DC in the low band
    assert np.unique(diag[total == 2]).tolist() == [106, 149]
    # LFS, 10x10 window, 6 bands: coefficients per band; only diagonal 10 (9 of them) lies in two
    paper = [int(f.base.sum()) for f in LFS(learnable=False).filters]
    reimplementation = [
        int(f.base.sum()) for f in LFS(learnable=False, band_edges="reimplementation").filters
    ]
    assert paper == [10, 18, 36, 21, 12, 3] and sum(paper) == 100
    assert reimplementation == [10, 18, 36, 30, 12, 3]
    assert lfs_band_edges(10, 6, "reimplementation")[0][0] == 0.0 and lfs_band_edges(10, 6)[0][0] < 0


@pytest.mark.parametrize("statistic", ["paper", "reimplementation"])
def test_lfs_statistic_matches_its_formula(statistic):
    torch.manual_seed(0)
    lfs = LFS(statistic=statistic).double()  # learnable filters on, input normalised with mean = std = 0.5
    x = torch.rand(1, 3, 24, 24, dtype=torch.float64) * 2 - 1
    out = lfs(x)[0].detach().numpy()
    assert out.shape == (6, 12, 12)
    rgb = x[0].numpy() * 0.5 + 0.5
    gray = (0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]) * 255
    d = ortho_dct(10)
    for i, j in [(0, 0), (5, 7), (11, 3)]:
        coeffs = d @ window_at(gray, i, j) @ d.T
        for m, f in enumerate(lfs.filters):
            base = f.base.numpy()
            h = base + paper_sigma(f.learnable.detach().numpy())
            if statistic == "paper":  # log10 of the L1 norm of the filtered coefficients
                expected = np.log10(np.abs(coeffs * h).sum())
            else:  # log10 of every magnitude, filtered, summed, over the band's size
                expected = (np.log10(np.abs(coeffs)) * h).sum() / base.sum()
            assert out[m, i, j] == pytest.approx(expected, rel=1e-6)


def test_mixblock_starts_as_identity():
    block = MixBlock(8)
    f, g = torch.randn(2, 8, 5, 5), torch.randn(2, 8, 5, 5)
    f2, g2 = block(f, g)  # gates 2·σ(0) - 1 = 0
    torch.testing.assert_close(f2, f, atol=1e-4, rtol=0)  # BN of a constant map: rounding only
    torch.testing.assert_close(g2, g, atol=1e-4, rtol=0)
    with torch.no_grad():
        block.fad_gamma.fill_(2.0)
        block.fad_bn.bias.fill_(0.1)
    assert not torch.allclose(block(f, g)[1], g)


def test_mixblock_attention_is_a_matrix_product_over_rows_on_non_square_maps():
    torch.manual_seed(0)
    block = MixBlock(4).eval()  # BatchNorm with running statistics: a fixed affine map
    with torch.no_grad():
        block.fad_gamma.fill_(1.0)
        block.lfs_gamma.fill_(-0.5)
    f, g = torch.randn(2, 4, 3, 5), torch.randn(2, 4, 3, 5)  # H = 3, W = 5
    f2, g2 = block(f, g)
    # direct: A[i, j] = softmax_j sum_w (Qf[i, w] Kf[j, w] + Ql[i, w] Kl[j, w]); out row i = sum_j A[i, j] x[j]
    energy = torch.einsum("bciw,bcjw->bcij", block.fad_query(f), block.fad_key(f))
    energy = energy + torch.einsum("bciw,bcjw->bcij", block.lfs_query(g), block.lfs_key(g))
    a = torch.softmax(energy, dim=-1)
    gate = lambda t: (1 - torch.exp(-t)) / (1 + torch.exp(-t))  # noqa: E731
    from_lfs = torch.einsum("bcij,bcjw->bciw", a, g) * gate(block.lfs_gamma)
    from_fad = torch.einsum("bcij,bcjw->bciw", a, f) * gate(block.fad_gamma)
    torch.testing.assert_close(f2, f + block.fad_bn(block.fad_conv(from_lfs)))
    torch.testing.assert_close(g2, g + block.lfs_bn(block.lfs_conv(from_fad)))
    assert a.shape == (2, 4, 3, 3)


def test_complete_model_parameter_count_and_structure():
    net = F3Net(pretrained=False)  # the paper's build: 299 px, 9 FAD channels
    assert sum(p.numel() for p in net.parameters()) == 48_224_664
    assert net.backbone["fad"].conv1.in_channels == 9  # 3 bands x RGB
    assert net.backbone["lfs"].conv1.in_channels == 6 and net.backbone["lfs"].conv1.stride == (1, 1)
    assert net.head[1].in_features == 4096
    assert net.input_spec.size == 299 and net.input_spec.mean == (0.5, 0.5, 0.5)


def test_reimplementation_build_parameter_count():
    net = F3Net(fad_all_pass_band=True, lfs_statistic="reimplementation", band_edges="reimplementation")
    # + the all-pass band's learnable 299x299 filter + 3 more input channels of the FAD stem conv
    assert sum(p.numel() for p in net.parameters()) == 48_224_664 + 299 * 299 + 32 * 3 * 3 * 3 == 48_314_929
    assert net.backbone["fad"].conv1.in_channels == 12 and net.fad.out_channels == 12


@pytest.mark.parametrize(
    "switches",
    [{}, dict(fad_all_pass_band=True, lfs_statistic="reimplementation", band_edges="reimplementation")],
    ids=["paper", "reimplementation"],
)
def test_forward_backward_small_input(switches):
    net = F3Net(pretrained=False, input_size=48, **switches)
    assert net.backbone["fad"].conv1.in_channels == (12 if switches else 9)
    out = net(torch.randn(2, 3, 48, 48))
    assert out.shape == (2, 1) and torch.isfinite(out).all()
    out.sum().backward()
    for module in (net.fad, net.lfs, net.mix7, net.mix12, net.backbone, net.head):
        grads = [p.grad for p in module.parameters() if p.requires_grad]
        assert grads and all(g is not None and torch.isfinite(g).all() for g in grads)


def test_unfusable_input_size_names_valid_ones():
    with pytest.raises(ValueError, match=r"input_size=40 .* use e.g. one of \[.*42"):
        F3Net(pretrained=False, input_size=40)


def test_switches_name_the_config_key_when_wrong():
    with pytest.raises(ValueError, match=r"model\.net\.lfs_statistic='mean'.*'paper', 'reimplementation'"):
        F3Net(lfs_statistic="mean", input_size=48)
    with pytest.raises(ValueError, match=r"model\.net\.band_edges='closed'"):
        F3Net(band_edges="closed", input_size=48)


def test_fad_only_is_the_fad_stream_alone_with_2048_features():
    """DeepfakeBench's F3Net: FAD (12 channels with the all-pass band) into one Xception, no LFS/MixBlock."""
    from dfd.models.nets.f3net import F3Net

    net = F3Net(num_classes=2, input_size=64, fad_only=True, fad_all_pass_band=True).eval()
    both = F3Net(num_classes=2, input_size=64).eval()
    assert net.num_features == 2048 and both.num_features == 4096
    assert not any(k.startswith(("lfs", "mix")) for k in net.state_dict())
    assert net.backbone.fad.conv1.in_channels == 12
    with torch.no_grad():
        assert net(torch.randn(2, 3, 64, 64)).shape == (2, 2)
