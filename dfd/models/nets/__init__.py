"""Detector networks: plain ``nn.Module``s, each declaring its ``input_spec``.

Contract (see docs/architecture.md): ``forward(x[B,3,H,W]) -> logits[B, num_classes]``,
``num_classes=1`` gives one fake logit; ``net.backbone`` and ``net.head`` name the two parts
that fine-tuning controls address.
"""

from dfd.models.nets.mesonet import Meso4
from dfd.models.nets.xception import Xception

__all__ = ["Meso4", "Xception"]
