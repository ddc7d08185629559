"""OpenAI CLIP ViT-L/14 detectors their authors released, imported into :class:`~dfd.models.nets.foundation.FoundationNet`.

- ``effort``: Yan et al., "Orthogonal Subspace Decomposition for Generalizable AI-Generated Image
  Detection" (Effort), ICML 2025, https://arxiv.org/abs/2411.15633; the FaceForensics++-trained
  ``.pth`` of github.com/YZY-stack/Effort-AIGI-Detection. Layout read from that repository's
  ``DeepfakeBench/training/detectors/effort_detector.py`` (DeepfakeBench's copy of the file has the
  same layout), ``training/trainer/trainer.py`` (how it is saved), ``training/test.py`` and
  ``training/demo.py`` (how it is loaded) and ``training/config/detector/effort.yaml``.
- ``gend``: Yermakov, Cech, Matas, Fritz, "Deepfake Detection that Generalizes Across Benchmarks"
  (GenD), WACV 2026, https://arxiv.org/abs/2508.06248; ``model.safetensors`` of the Hugging Face
  repository ``yermandy/GenD_CLIP_L_14``. Layout read from github.com/yermandy/GenD
  ``src/hf/modeling_gend.py`` (the Hugging Face model), ``src/encoders/clip_encoder.py``,
  ``src/config.py`` and ``detector.py`` (its face crops), and the repository's ``config.json``
  (``"head": "LinearNorm"``).

Both wrap the vision tower of Hugging Face ``transformers``' CLIP (``CLIPModel.vision_model`` of
``openai/clip-vit-large-patch14``) and classify its ``pooler_output``: the class token after the
final LayerNorm (``post_layernorm``), before CLIP's image-text projection. dfd builds the same
network with timm, whose ``vit_*_clip_quickgelu_*`` models are OpenAI's CLIP ViTs with the
QuickGELU they were trained with (``hidden_act: quick_gelu`` in Hugging Face's config; timm's
``vit_*_clip_*`` names without ``quickgelu`` use exact GELU, a slightly different function), and
whose pooled output with ``num_classes=0`` is the same token: ``norm`` (= ``post_layernorm``)
applied to every token, then the class token taken. The key mapping, Hugging Face → timm:

=============================================  ==============================================
``embeddings.class_embedding`` [D]              ``cls_token`` [1, 1, D]
``embeddings.position_embedding.weight``        ``pos_embed`` [1, N + 1, D] (class token first)
``embeddings.patch_embedding.weight``           ``patch_embed.proj.weight`` (no bias in either)
``pre_layrnorm``                                ``norm_pre``
``encoder.layers.i.self_attn.{q,k,v}_proj``     ``blocks.i.attn.qkv`` (q, k, v stacked in rows)
``encoder.layers.i.self_attn.out_proj``         ``blocks.i.attn.proj``
``encoder.layers.i.layer_norm1``, ``…2``        ``blocks.i.norm1``, ``…norm2``
``encoder.layers.i.mlp.fc1``, ``…fc2``          ``blocks.i.mlp.fc1``, ``…fc2``
``post_layernorm``                              ``norm``
=============================================  ==============================================

The encoder's size is read from the file's shapes (width, depth, patch, MLP width, and the input
size from the number of position embeddings); the number of heads is ``width / 64``, OpenAI's rule
for its CLIP ViTs (``vision_heads = vision_width // 64`` in github.com/openai/CLIP
``clip/model.py``). A known OpenAI ViT is built under its timm name; any other size (the tests'
tiny encoders) under ViT-L/14's name with the sizes as ``timm_kwargs``.

Effort replaces each self-attention projection by a frozen principal weight ``weight_main`` and a
trained residual ``U_residual diag(S_residual) V_residual`` (shapes ``[out, k]``, ``[k]``,
``[k, in]``; ``k = 1`` in the release), so each is folded here into one plain weight
``weight_main + U_residual diag(S_residual) V_residual`` (computed in float64) and imported as
``tuning="full"``, the form :meth:`FoundationNet.merged` exports an ``svd``-tuned net in. The frozen
top singular triplets ``U_r``, ``S_r``, ``V_r`` it also saves are dropped: they only feed its
orthogonality loss, and ``weight_main`` is their product. The head is ``nn.Linear(1024, 2)`` on the
pooled output; the score is ``softmax(logits)[:, 1]``. Trained with DistributedDataParallel the
keys start with ``module.``, which is stripped, as its ``test.py`` strips it.

GenD tunes only the LayerNorms and classifies the L2-normalised pooled output with a plain linear
layer with bias (``LinearProbe(normalize_inputs=True)``, the ``LinearNorm`` head): dfd's
``tuning="layernorm"`` (which normalises the features) with ``head_type="linear"``. Its file also
holds CLIP's ``visual_projection``, which its forward never uses: dropped. Score:
``softmax(logits)[:, 1]``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import torch

from dfd.published.sources import (
    Contract,
    ConversionError,
    Converted,
    Source,
    deepfakebench_contract,
    load_strict,
    state_dict_of,
    strip_prefix,
)

#: OpenAI CLIP's normalisation (effort.yaml's ``mean``/``std``; CLIPProcessor's ``image_mean``/``image_std``)
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)

#: width of one attention head in OpenAI's CLIP ViTs (heads = width / 64)
CLIP_HEAD_WIDTH = 64

#: OpenAI's CLIP ViTs as timm builds them with QuickGELU: (width, depth, patch, input px) → timm name
OPENAI_CLIP_VITS = {
    (768, 12, 32, 224): "vit_base_patch32_clip_quickgelu_224.openai",
    (768, 12, 16, 224): "vit_base_patch16_clip_quickgelu_224.openai",
    (1024, 24, 14, 224): "vit_large_patch14_clip_quickgelu_224.openai",
    (1024, 24, 14, 336): "vit_large_patch14_clip_quickgelu_336.openai",
}

#: the timm model other sizes are built from (its sizes overridden through ``timm_kwargs``)
FALLBACK_BACKBONE = "vit_large_patch14_clip_quickgelu_224.openai"

FOUNDATION_NET = "dfd.models.nets.foundation.FoundationNet"

POSITION_IDS = "a buffer of position indices 0…N that older transformers versions saved; not a weight"


class ReleaseKeys:
    """A release's tensors, read key by key: a key that is not there is refused by name, and the
    keys left unread at the end are refused too (:meth:`finish`), so nothing is silently ignored."""

    def __init__(self, state: dict[str, torch.Tensor], source: str, hint: str) -> None:
        self.state = dict(state)
        self.source = source
        self.hint = hint
        self.read: set[str] = set()
        self.dropped: dict[str, str] = {}

    def peek(self, key: str) -> torch.Tensor:
        if key not in self.state:
            raise ConversionError(f"source={self.source}: the file has no key {key!r}; {self.hint}")
        return self.state[key]

    def take(self, key: str) -> torch.Tensor:
        value = self.peek(key)
        self.read.add(key)
        return value

    def drop(self, pattern: str, reason: str) -> None:
        """Mark the keys matching the regular expression ``pattern`` as deliberately not carried over."""
        found = [k for k in self.state if k not in self.read and re.fullmatch(pattern, k)]
        if found:
            self.read.update(found)
            self.dropped[found[0] if len(found) == 1 else pattern] = reason

    def finish(self) -> None:
        left = [k for k in self.state if k not in self.read]
        if left:
            shown = ", ".join(left[:3]) + (", …" if len(left) > 3 else "")
            raise ConversionError(
                f"source={self.source}: the file holds {len(left)} keys this source does not read ({shown}); "
                f"{self.hint}"
            )


@dataclass(frozen=True)
class VisionSize:
    """The size of a CLIP vision tower, as its weights' shapes give it."""

    width: int
    depth: int
    patch: int
    image: int
    mlp: int

    @property
    def heads(self) -> int:
        return self.width // CLIP_HEAD_WIDTH


