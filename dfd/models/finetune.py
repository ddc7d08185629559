"""Fine-tuning controls shared by the LightningModules: frozen backbones and per-part learning rates.

Every net names its pretrained feature extractor ``net.backbone`` (see ``dfd.models.nets``);
everything else (heads, and new modules such as F3Net's FAD/LFS filters and MixBlocks) is
trained with the optimizer's own learning rate. A frozen backbone has ``requires_grad=False``
and is kept in eval mode (fixed BatchNorm statistics, no dropout), so it is a true fixed
feature extractor until it is unfrozen.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from torch import nn


def backbone_of(net: nn.Module) -> nn.Module:
    """``net.backbone``, or a clear error for nets that do not declare one."""
    backbone = getattr(net, "backbone", None)
    if not isinstance(backbone, nn.Module):
        raise ValueError(
            f"{type(net).__name__} has no `backbone` submodule, so model.freeze_backbone and "
            "model.backbone_lr cannot apply; set them to false/null for this model."
        )
    return backbone


def set_trainable(module: nn.Module, trainable: bool) -> None:
    """Switch ``requires_grad`` of every parameter of ``module``."""
    for p in module.parameters():
        p.requires_grad_(trainable)


def param_groups(
    params: Iterable[nn.Parameter],
    backbone: nn.Module,
    backbone_lr: float | None,
    include_frozen_backbone: bool,
) -> list[dict[str, Any]]:
    """Optimizer groups ``head`` (all non-backbone trainable params) and ``backbone``.

    ``backbone_lr=None`` leaves the backbone at the optimizer's lr. Frozen backbone parameters
    join the optimizer only when they will be unfrozen later (``include_frozen_backbone``):
    until then they have no gradient, and optimizers skip such parameters.
    """
    backbone_params = list(backbone.parameters())
    ids = {id(p) for p in backbone_params}
    head = [p for p in params if id(p) not in ids and p.requires_grad]
    bb = [p for p in backbone_params if p.requires_grad or include_frozen_backbone]
    groups: list[dict[str, Any]] = [{"params": head, "name": "head"}]
    if bb:
        groups.append({"params": bb, "name": "backbone", **({"lr": backbone_lr} if backbone_lr else {})})
    return groups
