"""Any timm backbone as a detector: ``model=timm model.net.model_name=efficientnet_b0``.

The backbone is ``timm.create_model(model_name, num_classes=0)`` (pooled features), the head
ours: dropout then one linear layer, so ``dropout`` always acts (some timm models ignore
``drop_rate``). Input size, mean and std come from the model's timm pretrained config unless
``input_size`` overrides the size. EfficientNet-B4 (Tan & Le, "EfficientNet: Rethinking
Model Scaling for Convolutional Neural Networks", ICML 2019, https://arxiv.org/abs/1905.11946)
is this class with ``model_name=efficientnet_b4`` (``conf/model/efficientnet_b4.yaml``).
"""

from __future__ import annotations

from typing import Any, ClassVar

import timm
import torch

from dfd.core.input_spec import InputSpec
from dfd.models.nets.base import Net, linear_head, refuse_localization
from dfd.models.nets.pretrained import create_timm_model


class TimmNet(Net):
    """A timm backbone with pooled features, then Dropout → Linear(num_features, num_classes).

    Args:
        num_classes: 1 for one fake logit, 2 for a softmax pair.
        pretrained: ImageNet weights via timm (fails fast offline, see ``pretrained``).
        dropout: dropout on the pooled features before the linear head.
        input_size: square input side in px; default the timm pretrained config's.
        model_name: any name from ``timm.list_models()``, optionally with a pretrained tag.
        drop_path_rate: stochastic depth in the backbone's residual blocks (models that have them).
        timm_kwargs: extra ``timm.create_model`` arguments, e.g. ``{img_size: 384}`` for a ViT.
        localization: add a blend-mask head on the backbone's last map (see
            :mod:`dfd.models.nets.base`); CNN backbones only, token models (ViTs) have no map.
    """

    small_config: ClassVar[dict[str, Any]] = {"model_name": "efficientnet_b0", "input_size": 64}

    def __init__(
        self,
        num_classes: int = 1,
        pretrained: bool = False,
        dropout: float = 0.0,
        input_size: int | None = None,
        *,
        model_name: str,
        drop_path_rate: float = 0.0,
        timm_kwargs: dict[str, Any] | None = None,
        localization: bool = False,
    ) -> None:
        super().__init__()
        arch = timm.models.split_model_name_tag(model_name)[0]
        if not model_name.startswith(("hf-hub:", "local-dir:")) and not timm.is_model(arch):
            raise ValueError(
                f"model.net.model_name={model_name!r} is not a timm model; see timm.list_models('*{model_name[:6]}*')."
            )
        kwargs = dict(timm_kwargs or {})
        if drop_path_rate > 0:  # not every architecture accepts the argument
            kwargs["drop_path_rate"] = drop_path_rate
        self.num_classes = num_classes
        self.backbone = create_timm_model(model_name, pretrained, num_classes=0, **kwargs)
        cfg = timm.data.resolve_model_data_config(self.backbone)
        self.input_spec = InputSpec(
            size=int(input_size or cfg["input_size"][-1]),
            mean=tuple(float(v) for v in cfg["mean"]),
            std=tuple(float(v) for v in cfg["std"]),
        )
        self.num_features = self.backbone.num_features
        self.head = linear_head(self.num_features, num_classes, dropout)
        if localization:
            # the map's channels can differ from num_features (MobileNetV3 has a conv after it)
            size = self.input_spec.size
            was_training = self.backbone.training
            with torch.no_grad():
                probe = self.backbone.eval().forward_features(torch.zeros(1, 3, size, size))
            self.backbone.train(was_training)
            if probe.ndim != 4:
                raise refuse_localization(
                    f"TimmNet({model_name})", f"its features are {probe.ndim}-d tokens, not a map"
                )
            self.add_localization(True, int(probe.shape[1]))

    def forward_feature_map(self, x: torch.Tensor) -> torch.Tensor:
        """timm's ``forward_features``: the last map [B, C, h, w] of a CNN backbone."""
        return self.backbone.forward_features(x)

    def pool_feature_map(self, feature_map: torch.Tensor) -> torch.Tensor:
        """timm's ``forward_head`` of a headless model: its pooling (what ``backbone(x)`` applies)."""
        return self.backbone.forward_head(feature_map)