def vision_size(keys: ReleaseKeys, prefix: str, image: int) -> VisionSize:
    """Width, depth, patch, MLP width and input size of the CLIP vision tower under ``prefix``;
    :class:`ConversionError` when it is not a square input of ``image`` px or the width is not a
    multiple of 64."""
    source = keys.source
    width = int(keys.peek(f"{prefix}embeddings.class_embedding").shape[-1])
    patch = int(keys.peek(f"{prefix}embeddings.patch_embedding.weight").shape[-1])
    tokens = int(keys.peek(f"{prefix}embeddings.position_embedding.weight").shape[0])
    grid = math.isqrt(tokens - 1)
    layer = re.compile(re.escape(f"{prefix}encoder.layers.") + r"(\d+)\.")
    depth = 1 + max((int(m.group(1)) for k in keys.state if (m := layer.match(k))), default=-1)
    mlp = int(keys.peek(f"{prefix}encoder.layers.0.mlp.fc1.weight").shape[0])
    if grid * grid != tokens - 1 or grid * patch != image:
        raise ConversionError(
            f"source={source}: {tokens} position embeddings of {patch} px patches are not a square "
            f"{image} px input (expected {(image // patch) ** 2 + 1}); the source's contract is {image} px"
        )
    if width % CLIP_HEAD_WIDTH:
        raise ConversionError(
            f"source={source}: width {width} is not a multiple of {CLIP_HEAD_WIDTH}, the head width "
            "of OpenAI's CLIP ViTs; is the file one of this source's releases?"
        )
    return VisionSize(width, depth, patch, image, mlp)


