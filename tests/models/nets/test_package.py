"""The one interface of every registered net (timm's manner): the same leading constructor
arguments, ``pretrained=False`` by default, ``forward_features`` → ``forward_head`` = ``forward``,
``num_features`` and a declared ``input_spec``. Every net of :data:`dfd.models.nets.NETS` is built
at its own ``small_config``; no table here lists them."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from typing import Any

import pytest
import torch
from torch import nn

import dfd.models.nets as nets_pkg
from dfd.core.input_spec import InputSpec
from dfd.models.nets import NETS, net_class
from dfd.models.nets.base import Net
from tests.conf_files import group_configs

#: Every registered net class, in registry order.
ZOO = [net_class(target) for target in NETS]
LEADING = ("num_classes", "pretrained", "dropout")


#: ``conf/model/<name>.yaml`` → the net it builds (``model.net._target_``).
MODEL_NETS = {name: cfg["net"]["_target_"] for name, cfg in group_configs("model").items()}


def small(cls: type[Net], **overrides: Any) -> Net:
    """``cls`` at its test size."""
    return cls(**{**cls.small_config, **overrides})


def test_the_registry_lists_every_net_class_of_the_package() -> None:
    found = set()
    for info in pkgutil.iter_modules(nets_pkg.__path__):
        module = importlib.import_module(f"dfd.models.nets.{info.name}")
        found |= {
            obj
            for _, obj in inspect.getmembers(module, inspect.isclass)
            if issubclass(obj, nn.Module)
            and obj.__module__ == module.__name__
            and hasattr(obj, "forward_head")
            and obj is not Net
            and not obj.__name__.startswith("_")
        }
    assert found == set(ZOO)
    assert len(NETS) == len(set(NETS))


@pytest.mark.parametrize("cls", ZOO, ids=lambda c: c.__name__)
def test_every_registered_net_shares_the_base_and_declares_a_small_config(cls) -> None:
    assert issubclass(cls, Net)
    assert isinstance(getattr(cls, "small_config", None), dict), (
        f"{cls.__name__} declares no small_config: set the class attribute in {cls.__module__} "
        "(see dfd.models.nets)"
    )
    assert set(cls.small_config) <= set(inspect.signature(cls.__init__).parameters)


def test_model_configs_and_the_registry_name_the_same_nets() -> None:
    assert set(MODEL_NETS.values()) == set(NETS), (
        "a conf/model file names an unregistered net, or a net has no config"
    )


@pytest.mark.parametrize("cls", ZOO, ids=lambda c: c.__name__)
def test_leading_constructor_arguments_and_pretrained_off_by_default(cls) -> None:
    params = list(inspect.signature(cls.__init__).parameters.values())[1:]
    assert tuple(p.name for p in params[:3]) == LEADING
    assert params[0].default == 1 and params[1].default is False
    with torch.device("meta"):  # only the declared spec is read
        reads_faces = small(cls).input_spec is not None
    assert (params[3].name == "input_size") is reads_faces


@pytest.mark.parametrize("num_classes", [1, 2])
@pytest.mark.parametrize("cls", ZOO, ids=lambda c: c.__name__)
def test_features_then_head_is_forward(cls, num_classes: int) -> None:
    torch.manual_seed(0)
    net = small(cls, num_classes=num_classes).eval()
    xs = net.example_inputs(batch_size=2)
    features = net.forward_features(*xs)
    assert features.shape == (2, net.num_features)
    logits = net.forward_head(features)
    assert logits.shape == (2, num_classes) and torch.isfinite(logits).all()
    torch.testing.assert_close(net(*xs), logits)


@pytest.mark.parametrize("cls", ZOO, ids=lambda c: c.__name__)
def test_input_spec_declares_the_input_size(cls) -> None:
    net = small(cls)
    if "input_size" not in inspect.signature(cls.__init__).parameters:
        # reads no face crops (log-mels): nothing for the data side to resize
        assert net.input_spec is None
        return
    assert isinstance(net.input_spec, InputSpec) and net.input_spec.size == cls.small_config["input_size"]
    assert len(net.input_spec.mean) == len(net.input_spec.std) == 3
    (video_or_image, *_) = net.example_inputs(batch_size=3)
    assert video_or_image.shape[0] == 3 and video_or_image.shape[-3:] == (
        3,
        net.input_spec.size,
        net.input_spec.size,
    )


@pytest.mark.parametrize("cls", ZOO, ids=lambda c: c.__name__)
def test_gradients_reach_the_features_and_the_head(cls) -> None:
    net = small(cls).train()
    net(*net.example_inputs()).sum().backward()
    used = [p for p in net.parameters() if p.grad is not None]
    assert used and all(torch.isfinite(p.grad).all() for p in used)
    assert all(p.grad is not None for p in net.head.parameters())
    # stage-1 parts of AVFF (decoders, contrastive projections) take no part in classification
    if cls.__name__ != "AVFF":
        assert all(p.grad is not None for p in net.parameters() if p.requires_grad)


@pytest.mark.parametrize(
    "target",
    ["dfd.models.nets.mesonet.Meso4", "dfd.models.nets.mesonet.MesoInception4", "dfd.models.nets.avff.AVFF",
     "dfd.models.nets.audio_cnn.AudioCNN"],
)  # fmt: skip
def test_nets_without_downloadable_weights_refuse_pretrained(target: str) -> None:
    cls = net_class(target)
    with pytest.raises(ValueError, match="model.net.pretrained=false"):
        cls(**{**cls.small_config, "pretrained": True})


def test_net_class_refuses_an_unregistered_name() -> None:
    with pytest.raises(ValueError, match="'torch.nn.Linear' is not a registered net"):
        net_class("torch.nn.Linear")
