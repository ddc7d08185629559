"""DeepfakeBench's released Xception and F3Net (release v1.0.1): their files → dfd's ``Xception`` and
``F3Net``.

Xception: Chollet, "Xception: Deep Learning with Depthwise Separable Convolutions", CVPR 2017,
https://arxiv.org/abs/1610.02357, as the FaceForensics++ baseline (Rössler et al., ICCV 2019,
https://arxiv.org/abs/1901.08971). F3Net: Qian et al., "Thinking in Frequency: Face Forgery
Detection by Mining Frequency-aware Clues", ECCV 2020, https://arxiv.org/abs/2007.09355.
Both trained and released by DeepfakeBench (Yan et al., NeurIPS 2023, https://arxiv.org/abs/2307.01426).

Layout read from DeepfakeBench ``training/networks/xception.py``, ``training/detectors/xception_detector.py``,
``training/detectors/f3net_detector.py``, ``training/config/detector/{xception,f3net}.yaml``,
``training/trainer/trainer.py`` (``save_ckpt``) and ``training/test.py``:

* a release is the detector's ``state_dict()`` saved as it is (``module.``-prefixed when trained
  with DDP; ``test.py`` loads it strictly into the unwrapped detector, so the releases have no
  prefix, but a prefixed file is accepted too);
* the Xception sits at ``backbone.`` in Cadene's pretrainedmodels layout (``conv1``…``bn4``,
  ``block1``…``block12`` with ``rep.<i>`` separable convs ``conv1``/``pointwise``, ``skip``/
  ``skipbn``), which is timm's ``legacy_xception`` key for key; its classifier is
  ``backbone.last_linear`` (a Linear without dropout for Xception; ``Dropout(0.5), Linear``, so
  ``last_linear.1``, for F3Net), 2 classes, applied to ``relu(bn4)`` average-pooled: dfd's
  ``legacy_xception`` ends in that ReLU and pool, and its ``head.1`` is the Linear;
* the Xception also always builds ``backbone.adjust_channel`` (a 2048→512 conv, BatchNorm, ReLU)
  that only its ``adjust_channel`` modes use; both releases run in mode ``original``, so it is
  dropped;
* F3Net is the FAD branch alone (DeepfakeBench follows the yyk-wew/F3Net re-implementation's
  "FAD" mode) feeding one Xception whose first conv takes 12 channels: ``FAD_head._DCT_all``
  (the orthonormal DCT-II matrix at the input size), ``FAD_head._DCT_all_T`` (its transpose, which
  dfd takes by transposing: checked equal, then dropped) and ``FAD_head.filters.<i>.base`` /
  ``.learnable`` for the low, middle, high and all-pass bands, closed edges at ``⌊S/2.82⌋`` and
  ``S/2``: dfd's ``F3Net(fad_only=True, fad_all_pass_band=True, band_edges="reimplementation")``.

The score is ``softmax(logits)[:, 1]`` of the 2 logits (the detectors' ``prob``); both read 256 px
crops normalised with mean = std = 0.5.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import nn

from dfd.models.nets.f3net import F3Net
from dfd.models.nets.xception import Xception
from dfd.published.sources import (
    DEEPFAKEBENCH_CODE,
    DEEPFAKEBENCH_LICENCE,
    DEEPFAKEBENCH_PAPER,
    DEEPFAKEBENCH_TERMS,
    ConversionError,
    Converted,
    Source,
    check_release_keys,
    deepfakebench_contract,
    load_strict,
    state_dict_of,
    strip_prefix,
)

XCEPTION_PAPER = (
    'Rössler et al., "FaceForensics++: Learning to Detect Manipulated Facial Images", ICCV 2019, '
    "https://arxiv.org/abs/1901.08971"
)
F3NET_PAPER = (
    'Qian et al., "Thinking in Frequency: Face Forgery Detection by Mining Frequency-aware Clues", '
    "ECCV 2020, https://arxiv.org/abs/2007.09355"
)

#: the file's keys left out on purpose, by prefix, and why
ADJUST_CHANNEL = {
    "backbone.adjust_channel.": "DeepfakeBench's 2048→512 reduction, used only in its adjust_channel modes; "
    "the release runs in mode original",
}
DCT_TRANSPOSE = {
    "FAD_head._DCT_all_T": "the transpose of FAD_head._DCT_all (checked equal), which dfd's FAD takes by transposing",
}


def release_state(obj: Any, source: str) -> dict[str, torch.Tensor]:
    """The detector's state dict in a loaded release, without DDP's ``module.`` prefix."""
    state = state_dict_of(obj, source)
    if all(k.startswith("module.") for k in state):
        state = strip_prefix(state, "module.")
    return state


def fill_from_release(
    net: nn.Module,
    state: Mapping[str, torch.Tensor],
    release_key: Callable[[str], str],
    dropped: Mapping[str, str],
    source: str,
) -> nn.Module:
    """``net`` with each of its keys ``k`` filled from the file's ``release_key(k)``; the file's keys
    under a prefix of ``dropped`` are left out. :class:`ConversionError` naming, in the file's
    names, the keys the release should have and the file lacks, or that it has and nothing reads."""
    wanted = {release_key(k): k for k in net.state_dict()}
    check_release_keys(state, wanted, source, ignored=dropped)
    return load_strict(net, {k: state[r] for r, k in wanted.items()}, source)


def xception_release_key(key: str) -> str:
    """dfd ``Xception`` key → DeepfakeBench Xception detector key."""
    if key.startswith("head.1."):
        return "backbone.last_linear." + key[len("head.1.") :]
    return key  # backbone.*: timm's legacy_xception has Cadene's names


def convert_xception(obj: Any) -> Converted:
    """DeepfakeBench's ``xception_best.pth`` → dfd ``Xception`` (2 classes, 256 px, no dropout)."""
    source = "deepfakebench_xception"
    state = release_state(obj, source)
    kwargs = {"num_classes": 2, "dropout": 0.0, "input_size": deepfakebench_contract().size}
    net = fill_from_release(Xception(**kwargs), state, xception_release_key, ADJUST_CHANNEL, source)
    return Converted(net, "dfd.models.nets.xception.Xception", kwargs, dropped=dict(ADJUST_CHANNEL))


