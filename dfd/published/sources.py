"""What a published checkpoint needs to become a dfd model: its source's architecture, input contract
and licence, and the strict key mapping every conversion shares.

A :class:`Source` names the release (``sbi``, ``deepfakebench_xception``, …), the paper, the code
it came from, its licence, the :class:`Contract` its net expects (input size, value scale, face
detector and crop) and ``convert``: the loaded file (what ``torch.load(weights_only=True)`` returns:
plain dicts of tensors) → a dfd net of :data:`dfd.models.nets.NETS` holding its weights, and the
``{"target", "kwargs"}`` that rebuilds that net. Conversions are strict: a key of the file that
maps nowhere, a key of the net that nothing fills, or a shape that differs is refused in one line
(:class:`ConversionError`) rather than left at random initial values.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from dfd.core.errors import DfdError
from dfd.core.input_spec import InputSpec


class ConversionError(DfdError, ValueError):
    """A file does not hold the checkpoint its source describes (wrong keys or shapes), and why."""


@dataclass(frozen=True)
class Contract:
    """What the source's net reads, and how the source made its face crops.

    ``size``, ``mean`` and ``std`` become the folder's ``input_spec`` (the net reads
    ``(pixel / 255 - mean) / std`` of an RGB crop resized to ``size``); ``cropper`` holds the
    :class:`~dfd.preprocessing.faces.FaceCropper` settings that come closest to the source's crops
    (``margin``, ``crop_size``, ``align``, ``align_scale``, ``select``, …), which ``dfd.predict``
    uses; ``differences`` says, for the model card, where dfd's crops still differ.
    """

    size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    #: the value scale in words, e.g. "RGB / 255 in [0, 1], no mean or std"
    scaling: str
    #: the source's face detector, e.g. "RetinaFace (resnet50_2020-07-20)"
    detector: str
    #: the source's crop rule in words
    crop: str
    #: dfd's closest FaceCropper settings (keys of dfd.preprocessing.fingerprint.CROPPER_KEYS)
    cropper: Mapping[str, Any]
    #: frames the source scores per video at test time
    frames_per_video: int = 32
    #: how the source turns frame scores into a video score, in words
    video_score: str = "mean of frame scores"
    #: where dfd's crops differ from the source's (model card, docs/published.md)
    differences: tuple[str, ...] = ()

    def input_spec(self) -> InputSpec:
        return InputSpec(self.size, tuple(self.mean), tuple(self.std))  # type: ignore[arg-type]

    def to_dict(self) -> dict[str, Any]:
        return {
            "size": self.size, "mean": list(self.mean), "std": list(self.std), "scaling": self.scaling,
            "detector": self.detector, "crop": self.crop, "cropper": dict(self.cropper),
            "frames_per_video": self.frames_per_video, "video_score": self.video_score,
            "differences": list(self.differences),
        }  # fmt: skip


@dataclass(frozen=True)
class Converted:
    """A converted checkpoint: the dfd net (weights loaded, eval mode) and what rebuilds it."""

    net: nn.Module
    target: str
    kwargs: dict[str, Any]
    #: keys of the file deliberately not carried over (training-only parts), with the reason
    dropped: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Source:
    """A family's release as the importer sees it (see the module docstring)."""

    name: str
    #: one line: the detector and where it was trained, e.g. "SBI EfficientNet-B4 (FF++ real faces)"
    title: str
    #: citation with URL
    paper: str
    #: the repository the release and its model code come from
    code: str
    #: short licence name, e.g. "CC BY-NC 4.0"
    licence: str
    #: the terms in a few sentences, printed once on import and kept in the card
    terms: str
    non_commercial: bool
    contract: Contract
    #: loaded file → Converted
    convert: Callable[[Any], Converted]
    #: the file names the source releases (for messages), e.g. ("FFraw.tar", "FFc23.tar")
    files: tuple[str, ...] = ()
    #: the score's definition in the source, e.g. "softmax(logits)[:, 1]"
    score: str = "softmax(logits)[:, 1]"


#: source name → the module whose ``SOURCES`` dict defines it (imported on demand: a source's
#: module may need its family's optional packages only when used)
SOURCE_MODULES = {
    "sbi": "dfd.published.efficientnet",
    "deepfakebench_efficientnet_b4": "dfd.published.efficientnet",
    "deepfakebench_xception": "dfd.published.xception",
    "deepfakebench_f3net": "dfd.published.xception",
    "deepfakebench_meso4": "dfd.published.mesonet",
    "deepfakebench_meso4_inception": "dfd.published.mesonet",
    "effort": "dfd.published.clip",
    "gend": "dfd.published.clip",
}


def get_source(name: str) -> Source:
    """The source called ``name``; a one-line error listing the known ones otherwise."""
    if name not in SOURCE_MODULES:
        raise ValueError(f"source={name!r}: expected one of {', '.join(SOURCE_MODULES)}")
    return importlib.import_module(SOURCE_MODULES[name]).SOURCES[name]


