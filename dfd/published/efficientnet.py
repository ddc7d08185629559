"""EfficientNet-B4 releases: Self-Blended Images' (``sbi``) and DeepfakeBench's (``deepfakebench_efficientnet_b4``).

Both trained EfficientNet-B4 (Tan & Le, "EfficientNet: Rethinking Model Scaling for Convolutional
Neural Networks", ICML 2019, https://arxiv.org/abs/1905.11946) as the efficientnet-pytorch package
builds it: TensorFlow's "same" padding and BatchNorm eps 1e-3, which is timm's ``tf_efficientnet_b4``
(not ``efficientnet_b4``, which pads symmetrically). Both import as
:class:`~dfd.models.nets.timm_net.TimmNet` ``(model_name="tf_efficientnet_b4", num_classes=2)``, the
keys renamed one for one (:func:`efficientnet_pytorch_keys`):

- ``_conv_stem``, ``_bn0``, ``_conv_head``, ``_bn1`` → ``conv_stem``, ``bn1``, ``conv_head``, ``bn2``;
- ``_blocks.<i>`` → ``blocks.<stage>.<block>``, ``i`` counted through timm's stages in order (its
  stages are the block arguments' repeats, e.g. 2, 4, 4, 6, 6, 8, 2 for B4);
- within a block with an expansion: ``_expand_conv``, ``_bn0``, ``_depthwise_conv``, ``_bn1``,
  ``_se_reduce``, ``_se_expand``, ``_project_conv``, ``_bn2`` → ``conv_pw``, ``bn1``, ``conv_dw``,
  ``bn2``, ``se.conv_reduce``, ``se.conv_expand``, ``conv_pwl``, ``bn3``; in the first stage
  (expansion 1, timm's depthwise-separable block) ``_depthwise_conv``, ``_bn1``, ``_project_conv``,
  ``_bn2`` → ``conv_dw``, ``bn1``, ``conv_pw``, ``bn2``;
- the classifier → ``head.1`` (TimmNet's Dropout → Linear).

**SBI** (Shiohara & Yamasaki, "Detecting Deepfakes with Self-Blended Images", CVPR 2022,
https://arxiv.org/abs/2204.08376). Layout read from mapooon/SelfBlendedImages ``src/model.py``,
``src/train_sbi.py`` and ``src/inference/``: ``FFraw.tar`` and ``FFc23.tar`` are
``torch.save({"model", "optimizer", "epoch"})`` of a module whose ``net`` is efficientnet-pytorch's
B4 with a 2-way ``_fc``; it reads RGB / 255 at 380 px with no mean or std and scores
``softmax[:, 1]``. At 380 px efficientnet-pytorch's padding (fixed when the model is built, for
B4's 380 px) equals timm's, computed from each input.

**DeepfakeBench** (layout read from SCLBD/DeepfakeBench ``training/networks/efficientnetb4.py``,
``training/detectors/efficientnetb4_detector.py``, ``training/config/detector/efficientnetb4.yaml``,
``training/trainer/trainer.py``, ``training/test.py``, as of v1.0.1 and today): ``effnb4_best.pth``
is the detector's plain state dict: ``backbone.efficientnet.*`` (efficientnet-pytorch's B4, its
``_fc`` an identity) and ``backbone.last_layer`` (Linear 1792 → 2 on the average-pooled map, no
dropout). The detector departs from efficientnet-pytorch twice, and dfd reproduces both with
TimmNet's ``conv_padding``: its stem is a plain ``Conv2d(3, 48, 3, stride=2)`` with no padding,
and its blocks keep the padding efficientnet-pytorch fixed for 380 px while they are fed 256 px
(:data:`DEEPFAKEBENCH_B4_PADDING`). A trainer run with DDP saves ``module.`` keys; they are accepted.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from dfd.models.nets.timm_net import TimmNet
from dfd.published.sources import (
    DEEPFAKEBENCH_CODE,
    DEEPFAKEBENCH_LICENCE,
    DEEPFAKEBENCH_PAPER,
    DEEPFAKEBENCH_TERMS,
    Contract,
    Converted,
    Source,
    check_release_keys,
    deepfakebench_contract,
    load_strict,
    state_dict_of,
    strip_prefix,
)

TARGET = "dfd.models.nets.timm_net.TimmNet"

#: timm's top-level layers → efficientnet-pytorch's
TOP_LAYERS = {"conv_stem": "_conv_stem", "bn1": "_bn0", "conv_head": "_conv_head", "bn2": "_bn1"}
#: a block with an expansion (timm's InvertedResidual) → efficientnet-pytorch's MBConvBlock
EXPANDED_BLOCK = {
    "conv_pw": "_expand_conv", "bn1": "_bn0", "conv_dw": "_depthwise_conv", "bn2": "_bn1",
    "se.conv_reduce": "_se_reduce", "se.conv_expand": "_se_expand", "conv_pwl": "_project_conv", "bn3": "_bn2",
}  # fmt: skip
#: a block of expansion 1 (timm's DepthwiseSeparableConv) → efficientnet-pytorch's MBConvBlock
SEPARABLE_BLOCK = {
    "conv_dw": "_depthwise_conv", "bn1": "_bn1", "se.conv_reduce": "_se_reduce",
    "se.conv_expand": "_se_expand", "conv_pw": "_project_conv", "bn2": "_bn2",
}  # fmt: skip

#: DeepfakeBench's padding as timm's ``conv_padding`` ([left, right, top, bottom], px): the stem
#: unpadded, and the stride-2 depthwise convolutions padded as TensorFlow's "same" rule gives for
#: the 190, 95, 48 and 24 px they would see in a 380 px image (what efficientnet-pytorch fixes at
#: build time). Fed 256 px, timm's own padding would shift every later sampling grid.
DEEPFAKEBENCH_B4_PADDING = {
    "conv_stem": [0, 0, 0, 0],
    "blocks.1.0.conv_dw": [0, 1, 0, 1],
    "blocks.2.0.conv_dw": [2, 2, 2, 2],
    "blocks.3.0.conv_dw": [0, 1, 0, 1],
    "blocks.5.0.conv_dw": [1, 2, 1, 2],
}


def efficientnet_pytorch_keys(backbone: nn.Module) -> dict[str, str]:
    """Each tensor of a timm ``tf_efficientnet_*`` backbone (headless) → the efficientnet-pytorch
    key that holds it (without the model's prefix)."""
    flat = {}
    for stage_index, stage in enumerate(backbone.blocks):
        for block_index, block in enumerate(stage):
            table = EXPANDED_BLOCK if hasattr(block, "conv_pwl") else SEPARABLE_BLOCK
            flat[f"{stage_index}.{block_index}"] = (len(flat), table)
    names = {}
    for key in backbone.state_dict():
        layer, _, tensor = key.rpartition(".")
        if layer in TOP_LAYERS:
            names[key] = f"{TOP_LAYERS[layer]}.{tensor}"
            continue
        _, stage_index, block_index, part = layer.split(".", 3)
        index, table = flat[f"{stage_index}.{block_index}"]
        names[key] = f"_blocks.{index}.{table[part]}.{tensor}"
    return names


def convert_efficientnet_pytorch(
    state: Mapping[str, torch.Tensor], source: str, prefix: str, classifier: str, kwargs: dict[str, Any]
) -> Converted:
    """``TimmNet(**kwargs)`` holding the efficientnet-pytorch weights found under ``prefix`` and the
    Linear classifier under ``classifier`` (both key prefixes of ``state``). Every key of ``state``
    must be used: :class:`ConversionError` names the missing and the unexpected ones otherwise."""
    net = TimmNet(**kwargs, pretrained=False)
    names = {f"backbone.{k}": prefix + v for k, v in efficientnet_pytorch_keys(net.backbone).items()}
    names.update({f"head.1.{t}": f"{classifier}{t}" for t in ("weight", "bias")})
    check_release_keys(state, names.values(), source)
    net = load_strict(net, {k: state[v] for k, v in names.items()}, source)
    return Converted(net=net, target=TARGET, kwargs=kwargs)


# -- SBI ---------------------------------------------------------------------------------------------

SBI_KWARGS: dict[str, Any] = {
    "model_name": "tf_efficientnet_b4", "num_classes": 2, "input_size": 380,
    # efficientnet-pytorch B4's dropout before _fc and drop-connect rate (training only)
    "dropout": 0.4, "drop_path_rate": 0.2,
}  # fmt: skip


def convert_sbi(obj: Any) -> Converted:
    """SBI's ``{"model": state dict, "optimizer", "epoch"}`` → TimmNet (``net.*`` keys)."""
    state = state_dict_of(obj, "sbi")
    converted = convert_efficientnet_pytorch(state, "sbi", "net.", "net._fc.", dict(SBI_KWARGS))
    dropped = {k: "training state" for k in ("optimizer", "epoch") if isinstance(obj, Mapping) and k in obj}
    return Converted(converted.net, converted.target, converted.kwargs, dropped)


SBI_CONTRACT = Contract(
    size=380,
    mean=(0.0, 0.0, 0.0),
    std=(1.0, 1.0, 1.0),
    scaling="RGB / 255 in [0, 1], no mean or std",
    detector="RetinaFace ResNet-50 (retinaface-pytorch resnet50_2020-07-20, max_size 2048)",
    crop=(
        "every face whose box area is at least half the largest's; its box widened by an eighth of its "
        "width on the left and right and an eighth of its height above and below (1.25x, the test phase "
        "of crop_face: no randomness), clipped to the frame and resized to 380x380 without keeping "
        "its aspect ratio"
    ),
    cropper={"margin": 0.25, "crop_size": 380, "align": False, "select": "largest"},
    frames_per_video=32,
    video_score="mean over frames of the highest score among the frame's kept faces",
    differences=(
        "faces found by MTCNN rather than RetinaFace ResNet-50: the boxes differ in size and placement",
        "a square of side 1.25 x the larger box side, padded with black outside the frame, rather than "
        "the 1.25 x box rectangle clipped to the frame and stretched to 380x380",
        "the largest face of each frame only, rather than the highest score over every face at least "
        "half the largest's area",
    ),
)

SBI_TERMS = (
    "Yamasaki Lab's software licence agreement for Self-Blended Images (the repository's LICENSE; its "
    "README puts the released weights under it too) is for academic or non-profit noncommercial research "
    "use only: a personal, non-exclusive, non-transferable licence, without the right to sublicense, to use "
    "them for your own noncommercial internal research. You may not distribute, copy beyond that use, sell, "
    "lend or transfer them or give third parties access; derivatives and modifications (this converted model "
    "included) are owned by the licensor and bound by the same terms, so keep the folder to yourself. "
    "Commercial use needs a licence agreement with the authors (see the README). Cite Shiohara & Yamasaki, "
    "CVPR 2022."
)

# -- DeepfakeBench -----------------------------------------------------------------------------------

DEEPFAKEBENCH_KWARGS: dict[str, Any] = {
    "model_name": "tf_efficientnet_b4", "num_classes": 2, "input_size": 256,
    # no dropout (backbone_config.dropout: false); efficientnet-pytorch's drop-connect (training only)
    "dropout": 0.0, "drop_path_rate": 0.2,
    "conv_padding": DEEPFAKEBENCH_B4_PADDING,
}  # fmt: skip


def convert_deepfakebench(obj: Any) -> Converted:
    """DeepfakeBench's detector state dict (``backbone.efficientnet.*``, ``backbone.last_layer.*``;
    ``module.`` of a DDP run stripped) → TimmNet with DeepfakeBench's padding."""
    name = "deepfakebench_efficientnet_b4"
    state = strip_prefix(state_dict_of(obj, name), "module.")
    kwargs = copy.deepcopy(DEEPFAKEBENCH_KWARGS)
    return convert_efficientnet_pytorch(state, name, "backbone.efficientnet.", "backbone.last_layer.", kwargs)


SOURCES = {
    "sbi": Source(
        name="sbi",
        title="SBI EfficientNet-B4 (self-blended images of FaceForensics++ real videos)",
        paper=(
            'Shiohara & Yamasaki, "Detecting Deepfakes with Self-Blended Images", CVPR 2022, '
            "https://arxiv.org/abs/2204.08376"
        ),
        code="https://github.com/mapooon/SelfBlendedImages",
        licence="SBI software licence agreement (noncommercial research use only)",
        terms=SBI_TERMS,
        non_commercial=True,
        contract=SBI_CONTRACT,
        convert=convert_sbi,
        files=("FFraw.tar", "FFc23.tar"),
    ),
    "deepfakebench_efficientnet_b4": Source(
        name="deepfakebench_efficientnet_b4",
        title="DeepfakeBench EfficientNet-B4 (FaceForensics++ c23)",
        paper=DEEPFAKEBENCH_PAPER,
        code=DEEPFAKEBENCH_CODE,
        licence=DEEPFAKEBENCH_LICENCE,
        terms=DEEPFAKEBENCH_TERMS,
        non_commercial=True,
        contract=deepfakebench_contract(256),
        convert=convert_deepfakebench,
        files=("effnb4_best.pth",),
    ),
}