def f3net_release_key(key: str) -> str:
    """dfd ``F3Net(fad_only=True)`` key → DeepfakeBench F3Net detector key."""
    if key == "fad.dct":
        return "FAD_head._DCT_all"
    if key.startswith("fad."):
        return "FAD_head." + key[len("fad.") :]
    if key.startswith("backbone.fad."):
        return "backbone." + key[len("backbone.fad.") :]
    if key.startswith("head.1."):
        return "backbone.last_linear.1." + key[len("head.1.") :]
    return key


def convert_f3net(obj: Any) -> Converted:
    """DeepfakeBench's ``f3net_best.pth`` → dfd ``F3Net`` in DeepfakeBench's variant (FAD branch with
    its all-pass band and closed band edges, one 12-channel Xception stream; 2 classes, 256 px)."""
    source = "deepfakebench_f3net"
    state = release_state(obj, source)
    size = deepfakebench_contract().size
    dct, dct_t = state.get("FAD_head._DCT_all"), state.get("FAD_head._DCT_all_T")
    if dct is not None and tuple(dct.shape) != (size, size):
        raise ConversionError(
            f"source={source}: FAD_head._DCT_all is {tuple(dct.shape)}, the FAD of a "
            f"{dct.shape[-1]} px input; the release's contract is {size} px"
        )
    if dct is not None and dct_t is not None and not torch.equal(dct_t, dct.T):
        raise ConversionError(
            f"source={source}: FAD_head._DCT_all_T is not the transpose of FAD_head._DCT_all, "
            "which dfd's FAD assumes; is the file the release this source names?"
        )
    kwargs = {
        "num_classes": 2,
        "dropout": 0.5,
        "input_size": size,
        "fad_only": True,
        "fad_all_pass_band": True,
        "band_edges": "reimplementation",
    }
    dropped = {**ADJUST_CHANNEL, **DCT_TRANSPOSE}
    net = fill_from_release(F3Net(**kwargs), state, f3net_release_key, dropped, source)
    return Converted(net, "dfd.models.nets.f3net.F3Net", kwargs, dropped=dropped)


SOURCES: dict[str, Source] = {
    "deepfakebench_xception": Source(
        name="deepfakebench_xception",
        title="DeepfakeBench Xception (FF++ c23)",
        paper=f"{XCEPTION_PAPER}; trained and released by {DEEPFAKEBENCH_PAPER}",
        code=DEEPFAKEBENCH_CODE,
        licence=DEEPFAKEBENCH_LICENCE,
        terms=DEEPFAKEBENCH_TERMS,
        non_commercial=True,
        contract=deepfakebench_contract(),
        convert=convert_xception,
        files=("xception_best.pth",),
    ),
    "deepfakebench_f3net": Source(
        name="deepfakebench_f3net",
        title="DeepfakeBench F3Net, FAD branch (FF++ c23)",
        paper=f"{F3NET_PAPER}; trained and released by {DEEPFAKEBENCH_PAPER}",
        code=DEEPFAKEBENCH_CODE,
        licence=DEEPFAKEBENCH_LICENCE,
        terms=DEEPFAKEBENCH_TERMS,
        non_commercial=True,
        contract=deepfakebench_contract(),
        convert=convert_f3net,
        files=("f3net_best.pth",),
    ),
}
