"""The one interface of every net in the zoo (timm's manner): the same leading constructor
arguments, ``pretrained=False`` by default, ``forward_features`` → ``forward_head`` = ``forward``,
``num_features`` and a declared ``input_spec``."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest
import torch
from torch import nn

import dfd.models.nets as nets_pkg
from dfd.core.input_spec import InputSpec
from dfd.models.nets.audio_cnn import AudioCNN
from dfd.models.nets.avff import AVFF
from dfd.models.nets.f3net import F3Net
from dfd.models.nets.hybrid_vit_cnn import HybridViTCNN
from dfd.models.nets.mesonet import Meso4, MesoInception4
from dfd.models.nets.timm_net import TimmNet
from dfd.models.nets.xception import Xception
from tests.av_tiny import TINY, TINY_AUDIO_PATCH, batch

#: Every net at a size that runs in well under a second on CPU, and the inputs it reads.
ZOO = {
    Meso4: (dict(input_size=64), lambda: (torch.rand(2, 3, 64, 64),)),
    MesoInception4: (dict(input_size=64), lambda: (torch.rand(2, 3, 64, 64),)),
    Xception: (dict(input_size=64), lambda: (torch.randn(2, 3, 64, 64),)),
    TimmNet: (dict(model_name="efficientnet_b0", input_size=64), lambda: (torch.randn(2, 3, 64, 64),)),
    F3Net: (dict(input_size=48), lambda: (torch.randn(2, 3, 48, 48),)),
    HybridViTCNN: (dict(input_size=32), lambda: (torch.randn(2, 3, 32, 32),)),
    AVFF: (dict(**TINY, **TINY_AUDIO_PATCH), lambda: batch(b=2)),
    AudioCNN: (dict(), lambda: (torch.randn(2, 1, 32, 48),)),
}
LEADING = ("num_classes", "pretrained", "dropout")


def test_the_zoo_lists_every_net() -> None:
    found = set()
    for info in pkgutil.iter_modules(nets_pkg.__path__):
        module = importlib.import_module(f"dfd.models.nets.{info.name}")
        found |= {
            obj
            for _, obj in inspect.getmembers(module, inspect.isclass)
            if issubclass(obj, nn.Module)
            and obj.__module__ == module.__name__
            and hasattr(obj, "forward_head")
            and not obj.__name__.startswith("_")
        }
    assert found == set(ZOO)


@pytest.mark.parametrize("cls", list(ZOO), ids=lambda c: c.__name__)
def test_leading_constructor_arguments_and_pretrained_off_by_default(cls) -> None:
    params = list(inspect.signature(cls.__init__).parameters.values())[1:]
    assert tuple(p.name for p in params[:3]) == LEADING
    assert params[0].default == 1 and params[1].default is False
    reads_faces = cls is not AudioCNN
    assert (params[3].name == "input_size") is reads_faces


@pytest.mark.parametrize("num_classes", [1, 2])
@pytest.mark.parametrize("cls", list(ZOO), ids=lambda c: c.__name__)
def test_features_then_head_is_forward(cls, num_classes: int) -> None:
    kwargs, inputs = ZOO[cls]
    torch.manual_seed(0)
    net = cls(num_classes=num_classes, **kwargs).eval()
    xs = inputs()
    features = net.forward_features(*xs)
    assert features.shape == (2, net.num_features)
    logits = net.forward_head(features)
    assert logits.shape == (2, num_classes) and torch.isfinite(logits).all()
    torch.testing.assert_close(net(*xs), logits)


@pytest.mark.parametrize("cls", list(ZOO), ids=lambda c: c.__name__)
def test_input_spec_declares_the_input_size(cls) -> None:
    kwargs, _ = ZOO[cls]
    net = cls(**kwargs)
    if cls is AudioCNN:  # reads log-mels, no face crops: nothing for the data side to resize
        assert net.input_spec is None
        return
    assert isinstance(net.input_spec, InputSpec) and net.input_spec.size == kwargs.get("input_size")
    assert len(net.input_spec.mean) == len(net.input_spec.std) == 3


@pytest.mark.parametrize("cls", list(ZOO), ids=lambda c: c.__name__)
def test_gradients_reach_the_features_and_the_head(cls) -> None:
    kwargs, inputs = ZOO[cls]
    net = cls(**kwargs).train()
    net(*inputs()).sum().backward()
    used = [p for p in net.parameters() if p.grad is not None]
    assert used and all(torch.isfinite(p.grad).all() for p in used)
    assert all(p.grad is not None for p in net.head.parameters())
    # stage-1 parts of AVFF (decoders, contrastive projections) take no part in classification
    if cls is not AVFF:
        assert all(p.grad is not None for p in net.parameters() if p.requires_grad)


@pytest.mark.parametrize("cls", [Meso4, MesoInception4, AVFF, AudioCNN], ids=lambda c: c.__name__)
def test_nets_without_downloadable_weights_refuse_pretrained(cls) -> None:
    kwargs, _ = ZOO[cls]
    with pytest.raises(ValueError, match="model.net.pretrained=false"):
        cls(pretrained=True, **kwargs)
