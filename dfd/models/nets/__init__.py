"""Detector networks: plain ``nn.Module``s, each declaring its ``input_spec``.

Contract (see docs/architecture.md): ``forward(x[B,3,H,W]) -> logits[B, num_classes]``,
``num_classes=1`` gives one fake logit; ``net.backbone`` and ``net.head`` name the two parts
that fine-tuning controls address. One file per family; configs in ``conf/model/``.
"""

from dfd.models.nets.f3net import F3Net
from dfd.models.nets.hybrid_vit_cnn import HybridViTCNN
from dfd.models.nets.mesonet import Meso4, MesoInception4
from dfd.models.nets.timm_net import TimmNet
from dfd.models.nets.xception import Xception

__all__ = ["F3Net", "HybridViTCNN", "Meso4", "MesoInception4", "TimmNet", "Xception"]