def foundation_kwargs(size: VisionSize, **extra: Any) -> dict[str, Any]:
    """:class:`FoundationNet` arguments that build a timm CLIP ViT of ``size`` (QuickGELU, 2 classes)."""
    name = OPENAI_CLIP_VITS.get((size.width, size.depth, size.patch, size.image))
    timm_kwargs: dict[str, Any] = {}
    if name is None or size.mlp != 4 * size.width:
        name = FALLBACK_BACKBONE
        timm_kwargs = {
            "embed_dim": size.width, "depth": size.depth, "num_heads": size.heads,
            "patch_size": size.patch, "mlp_ratio": size.mlp / size.width,
        }  # fmt: skip
    return {
        "num_classes": 2, "backbone": name, "input_size": size.image, "timm_kwargs": timm_kwargs, **extra,
    }  # fmt: skip


#: one self-attention projection of the release ("…self_attn.q_proj") → its (weight, bias)
Projection = Callable[[str], tuple[torch.Tensor, torch.Tensor]]


def clip_vision_to_timm(
    keys: ReleaseKeys, prefix: str, size: VisionSize, projection: Projection
) -> dict[str, torch.Tensor]:
    """The state dict of :class:`FoundationNet`'s ``backbone`` (keys ``backbone.*``) from a Hugging Face
    CLIP vision tower under ``prefix`` (the table of the module docstring)."""
    out = {
        "cls_token": keys.take(f"{prefix}embeddings.class_embedding").reshape(1, 1, -1),
        "pos_embed": keys.take(f"{prefix}embeddings.position_embedding.weight").unsqueeze(0),
        "patch_embed.proj.weight": keys.take(f"{prefix}embeddings.patch_embedding.weight"),
    }
    for ours, theirs in (("norm_pre", "pre_layrnorm"), ("norm", "post_layernorm")):
        for p in ("weight", "bias"):
            out[f"{ours}.{p}"] = keys.take(f"{prefix}{theirs}.{p}")
    for i in range(size.depth):
        src, dst = f"{prefix}encoder.layers.{i}.", f"blocks.{i}."
        q, k, v = (projection(f"{src}self_attn.{n}_proj") for n in "qkv")
        out[f"{dst}attn.qkv.weight"] = torch.cat([q[0], k[0], v[0]])
        out[f"{dst}attn.qkv.bias"] = torch.cat([q[1], k[1], v[1]])
        out[f"{dst}attn.proj.weight"], out[f"{dst}attn.proj.bias"] = projection(f"{src}self_attn.out_proj")
        for ours, theirs in (
            ("norm1", "layer_norm1"),
            ("norm2", "layer_norm2"),
            ("mlp.fc1", "mlp.fc1"),
            ("mlp.fc2", "mlp.fc2"),
        ):
            for p in ("weight", "bias"):
                out[f"{dst}{ours}.{p}"] = keys.take(f"{src}{theirs}.{p}")
    return {f"backbone.{k}": v for k, v in out.items()}


def build(keys: ReleaseKeys, state: dict[str, torch.Tensor], kwargs: dict[str, Any]) -> Converted:
    """Every key read, the net built and loaded strictly."""
    keys.finish()
    from dfd.models.nets.foundation import FoundationNet

    net = load_strict(FoundationNet(**kwargs), state, keys.source)
    return Converted(net=net, target=FOUNDATION_NET, kwargs=kwargs, dropped=dict(keys.dropped))


# -- Effort -------------------------------------------------------------------------------------------

