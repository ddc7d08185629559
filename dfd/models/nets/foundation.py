"""A large pretrained vision encoder (CLIP, DINOv2, any timm ViT) tuned the way the 2025 detectors tune it.

``model=foundation model.backbone=<timm name> model.tuning=<mode>``. The encoder is
``timm.create_model(backbone, num_classes=0)`` (its pooled token), created through
:func:`dfd.models.nets.pretrained.create_timm_model`, so ``pretrained=True`` loads the published
weights by timm's own mechanism and fails fast offline; ``input_spec`` is the backbone's own
mean, std and size from its timm pretrained config. ``tuning`` decides what trains:

* ``linear``: the encoder is frozen (and kept in eval mode: no dropout), a linear head trains.
* ``layernorm``: GenD (Yermakov et al., "Deepfake Detection that Generalizes Across Benchmarks",
  WACV 2026, https://arxiv.org/abs/2508.06248): only the encoder's LayerNorm weights and biases
  train; the features are L2-normalised onto the unit hypersphere and classified by a cosine
  head ``s · cos(w, f)`` with a learnable scale ``s`` (or, with ``head_type="linear"``, by a
  plain linear layer with bias: the "LinearNorm" head of GenD's released checkpoints). GenD's
  metric learning on that sphere is the alignment and uniformity pair of Wang & Isola
  ("Understanding Contrastive Representation Learning through Alignment and Uniformity on the
  Hypersphere", ICML 2020, https://arxiv.org/abs/2005.10242): alignment pulls features of one
  class together (mean squared distance of same-label pairs), uniformity spreads the batch over
  the sphere (``log mean exp(-2 ‖f_i - f_j‖²)``). Both are auxiliary losses with weights
  ``alignment_weight`` and ``uniformity_weight`` (0 = off).
* ``svd``: Effort (Yan et al., "Orthogonal Subspace Decomposition for Generalizable AI-Generated
  Image Detection", ICML 2025, https://arxiv.org/abs/2411.15633): every linear layer of the
  encoder is split by SVD into a frozen principal part and a trainable residual
  (:mod:`dfd.models.svd_residual`); its orthogonality and singular-value losses are auxiliary
  losses weighted by ``svd_orthogonal_weight`` and ``svd_singular_weight``.
* ``lora``: low-rank adapters (Hu et al., "LoRA: Low-Rank Adaptation of Large Language Models",
  ICLR 2022, https://arxiv.org/abs/2106.09685) on the encoder's linears named in
  ``lora_targets`` (timm's attention ``qkv`` by default), through peft; the rest is frozen.
* ``full``: everything trains.

Auxiliary losses: :meth:`FoundationNet.auxiliary_losses` returns the weighted extra terms of the
mode (only those with a non-zero weight), which :class:`dfd.models.detector_module.DetectorModule`
adds to the training loss and logs as ``train/<name>``. Export: :meth:`FoundationNet.merged` folds
LoRA adapters and SVD residuals into plain ``nn.Linear`` weights and returns the net and the
constructor arguments (``tuning="full"``) that rebuild it.
"""

from __future__ import annotations

import copy
from typing import Any, ClassVar

import timm
import torch
import torch.nn.functional as F
from torch import nn

from dfd.models.nets.base import Net, linear_head, refuse_localization
from dfd.models.nets.pretrained import create_timm_model, timm_input_spec

#: The tuning modes (``model.tuning``).
TUNINGS = ("linear", "layernorm", "svd", "lora", "full")

#: The heads (``model.net.head_type``; default: ``cosine`` for ``layernorm``, else ``linear``).
HEAD_TYPES = ("cosine", "linear")


class CosineHead(nn.Module):
    """``s · cos(w_c, f)`` per class: the hyperspherical classifier of GenD, with a learnable scale ``s``.

    Features and class weights are both L2-normalised, so a logit is a cosine in [-1, 1] scaled
    by ``s`` (initialised to ``scale``), which lets the sigmoid or softmax reach confident values.
    """

    def __init__(
        self, num_features: int, num_classes: int, dropout: float = 0.0, scale: float = 10.0
    ) -> None:
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.weight = nn.Parameter(torch.randn(num_classes, num_features) * num_features**-0.5)
        self.scale = nn.Parameter(torch.tensor(float(scale)))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        f = F.normalize(self.dropout(features), dim=-1)
        return self.scale * f @ F.normalize(self.weight, dim=-1).t()


