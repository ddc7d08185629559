"""F3-Net (Qian et al., ECCV 2020): DCT bands against scipy, LFS statistics, MixBlock, streams."""

import numpy as np
import pytest
import torch
from scipy.fft import dct, dctn, idctn

from dfd.models.nets.f3net import FAD, LFS, F3Net, MixBlock, band_mask, dct_matrix, fad_band_edges


def test_dct_matrix_is_scipy_orthonormal_dct():
    x = np.random.default_rng(0).normal(size=(13, 5))
    np.testing.assert_allclose(dct_matrix(13) @ x, dct(x, type=2, norm="ortho", axis=0), atol=1e-10)


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


def test_complete_model_parameter_count_and_structure():
    net = F3Net(pretrained=False)
    assert sum(p.numel() for p in net.parameters()) == 48_224_664
    assert net.backbone["fad"].conv1.in_channels == 9  # 3 bands x RGB
    assert net.backbone["lfs"].conv1.in_channels == 6 and net.backbone["lfs"].conv1.stride == (1, 1)
    assert net.head[1].in_features == 4096
    assert net.input_spec.size == 299 and net.input_spec.mean == (0.5, 0.5, 0.5)


def test_forward_backward_small_input():
    net = F3Net(pretrained=False, input_size=48)
    out = net(torch.randn(2, 3, 48, 48))
    assert out.shape == (2, 1) and torch.isfinite(out).all()
    out.sum().backward()
    for module in (net.fad, net.lfs, net.mix7, net.mix12, net.backbone, net.head):
        grads = [p.grad for p in module.parameters() if p.requires_grad]
        assert grads and all(g is not None and torch.isfinite(g).all() for g in grads)


def test_unfusable_input_size_names_valid_ones():
    with pytest.raises(ValueError, match=r"input_size=40 .* use e.g. one of \[.*42"):
        F3Net(pretrained=False, input_size=40)