EFFORT_BACKBONE = "backbone."


def fold_residual(keys: ReleaseKeys, name: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Effort's split projection ``name`` as one plain (weight, bias):
    ``weight_main + U_residual diag(S_residual) V_residual``."""
    main = keys.take(f"{name}.weight_main")
    u, s, v = (keys.take(f"{name}.{f}_residual") for f in "USV")
    bias = keys.take(f"{name}.bias")
    out_features, in_features = main.shape
    rank = s.shape[0]
    if s.ndim != 1 or tuple(u.shape) != (out_features, rank) or tuple(v.shape) != (rank, in_features):
        raise ConversionError(
            f"source={keys.source}: {name}: U_residual {tuple(u.shape)}, S_residual {tuple(s.shape)}, "
            f"V_residual {tuple(v.shape)} do not factor a {tuple(main.shape)} weight_main "
            f"(expected ({out_features}, k), (k,), (k, {in_features}))"
        )
    residual = (u.double() * s.double()) @ v.double()
    return (main.double() + residual).to(main.dtype), bias


def convert_effort(obj: Any) -> Converted:
    """Effort's released state dict (``EffortDetector``: ``backbone.*``, ``head.*``, ``module.`` when
    trained with DDP) → FoundationNet (``tuning="full"``, the residuals folded)."""
    state = strip_prefix(state_dict_of(obj, "effort"), "module.")
    keys = ReleaseKeys(
        state, "effort",
        "expected Effort's EffortDetector state dict (backbone.encoder.layers.<i>.self_attn.<q|k|v|out>_proj"
        ".weight_main/U_residual/S_residual/V_residual, head.weight): the FF++-trained .pth of "
        "github.com/YZY-stack/Effort-AIGI-Detection",
    )  # fmt: skip
    size = vision_size(keys, EFFORT_BACKBONE, EFFORT.contract.size)
    net_state = clip_vision_to_timm(keys, EFFORT_BACKBONE, size, lambda name: fold_residual(keys, name))
    net_state["head.1.weight"] = keys.take("head.weight")
    net_state["head.1.bias"] = keys.take("head.bias")
    keys.drop(
        re.escape(EFFORT_BACKBONE) + r"encoder\.layers\.\d+\.self_attn\.\w+_proj\.[USV]_r",
        "the frozen top singular triplets, which Effort keeps for its orthogonality loss; "
        "weight_main is their product and holds them",
    )
    keys.drop(re.escape(f"{EFFORT_BACKBONE}embeddings.position_ids"), POSITION_IDS)
    return build(keys, net_state, foundation_kwargs(size, tuning="full"))


def effort_contract() -> Contract:
    """DeepfakeBench's aligned crops, which Effort trained and tested on, at 224 px with CLIP's
    normalisation (effort.yaml: ``resolution: 224``, ``mean``, ``std``; 8 test frames per video)."""
    base = deepfakebench_contract(224)
    return replace(
        base,
        mean=CLIP_MEAN,
        std=CLIP_STD,
        scaling="RGB / 255, then (x - mean) / std with OpenAI CLIP's mean and std",
        crop=f"{base.crop}, resized to 224 px (bicubic) when loaded",
        frames_per_video=8,
        video_score="mean of frame scores (effort.yaml: frame_num test 8, save_avg)",
        differences=(
            *base.differences,
            "the 256 px crop resized to 224 px bilinearly (albumentations) rather than bicubically (OpenCV)",
        ),
    )


EFFORT = Source(
    name="effort",
    title="Effort CLIP ViT-L/14 (FF++ c23)",
    paper=(
        'Yan et al., "Orthogonal Subspace Decomposition for Generalizable AI-Generated Image Detection" '
        "(Effort), ICML 2025, https://arxiv.org/abs/2411.15633"
    ),
    code="https://github.com/YZY-stack/Effort-AIGI-Detection (at 96f5dea)",
    licence="CC BY-NC 4.0",
    terms=(
        "Effort's repository and its released checkpoints are licensed under Creative Commons "
        "Attribution-NonCommercial 4.0 (https://creativecommons.org/licenses/by-nc/4.0/; stated in its README, "
        "which is where the repository gives its licence): use them for non-commercial purposes only, and "
        "credit Effort (Yan et al., ICML 2025) when you share results. The encoder it fine-tunes is OpenAI's "
        "CLIP ViT-L/14 (MIT)."
    ),
    non_commercial=True,
    contract=effort_contract(),
    convert=convert_effort,
    files=("the FF++-trained .pth (Google Drive file 1m4fyJecABU-Yk3bJ4b1WhUwQa0xCkMLI)",),
)


# -- GenD ---------------------------------------------------------------------------------------------

GEND_VISION = "feature_extractor.vision_model."


def plain_projection(keys: ReleaseKeys, name: str) -> tuple[torch.Tensor, torch.Tensor]:
    return keys.take(f"{name}.weight"), keys.take(f"{name}.bias")


def convert_gend(obj: Any) -> Converted:
    """GenD's Hugging Face ``model.safetensors`` (``feature_extractor.vision_model.*``,
    ``feature_extractor.visual_projection.weight``, ``model.linear.*``) → FoundationNet
    (``tuning="layernorm"``, ``head_type="linear"``)."""
    keys = ReleaseKeys(
        state_dict_of(obj, "gend"), "gend",
        "expected GenD's CLIP release (feature_extractor.vision_model.*, model.linear.weight): "
        "model.safetensors of yermandy/GenD_CLIP_L_14 (GenD_PE_L and GenD_DINOv3_L are other encoders)",
    )  # fmt: skip
    size = vision_size(keys, GEND_VISION, GEND.contract.size)
    net_state = clip_vision_to_timm(keys, GEND_VISION, size, lambda name: plain_projection(keys, name))
    net_state["head.1.weight"] = keys.take("model.linear.weight")
    net_state["head.1.bias"] = keys.take("model.linear.bias")
    keys.drop(
        re.escape("feature_extractor.visual_projection.weight"),
        "CLIP's image-to-text projection; GenD classifies the pooled output before it",
    )
    keys.drop(re.escape(f"{GEND_VISION}embeddings.position_ids"), POSITION_IDS)
    return build(keys, net_state, foundation_kwargs(size, tuning="layernorm", head_type="linear"))


GEND_CONTRACT = Contract(
    size=224,
    mean=CLIP_MEAN,
    std=CLIP_STD,
    scaling="RGB / 255, then (x - mean) / std with OpenAI CLIP's mean and std (CLIPProcessor)",
    detector="RetinaFace (GenD's detector.py)",
    crop=(
        "aligned on RetinaFace's 5 landmarks (similarity to GenD's own template), 1.3x scale, at the face's "
        "own size; then CLIPProcessor: shorter side to 224 px (bicubic), centre crop 224 px"
    ),
    cropper={"margin": 0.3, "crop_size": 224, "align": True, "align_scale": 1.3, "select": "largest"},
    frames_per_video=32,
    video_score="mean of frame scores (config.py reduce_video_predictions: mean)",
    differences=(
        "faces found by MTCNN rather than RetinaFace",
        "aligned on MTCNN's 5 points to dfd's template (ArcFace's points, placed as DeepfakeBench places "
        "them) rather than to GenD's own 5-point template",
        "the crop resized to 224 px bilinearly (albumentations) rather than bicubically by CLIPProcessor",
        "the largest face is kept; GenD's FF++ training crops kept the face that overlaps the manipulation mask",
    ),
)

GEND = Source(
    name="gend",
    title="GenD CLIP ViT-L/14 (yermandy/GenD_CLIP_L_14)",
    paper=(
        'Yermakov, Cech, Matas, Fritz, "Deepfake Detection that Generalizes Across Benchmarks" (GenD), '
        "WACV 2026, https://arxiv.org/abs/2508.06248"
    ),
    code="https://github.com/yermandy/GenD (at e03532d); weights: https://huggingface.co/yermandy/GenD_CLIP_L_14",
    licence="MIT",
    terms=(
        "GenD's code is under the MIT licence (its repository's LICENSE); the Hugging Face repository of the "
        "weights states no licence of its own (it holds config.json and model.safetensors). The encoder it "
        "fine-tunes is OpenAI's CLIP ViT-L/14 (MIT), whose model card calls any deployed use of the model out "
        "of scope. Credit GenD (Yermakov et al., WACV 2026) when you share results."
    ),
    non_commercial=False,
    contract=GEND_CONTRACT,
    convert=convert_gend,
    files=("model.safetensors (huggingface.co/yermandy/GenD_CLIP_L_14)",),
)

SOURCES = {"effort": EFFORT, "gend": GEND}
