"""Xception (timm legacy_xception + our dropout head): parameter count, contract, gradients."""

import torch

from dfd.models.nets.xception import Xception


def test_parameter_count_and_input_spec():
    with torch.device("meta"):
        net = Xception(pretrained=False)
    # legacy_xception without classifier: 20,806,952; our head: 2048 weights + 1 bias.
    assert sum(p.numel() for p in net.parameters()) == 20_806_952 + 2049
    assert net.input_spec == Xception.input_spec
    assert (net.input_spec.size, net.input_spec.mean, net.input_spec.std) == (299, (0.5,) * 3, (0.5,) * 3)


def test_dropout_acts_in_our_head():
    net = Xception(pretrained=False, dropout=0.5, input_size=64).train()
    features = torch.ones(4, 2048)
    a, b = net.head(features), net.head(features)
    assert not torch.equal(a, b)  # timm's drop_rate would be a no-op here; ours is not
    net.eval()
    assert torch.equal(net.head(features), net.head(features))
