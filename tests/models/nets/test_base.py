"""The shared base of the nets: ``forward`` is ``forward_head ∘ forward_features``, and moving the
nets onto it left their state dicts, and so every checkpoint written before, unchanged."""

from __future__ import annotations

import hashlib

import pytest
import torch
from torch import nn

from dfd.core.input_spec import InputSpec
from dfd.models.nets import net_class
from dfd.models.nets.base import Net, linear_head

#: sha256 (first 16 hex digits) of the ``key:shape`` lines of each net's state dict at its
#: small_config, as the nets wrote them before the shared base (dfd 11a6a89), and the key count.
STATE_DICTS = {
    "dfd.models.nets.mesonet.Meso4": ("af9dde0a9fc4243f", 32),
    "dfd.models.nets.mesonet.MesoInception4": ("13effbe91e72c97a", 56),
    "dfd.models.nets.xception.Xception": ("9d86ab186ae85178", 276),
    "dfd.models.nets.timm_net.TimmNet": ("70c2305849230d10", 360),
    "dfd.models.nets.f3net.F3Net": ("3bcf9a28a9a93c70", 621),
    "dfd.models.nets.hybrid_vit_cnn.HybridViTCNN": ("130f8cf94dca2673", 276),
    "dfd.models.nets.avff.AVFF": ("545326dd8526f435", 136),
    "dfd.models.nets.audio_cnn.AudioCNN": ("b96ac61f7a51ed6f", 26),
}


@pytest.mark.parametrize("target", list(STATE_DICTS), ids=lambda t: t.rsplit(".", 1)[1])
def test_state_dict_keys_are_those_of_earlier_checkpoints(target: str) -> None:
    cls = net_class(target)
    with torch.device("meta"):  # names and shapes only
        state = cls(**cls.small_config).state_dict()
    lines = "\n".join(f"{k}:{tuple(v.shape)}" for k, v in state.items())
    assert (hashlib.sha256(lines.encode()).hexdigest()[:16], len(state)) == STATE_DICTS[target]


class _Tiny(Net):
    small_config = {}

    def __init__(self, num_classes: int = 1, pretrained: bool = False, dropout: float = 0.0) -> None:
        super().__init__()
        self.input_spec = InputSpec(size=8)
        self.backbone = nn.Sequential(nn.Conv2d(3, 4, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.num_features, self.num_classes = 4, num_classes
        self.head = linear_head(4, num_classes, dropout)


def test_forward_is_the_head_of_the_backbone_features() -> None:
    net = _Tiny(num_classes=2).eval()
    (x,) = net.example_inputs(batch_size=3, seed=1)
    assert x.shape == (3, 3, 8, 8)
    torch.testing.assert_close(net(x), net.head(net.backbone(x)))
    assert [k for k in net.state_dict() if k.startswith("head.")] == ["head.1.weight", "head.1.bias"]
    torch.testing.assert_close(net.example_inputs(seed=1)[0], x[:2])  # the seed fixes the inputs


def test_a_net_without_face_crops_must_give_its_own_example_inputs() -> None:
    net = _Tiny()
    net.input_spec = None
    with pytest.raises(NotImplementedError, match="_Tiny reads no face crops"):
        net.example_inputs()


#: Every registered net that reads one batch of face crops: the ones that can localise.
LOCALIZING = [t for t in STATE_DICTS if net_class(t).example_inputs is Net.example_inputs]


@pytest.mark.parametrize("target", LOCALIZING, ids=lambda t: t.rsplit(".", 1)[1])
def test_the_localisation_head_predicts_a_mask_at_the_input_size_and_leaves_the_logits(target) -> None:
    cls = net_class(target)
    torch.manual_seed(0)
    plain = cls(**cls.small_config).eval()
    torch.manual_seed(0)
    net = cls(**cls.small_config, localization=True).eval()
    heads = {k for k in net.state_dict() if k.startswith("mask_head.")}
    assert heads == {"mask_head.conv.weight", "mask_head.conv.bias"}
    # the same weights but the head: the classifier's path is the plain net's
    assert plain.load_state_dict({k: v for k, v in net.state_dict().items() if k not in heads}) is not None
    x = plain.example_inputs(batch_size=3)[0]
    with torch.no_grad():
        logits, mask = net.forward_with_mask(x)
        assert torch.allclose(logits, plain(x), atol=1e-5)
        assert torch.allclose(net(x), logits, atol=1e-5)  # forward stays the logits alone
    size = x.shape[-1]
    assert mask.shape == (3, 1, size, size)
    assert not plain.localization and not hasattr(plain, "mask_head")


def test_nets_without_a_map_refuse_localisation_naming_the_nets_that_have_one() -> None:
    from dfd.models.nets.timm_net import TimmNet

    with pytest.raises(ValueError, match=r"tokens, not a map.*model.localization=false.*Xception"):
        TimmNet(
            model_name="vit_tiny_patch16_224", input_size=32, timm_kwargs={"img_size": 32}, localization=True
        )
    with pytest.raises(ValueError, match="set model.localization=true"):
        net_class("dfd.models.nets.mesonet.Meso4")(input_size=64).forward_with_mask(torch.zeros(1, 3, 64, 64))