def alignment_loss(features: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean squared distance between unit features of the same label (0 without such a pair)."""
    distances = torch.cdist(features, features).pow(2)
    same = labels[:, None] == labels[None, :]
    pairs = torch.triu(same, diagonal=1)
    if not bool(pairs.any()):
        return features.sum() * 0.0
    return distances[pairs].mean()


def uniformity_loss(features: torch.Tensor, t: float = 2.0) -> torch.Tensor:
    """``log mean exp(-t ‖f_i - f_j‖²)`` over the batch's pairs (Wang & Isola's t = 2)."""
    n = len(features)
    if n < 2:
        return features.sum() * 0.0
    distances = torch.pdist(features).pow(2)
    return torch.logsumexp(-t * distances, dim=0) - torch.log(torch.tensor(float(len(distances))))


def merge_lora(module: nn.Module) -> int:
    """Fold every peft LoRA layer inside ``module`` into its base layer and put the base layer in
    its place; return how many were merged."""
    from peft.tuners.lora import LoraLayer

    merged = 0
    for name, child in list(module.named_modules()):
        if not isinstance(child, LoraLayer):
            continue
        child.merge()
        parent_name, _, attr = name.rpartition(".")
        parent = module.get_submodule(parent_name) if parent_name else module
        setattr(parent, attr, child.get_base_layer())
        merged += 1
    return merged


class FoundationNet(Net):
    """A timm ViT encoder (CLIP, DINOv2, …) with one of :data:`TUNINGS` deciding what trains.

    Args:
        num_classes: 1 for one fake logit, 2 for a softmax pair.
        pretrained: the backbone's published weights via timm (fails fast offline).
        dropout: dropout on the pooled features before the head.
        input_size: square input side in px; default the backbone's pretrained config's (a ViT
            given another size is built for it with timm's ``img_size``).
        backbone: a timm model name, optionally with a weight tag
            (``vit_large_patch14_clip_224.openai``, ``vit_base_patch14_dinov2.lvd142m``).
        tuning: one of :data:`TUNINGS` (see the module docstring).
        timm_kwargs: extra ``timm.create_model`` arguments.
        cosine_scale: the initial scale ``s`` of the cosine head (``layernorm``).
        head_type: ``cosine`` (``s · cos(w, f)``, :class:`CosineHead`) or ``linear`` (dropout, then
            a linear layer with bias); None = ``cosine`` for ``layernorm``, ``linear`` otherwise.
            ``layernorm`` with ``linear`` is GenD's released head: unit features, plain linear.
        alignment_weight: weight of the alignment loss (``layernorm``; 0 = off).
        uniformity_weight: weight of the uniformity loss (``layernorm``; 0 = off).
        svd_rank: trainable residual rank per decomposed matrix (``svd``; None = Effort's 1).
        svd_orthogonal_weight: weight of Effort's orthogonality loss (``svd``).
        svd_singular_weight: weight of Effort's singular-value loss (``svd``).
        lora_rank: rank of the LoRA adapters (``lora``).
        lora_alpha: LoRA scaling numerator (the update is ``alpha / rank · B A``).
        lora_dropout: dropout on the adapters' input.
        lora_targets: names of the encoder's linears that get adapters (timm: ``qkv``, ``proj``,
            ``fc1``, ``fc2``).
        localization: not available (a ViT has tokens, not a spatial map); true is refused.
    """

    small_config: ClassVar[dict[str, Any]] = {"backbone": "vit_tiny_patch16_224", "input_size": 32}

    def __init__(
        self,
        num_classes: int = 1,
        pretrained: bool = False,
        dropout: float = 0.0,
        input_size: int | None = None,
        *,
        backbone: str,
        tuning: str = "layernorm",
        timm_kwargs: dict[str, Any] | None = None,
        cosine_scale: float = 10.0,
        head_type: str | None = None,
        alignment_weight: float = 0.0,
        uniformity_weight: float = 0.0,
        svd_rank: int | None = None,
        svd_orthogonal_weight: float = 0.0,
        svd_singular_weight: float = 0.0,
        lora_rank: int = 8,
        lora_alpha: float = 16.0,
        lora_dropout: float = 0.0,
        lora_targets: list[str] | tuple[str, ...] = ("qkv",),
        localization: bool = False,
    ) -> None:
        super().__init__()
        if tuning not in TUNINGS:
            raise ValueError(f"model.tuning={tuning!r} is not a tuning mode; expected one of {list(TUNINGS)}")
        if localization:
            raise refuse_localization("FoundationNet", "a ViT's features are tokens, not a map")
        arch = timm.models.split_model_name_tag(backbone)[0]
        if not backbone.startswith(("hf-hub:", "local-dir:")) and not timm.is_model(arch):
            raise ValueError(
                f"model.backbone={backbone!r} is not a timm model; see timm.list_models('*{backbone[:6]}*')"
            )
        kwargs = dict(timm_kwargs or {})
        if input_size is not None:
            kwargs.setdefault("img_size", int(input_size))
        self.tuning = tuning
        self.num_classes = num_classes
        self.backbone = create_timm_model(backbone, pretrained, num_classes=0, **kwargs)
        self.input_spec = timm_input_spec(self.backbone, input_size)
        self.num_features = self.backbone.num_features
        if head_type is None:
            head_type = "cosine" if tuning == "layernorm" else "linear"
        if head_type not in HEAD_TYPES:
            raise ValueError(
                f"model.net.head_type={head_type!r} is not a head; expected one of {list(HEAD_TYPES)} or null"
            )
        if head_type == "cosine":
            self.head: nn.Module = CosineHead(self.num_features, num_classes, dropout, cosine_scale)
        else:
            self.head = linear_head(self.num_features, num_classes, dropout)
        self.alignment_weight = float(alignment_weight)
        self.uniformity_weight = float(uniformity_weight)
        self.svd_orthogonal_weight = float(svd_orthogonal_weight)
        self.svd_singular_weight = float(svd_singular_weight)
        if tuning != "full":
            for p in self.backbone.parameters():
                p.requires_grad_(False)
        if tuning == "layernorm":
            for m in self.backbone.modules():
                if isinstance(m, nn.LayerNorm):
                    for p in m.parameters(recurse=False):
                        p.requires_grad_(True)
        elif tuning == "svd":
            from dfd.models.svd_residual import apply_svd_residual

            if apply_svd_residual(self.backbone, svd_rank) == 0:
                raise ValueError(
                    f"model.backbone={backbone!r} has no nn.Linear layer for model.tuning=svd to split"
                )
        elif tuning == "lora":
            from peft import LoraConfig, inject_adapter_in_model

            config = LoraConfig(
                r=int(lora_rank),
                lora_alpha=lora_alpha,
                lora_dropout=lora_dropout,
                target_modules=list(lora_targets),
            )
            inject_adapter_in_model(config, self.backbone)
            for name, p in self.backbone.named_parameters():
                p.requires_grad_("lora_" in name)

    def train(self, mode: bool = True) -> FoundationNet:
        super().train(mode)
        if self.tuning == "linear":
            self.backbone.eval()  # a frozen encoder: no dropout, no drop-path
        return self

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled features [B, num_features]; on the unit sphere for ``layernorm``."""
        features = self.backbone(x)
        return F.normalize(features, dim=-1) if self.tuning == "layernorm" else features

    def auxiliary_losses(self, features: torch.Tensor, labels: torch.Tensor) -> dict[str, torch.Tensor]:
        """The mode's weighted extra training terms, by name (each already times its weight);
        terms with weight 0 are left out."""
        losses: dict[str, torch.Tensor] = {}
        if self.tuning == "layernorm":
            if self.alignment_weight:
                losses["alignment_loss"] = self.alignment_weight * alignment_loss(features, labels)
            if self.uniformity_weight:
                losses["uniformity_loss"] = self.uniformity_weight * uniformity_loss(features)
        elif self.tuning == "svd" and (self.svd_orthogonal_weight or self.svd_singular_weight):
            from dfd.models.svd_residual import svd_losses

            for name, value in svd_losses(self.backbone).items():
                weight = self.svd_orthogonal_weight if "orth" in name else self.svd_singular_weight
                if weight:
                    losses[name if name.endswith("loss") else f"{name}_loss"] = weight * value
        return losses

    def merged(self, kwargs: dict[str, Any]) -> tuple[FoundationNet, dict[str, Any]]:
        """A copy with adapters (``lora``) or residuals (``svd``) folded into plain linear weights,
        and the constructor arguments ``kwargs`` that rebuild it (``tuning="full"``); other modes
        are returned as they are."""
        if self.tuning not in ("lora", "svd"):
            return self, dict(kwargs)
        net = copy.deepcopy(self)
        if self.tuning == "lora":
            merge_lora(net.backbone)
        else:
            from dfd.models.svd_residual import merge_svd_residual

            merge_svd_residual(net.backbone)
        net.tuning = "full"
        return net, {**kwargs, "tuning": "full"}
