"""Any-timm net: EfficientNet-B4 count, input spec from timm's config, errors, gradients."""

import pytest
import timm
import torch

from dfd.models.nets.timm_net import TimmNet


def test_efficientnet_b4_parameter_count_and_spec():
    with torch.device("meta"):
        net = TimmNet(
            model_name="efficientnet_b4", pretrained=False, dropout=0.4, drop_path_rate=0.2, input_size=380
        )
    # timm efficientnet_b4 without classifier: 17,548,616; our head: 1792 + 1.
    assert sum(p.numel() for p in net.parameters()) == 17_548_616 + 1792 + 1
    assert net.input_spec.size == 380
    assert net.input_spec.mean == pytest.approx((0.485, 0.456, 0.406))


def test_default_timm_config_model_count():
    with torch.device("meta"):
        net = TimmNet(model_name="efficientnet_b0", pretrained=False, dropout=0.2)  # conf/model/timm.yaml
    assert sum(p.numel() for p in net.parameters()) == 4_007_548 + 1280 + 1
    assert net.input_spec.size == 224


def test_spec_defaults_to_timm_pretrained_config():
    with torch.device("meta"):
        net = TimmNet(model_name="vit_tiny_patch16_224", pretrained=False)
    assert net.input_spec.size == 224
    assert net.input_spec.mean == pytest.approx((0.5, 0.5, 0.5))


def test_unknown_model_name_is_a_clear_error():
    with pytest.raises(ValueError, match="model.net.model_name='efficientnet_b99'"):
        TimmNet(model_name="efficientnet_b99", pretrained=False)


def test_forward_backward_and_drop_path():
    net = TimmNet(
        model_name="efficientnet_b0", pretrained=False, num_classes=2, dropout=0.2, drop_path_rate=0.1
    )
    drop_paths = [m.drop_prob for m in net.backbone.modules() if isinstance(m, timm.layers.DropPath)]
    assert drop_paths and 0.05 < max(drop_paths) <= 0.1  # timm ramps the rate up to the last block
    out = net(torch.randn(2, 3, 64, 64))
    assert out.shape == (2, 2)
    out.sum().backward()
    assert all(torch.isfinite(p.grad).all() for p in net.parameters() if p.grad is not None)
    assert net.head[1].weight.grad is not None
