"""ResNet18 + ViT-B/16 hybrid: the seed report's parameter count, re-normalisation, gradients."""

import torch

from dfd.models.nets.hybrid_vit_cnn import HybridViTCNN


def test_parameter_count_matches_seed_report():
    with torch.device("meta"):  # 98M parameters: count them without allocating memory
        net = HybridViTCNN(pretrained=False)
    assert sum(p.numel() for p in net.parameters()) == 97_894_209
    assert sum(p.numel() for p in net.head.parameters()) == 1280 * 512 + 512 + 512 * 512 + 512 + 512 + 1
    assert net.input_spec.size == 224


def test_vit_branch_sees_its_own_normalisation():
    net = HybridViTCNN(pretrained=False, input_size=32)
    img = torch.rand(1, 3, 8, 8)
    spec = net.input_spec
    x = (img - torch.tensor(spec.mean).view(1, 3, 1, 1)) / torch.tensor(spec.std).view(1, 3, 1, 1)
    # vit_base_patch16_224 (augreg) was pretrained on (img - 0.5) / 0.5.
    torch.testing.assert_close(x * net.vit_scale + net.vit_shift, (img - 0.5) / 0.5, atol=1e-5, rtol=1e-5)
