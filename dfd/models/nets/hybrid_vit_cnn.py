"""Hybrid CNN + ViT detector: ResNet18 and ViT-B/16 features concatenated, then an MLP.

The set-up of the seed report (``../shared/seeds/001``): ResNet18 (He et al., CVPR 2016,
https://arxiv.org/abs/1512.03385) gives local texture features (512-d, global average pool),
ViT-B/16 (Dosovitskiy et al., ICLR 2021, https://arxiv.org/abs/2010.11929) global context
(768-d class token); their concatenation (1280-d) goes through 1280→512→512→1 with ReLU and
dropout. Both backbones take ImageNet weights via timm; with the default 224 px input the model
has 97,894,209 parameters (11,176,512 + 85,798,656 + 919,041), the seed report's figure.

Each backbone sees the normalisation it was pretrained with: the input follows ResNet18's
ImageNet mean/std (the model's ``input_spec``) and is re-normalised to the ViT's own mean/std
inside the forward pass (an exact affine map, no resampling).
"""

from __future__ import annotations

from typing import Any, ClassVar

import timm
import torch
from torch import nn

from dfd.core.input_spec import InputSpec
from dfd.models.nets.base import Net
from dfd.models.nets.pretrained import create_timm_model


class HybridViTCNN(Net):
    """ResNet18 ‖ ViT-B/16 → MLP head (1280→512→512→num_classes).

    Args:
        num_classes: 1 for one fake logit (seed: BCE-with-logits), 2 for a softmax pair.
        pretrained: ImageNet weights for both backbones (via timm).
        dropout: dropout after each hidden MLP layer.
        input_size: square input side in px; the ViT's position embeddings are built (and,
            when pretrained, resampled) for it, so it must be a multiple of the patch size 16.
        cnn_name, vit_name: timm names of the two backbones.
        hidden_dim: width of the two hidden MLP layers (seed: 512).
        drop_path_rate: stochastic depth in both backbones.
        localization: add a blend-mask head on the CNN branch's last map (see
            :mod:`dfd.models.nets.base`; the ViT has tokens, not maps).
    """

    #: test size: the same class with a ViT-Ti (5.5 M parameters instead of ViT-B's 86 M)
    small_config: ClassVar[dict[str, Any]] = {"input_size": 32, "vit_name": "vit_tiny_patch16_224"}

    def __init__(
        self,
        num_classes: int = 1,
        pretrained: bool = False,
        dropout: float = 0.3,
        input_size: int = 224,
        *,
        cnn_name: str = "resnet18",
        vit_name: str = "vit_base_patch16_224",
        hidden_dim: int = 512,
        drop_path_rate: float = 0.0,
        localization: bool = False,
    ) -> None:
        super().__init__()
        self.num_classes = num_classes
        cnn = create_timm_model(cnn_name, pretrained, num_classes=0, drop_path_rate=drop_path_rate)
        vit = create_timm_model(
            vit_name, pretrained, num_classes=0, drop_path_rate=drop_path_rate, img_size=input_size
        )
        self.backbone = nn.ModuleDict({"cnn": cnn, "vit": vit})
        cnn_cfg = timm.data.resolve_model_data_config(cnn)
        vit_cfg = timm.data.resolve_model_data_config(vit)
        self.input_spec = InputSpec(size=input_size, mean=tuple(cnn_cfg["mean"]), std=tuple(cnn_cfg["std"]))
        # x_vit = (x·std_in + mean_in - mean_vit) / std_vit, folded into one scale and shift.
        std_in, mean_in = torch.tensor(cnn_cfg["std"]), torch.tensor(cnn_cfg["mean"])
        std_vit, mean_vit = torch.tensor(vit_cfg["std"]), torch.tensor(vit_cfg["mean"])
        self.register_buffer("vit_scale", (std_in / std_vit).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("vit_shift", ((mean_in - mean_vit) / std_vit).view(1, 3, 1, 1), persistent=False)
        self.num_features = cnn.num_features + vit.num_features
        #: Grad-CAM explains the CNN branch's last spatial map (the ViT has tokens, not maps).
        self.cam_scope = "backbone.cnn"
        self.head = nn.Sequential(
            nn.Linear(self.num_features, hidden_dim),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(hidden_dim, hidden_dim),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(hidden_dim, num_classes),
        )
        self.add_localization(localization, cnn.num_features)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Concatenated backbone features: [B, 512 + 768]."""
        cnn_features = self.backbone["cnn"](x)
        return torch.cat([cnn_features, self._vit_features(x)], dim=1)

    def _vit_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.backbone["vit"](x * self.vit_scale + self.vit_shift)

    def forward_feature_map(self, x: torch.Tensor) -> torch.Tensor:
        """The CNN branch's last map: [B, 512, h, w]."""
        return self.backbone["cnn"].forward_features(x)

    def logits_from_feature_map(self, feature_map: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Logits from the CNN branch's map and the ViT's features of ``x``."""
        features = torch.cat([self.backbone["cnn"].forward_head(feature_map), self._vit_features(x)], dim=1)
        return self.forward_head(features)
