"""DeepfakeBench's released MesoNets (``meso4_best.pth``, ``meso4Incep_best.pth``) as dfd's
:class:`~dfd.models.nets.mesonet.Meso4` and :class:`~dfd.models.nets.mesonet.MesoInception4`.

Afchar, Nozick, Yamagishi, Echizen, "MesoNet: a Compact Facial Video Forgery Detection Network",
IEEE WIFS 2018, https://arxiv.org/abs/1809.00888; trained and released by DeepfakeBench (Yan et al.,
NeurIPS 2023) on FaceForensics++ c23. Layout read from DeepfakeBench ``training/networks/mesonet.py``
(the nets), ``training/detectors/meso4_detector.py`` and ``meso4Inception_detector.py`` (the net is
the detector's ``backbone``; score ``softmax(logits)[:, 1]``), ``training/config/detector/meso4.yaml``
and ``meso4Inception.yaml`` (256 px, mean = std = 0.5, two classes) and ``training/trainer/trainer.py``
(the release is the detector's bare ``state_dict()``: keys ``backbone.<layer>.<param>``; a file saved
from a DistributedDataParallel run adds ``module.`` in front, which is accepted too).

DeepfakeBench's port departs from the paper in ways dfd's nets rebuild with keyword options
(see :mod:`dfd.models.nets.mesonet`): convolutions without bias (``conv_bias=False``), PyTorch's
BatchNorm epsilon 1e-5 (``bn_eps=1e-5``) and, in MesoInception-4, inception branches without ReLU
(``inception_relu=False``). It also reuses one BatchNorm for two stages (``bn1`` after conv 1 and 2
and ``bn2`` after conv 3 and 4 of Meso-4; ``bn1`` after both 5x5 convolutions of MesoInception-4):
each shared BatchNorm fills both of dfd's, which is the same function in evaluation mode. Its
max-pooling floors where dfd's keeps the partial window; at 256 px every stage divides evenly, so
the two agree, and its first dense layer reads the same 16 x 8 x 8 features.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch

from dfd.models.nets.mesonet import Meso4, MesoInception4
from dfd.published.sources import (
    DEEPFAKEBENCH_CODE,
    DEEPFAKEBENCH_LICENCE,
    DEEPFAKEBENCH_TERMS,
    Converted,
    Source,
    check_release_keys,
    deepfakebench_contract,
    load_strict,
    state_dict_of,
    strip_prefix,
)

MESONET_PAPER = (
    'Afchar et al., "MesoNet: a Compact Facial Video Forgery Detection Network", IEEE WIFS 2018, '
    "https://arxiv.org/abs/1809.00888; weights trained and released by DeepfakeBench (Yan et al., "
    "NeurIPS 2023, https://arxiv.org/abs/2307.01426)"
)

#: the options that turn dfd's nets into DeepfakeBench's port (see the module docstring)
DEEPFAKEBENCH_MESO4 = {"num_classes": 2, "input_size": 256, "conv_bias": False, "bn_eps": 1e-5}
DEEPFAKEBENCH_MESO_INCEPTION4 = {**DEEPFAKEBENCH_MESO4, "inception_relu": False}

#: DeepfakeBench's layer (under ``backbone.``) → the dfd layers it fills (two for a shared BatchNorm)
MESO4_LAYERS: dict[str, tuple[str, ...]] = {
    "conv1": ("backbone.0.0",),
    "bn1": ("backbone.1", "backbone.4"),
    "conv2": ("backbone.3.0",),
    "conv3": ("backbone.6.0",),
    "bn2": ("backbone.7", "backbone.10"),
    "conv4": ("backbone.9.0",),
    "fc1": ("head.2",),
    "fc2": ("head.5",),
}


def _inception_layers(n: int, at: str) -> dict[str, tuple[str, ...]]:
    """Inception layer ``n`` of DeepfakeBench (``Incption<n>_conv<branch>[_<step>]``) → dfd's
    :class:`~dfd.models.nets.mesonet.InceptionLayer` at ``at``."""
    return {
        f"Incption{n}_conv1": (f"{at}.branch1.0",),
        **{
            f"Incption{n}_conv{branch}_{step}": (f"{at}.branch{branch}.{step - 1}.0",)
            for branch in (2, 3, 4)
            for step in (1, 2)
        },
    }


MESO_INCEPTION4_LAYERS: dict[str, tuple[str, ...]] = {
    **_inception_layers(1, "backbone.0"),
    "Incption1_bn": ("backbone.1",),
    **_inception_layers(2, "backbone.3"),
    "Incption2_bn": ("backbone.4",),
    "conv1": ("backbone.6.0",),
    "bn1": ("backbone.7", "backbone.10"),
    "conv2": ("backbone.9.0",),
    "fc1": ("head.2",),
    "fc2": ("head.5",),
}


def map_layers(
    state: Mapping[str, torch.Tensor],
    own: Mapping[str, torch.Tensor],
    layers: Mapping[str, tuple[str, ...]],
    source: str,
) -> dict[str, torch.Tensor]:
    """dfd's state dict from DeepfakeBench's (``backbone.<layer>.<param>``, ``module.`` stripped):
    each parameter of a layer in ``layers`` copied to every dfd layer it names. The file must hold
    exactly the keys that ``own`` (dfd's net's state dict) implies; :class:`ConversionError` naming
    the file's keys missing or unexpected otherwise."""
    state = strip_prefix(state, "module.")
    expected: dict[str, list[str]] = {}
    for layer, targets in layers.items():
        first = targets[0] + "."
        for key in own:
            if key.startswith(first):
                param = key[len(first) :]
                expected[f"backbone.{layer}.{param}"] = [f"{t}.{param}" for t in targets]
    check_release_keys(state, expected, source)
    return {target: state[key] for key, targets in expected.items() for target in targets}