def state_dict_of(
    obj: Any, source: str, keys: Iterable[str] = ("model", "state_dict")
) -> dict[str, torch.Tensor]:
    """The tensors of a loaded release: ``obj`` itself when it maps names to tensors, else the first of
    ``keys`` that does (``{"model": …, "optimizer": …, "epoch": …}``)."""
    if isinstance(obj, Mapping) and obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
        return dict(obj)
    if isinstance(obj, Mapping):
        for key in keys:
            inner = obj.get(key)
            if (
                isinstance(inner, Mapping)
                and inner
                and all(isinstance(v, torch.Tensor) for v in inner.values())
            ):
                return dict(inner)
        shown = ", ".join(map(str, list(obj)[:6]))
        raise ConversionError(
            f"source={source}: the file holds a mapping of {shown} but no state dict of tensors "
            f"(looked under {', '.join(keys)}): is it the release the source names?"
        )
    raise ConversionError(f"source={source}: the file holds a {type(obj).__name__}, not a state dict")


def strip_prefix(state: Mapping[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """``state`` with ``prefix`` removed from the keys that have it (``module.`` of DataParallel, …)."""
    return {k[len(prefix) :] if k.startswith(prefix) else k: v for k, v in state.items()}


def listed(**groups: list[str]) -> list[str]:
    """``["2 missing (a, b)", "1 unexpected (c)"]``: each non-empty group of keys, its first three named."""
    return [
        f"{len(keys)} {what} ({', '.join(keys[:3])}{', …' if len(keys) > 3 else ''})"
        for what, keys in groups.items()
        if keys
    ]


def check_release_keys(
    state: Mapping[str, Any], expected: Iterable[str], source: str, ignored: Iterable[str] = ()
) -> None:
    """Refuse a file whose keys are not the release's: :class:`ConversionError` naming, in the file's
    own names, the ``expected`` keys it lacks and the keys it has that nothing reads (other than
    those under an ``ignored`` prefix: training-only parts a converter drops on purpose)."""
    expected = dict.fromkeys(expected)  # in the net's order, each once
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected and not k.startswith(tuple(ignored))]
    problems = listed(missing=missing, unexpected=unexpected)
    if problems:
        raise ConversionError(
            f"source={source}: the file's keys are not the release's: {'; '.join(problems)}. "
            "Is the file the release this source names?"
        )


def load_strict(net: nn.Module, state: Mapping[str, torch.Tensor], source: str) -> nn.Module:
    """Load ``state`` into ``net`` with every key and shape accounted for; :class:`ConversionError`
    naming the first few keys missing, unexpected or of another shape otherwise. Returns ``net``
    in eval mode."""
    own = net.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shapes = [
        f"{k} {tuple(state[k].shape)} vs {tuple(own[k].shape)}"
        for k in own
        if k in state and tuple(state[k].shape) != tuple(own[k].shape)
    ]
    problems = listed(missing=missing, unexpected=unexpected, shape=shapes)
    if problems:
        raise ConversionError(
            f"source={source}: the converted weights do not fit dfd's net: {'; '.join(problems)}. "
            "Is the file the release this source names?"
        )
    net.load_state_dict({k: v.to(own[k].dtype) for k, v in state.items()}, strict=True)
    return net.eval()


# -- DeepfakeBench's released baselines share their paper, licence and preprocessing -------------------

DEEPFAKEBENCH_PAPER = (
    'Yan et al., "DeepfakeBench: A Comprehensive Benchmark of Deepfake Detection", NeurIPS 2023 '
    "Datasets and Benchmarks, https://arxiv.org/abs/2307.01426"
)
DEEPFAKEBENCH_CODE = "https://github.com/SCLBD/DeepfakeBench (release v1.0.1)"
DEEPFAKEBENCH_LICENCE = "CC BY-NC 4.0"
DEEPFAKEBENCH_TERMS = (
    "DeepfakeBench and its released weights are licensed under Creative Commons Attribution-NonCommercial "
    "4.0 (https://creativecommons.org/licenses/by-nc/4.0/): use them for non-commercial purposes only, "
    "and credit DeepfakeBench (Yan et al., NeurIPS 2023) when you share results."
)


def deepfakebench_contract(size: int = 256) -> Contract:
    """DeepfakeBench's preprocessing (``preprocessing/preprocess.py``, ``training/config/detector/*.yaml``):
    32 evenly spaced frames, dlib's face detector and 81-point landmarks, the face aligned on them and
    cropped at 1.3× scale to 256 px, RGB normalised with mean = std = 0.5."""
    return Contract(
        size=size,
        mean=(0.5, 0.5, 0.5),
        std=(0.5, 0.5, 0.5),
        scaling="RGB / 255, then (x - 0.5) / 0.5, in [-1, 1]",
        detector="dlib frontal face detector (HOG) + 81-point shape predictor",
        crop="aligned on the landmarks (similarity to a 5-point template), 1.3x scale, 256 px",
        cropper={"margin": 0.3, "crop_size": 256, "align": True, "align_scale": 1.3, "select": "largest"},
        frames_per_video=32,
        video_score="mean of frame scores",
        differences=(
            "faces found by MTCNN rather than dlib's HOG detector",
            "aligned on MTCNN's 5 points rather than 5 points derived from dlib's 81 landmarks",
        ),
    )