def _converter(
    cls: type, kwargs: dict[str, Any], layers: Mapping[str, tuple[str, ...]], source: str
) -> Callable[[Any], Converted]:
    """The release file → ``cls(**kwargs)`` holding its weights (:func:`map_layers`, then strict loading)."""

    def convert(obj: Any) -> Converted:
        net = cls(**kwargs)
        mapped = map_layers(state_dict_of(obj, source), net.state_dict(), layers, source)
        load_strict(net, mapped, source)
        return Converted(net=net, target=f"{cls.__module__}.{cls.__name__}", kwargs=dict(kwargs))

    return convert


def _source(
    name: str,
    title: str,
    cls: type,
    kwargs: dict[str, Any],
    layers: Mapping[str, tuple[str, ...]],
    release: str,
) -> Source:
    return Source(
        name=name,
        title=title,
        paper=MESONET_PAPER,
        code=DEEPFAKEBENCH_CODE,
        licence=DEEPFAKEBENCH_LICENCE,
        terms=DEEPFAKEBENCH_TERMS,
        non_commercial=True,
        contract=deepfakebench_contract(256),
        convert=_converter(cls, kwargs, layers, name),
        files=(release,),
        score="softmax(logits)[:, 1]",
    )


SOURCES: dict[str, Source] = {
    "deepfakebench_meso4": _source(
        "deepfakebench_meso4", "DeepfakeBench Meso4 (FF++ c23)", Meso4, DEEPFAKEBENCH_MESO4,
        MESO4_LAYERS, "meso4_best.pth",
    ),
    "deepfakebench_meso4_inception": _source(
        "deepfakebench_meso4_inception", "DeepfakeBench MesoInception4 (FF++ c23)", MesoInception4,
        DEEPFAKEBENCH_MESO_INCEPTION4, MESO_INCEPTION4_LAYERS, "meso4Incep_best.pth",
    ),
}  # fmt: skip
