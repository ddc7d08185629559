"""Effort's and GenD's CLIP releases, imported into FoundationNet and checked against transformers' CLIP.

The oracle is Hugging Face ``transformers``' CLIP vision tower, the implementation both sources build
on, at a tiny size (width 128, 2 layers, 2 heads of 64, 14 px patches, 224 px: the release's patch
and input size, so the source's contract applies unchanged) with random weights, every 1-D
parameter included (LayerNorms, biases, class embedding), so that a swapped or misplaced tensor
changes the output. Each is wrapped as its source wraps it (attribute names as in the release's
state dict) and saved as its source saves it; ``import_checkpoint`` turns the file into a folder
whose ONNX and torch backends must give the oracle's ``softmax(logits)[:, 1]`` within 1e-4 on the
same uint8 crops, each side preprocessing them its own way (the source's code path for the oracle,
the folder's ``input_spec`` for dfd). The weights are scaled so that a misplaced tensor moves the
score by more than 1e-3 (checked by hand: q and k biases swapped, ``S_residual`` ignored, exact GELU in
place of QuickGELU, 1.7e-3 to 0.5), ten times the tolerance.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from dfd.inference.export import MODEL_JSON, load_exported
from dfd.published.clip import SOURCES, ReleaseKeys, VisionSize, clip_vision_to_timm, foundation_kwargs
from dfd.published.importing import import_checkpoint
from dfd.published.sources import ConversionError

transformers = pytest.importorskip("transformers")

#: effort.yaml's normalisation, and CLIPProcessor's (openai/clip-vit-large-patch14 preprocessor_config.json)
CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073]
CLIP_STD = [0.26862954, 0.26130258, 0.27577711]
TINY = {
    "hidden_size": 128, "intermediate_size": 512, "num_hidden_layers": 2, "num_attention_heads": 2,
    "image_size": 224, "patch_size": 14, "projection_dim": 32,
}  # fmt: skip


def randomise_vectors(module: nn.Module, seed: int) -> None:
    """transformers initialises LayerNorms to (1, 0) and biases to 0, which would hide a mix-up of
    them: give every 1-D parameter random values (LayerNorm scales around 1)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in module.named_parameters():
            if p.ndim == 1:
                centre = 1.0 if "norm" in name and name.endswith("weight") else 0.0
                p.copy_(centre + 0.2 * torch.randn(p.shape, generator=g))


class SplitProjection(nn.Module):
    """A self-attention projection as Effort's state dict stores it: a frozen ``weight_main``, the
    trained residual factors ``U_residual [out, k]``, ``S_residual [k]``, ``V_residual [k, in]``
    (k = 1, as ``r = n - 1`` in the release), the frozen top factors ``U_r``, ``S_r``, ``V_r`` and
    the bias; it computes ``x (weight_main + U diag(S) V)ᵀ + b`` (effort_detector.py)."""

    def __init__(self, linear: nn.Linear, g: torch.Generator) -> None:
        super().__init__()
        out_features, in_features = linear.weight.shape
        keep = min(out_features, in_features) - 1

        def randn(*shape: int, scale: float = 1.0) -> nn.Parameter:
            return nn.Parameter(scale * torch.randn(shape, generator=g))

        self.weight_main = randn(out_features, in_features, scale=0.1)
        self.bias = randn(out_features, scale=0.2)
        self.U_residual = randn(out_features, 1, scale=out_features**-0.5)
        self.S_residual = nn.Parameter(0.5 + torch.rand(1, generator=g))
        self.V_residual = randn(1, in_features, scale=in_features**-0.5)
        self.U_r = randn(out_features, keep)
        self.S_r = randn(keep)
        self.V_r = randn(keep, in_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight = self.weight_main + self.U_residual @ torch.diag(self.S_residual) @ self.V_residual
        return F.linear(x, weight, self.bias)


class EffortOracle(nn.Module):
    """Effort's ``EffortDetector``: CLIP's vision tower as ``backbone`` with split attention
    projections, ``head = nn.Linear(width, 2)`` on its ``pooler_output``."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        # CLIPModel(...).vision_model, the tower Effort keeps, is this class in transformers 5
        self.backbone = transformers.CLIPVisionModel(transformers.CLIPVisionConfig(**TINY))
        randomise_vectors(self.backbone, seed=1)
        g = torch.Generator().manual_seed(2)
        for layer in self.backbone.encoder.layers:
            for name in ("q_proj", "k_proj", "v_proj", "out_proj"):
                setattr(layer.self_attn, name, SplitProjection(getattr(layer.self_attn, name), g))
        self.head = nn.Linear(TINY["hidden_size"], 2)
        with torch.no_grad():  # confident logits, so that a small mapping error moves the score
            self.head.weight.mul_(3.0)
        self.eval()

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(pixel_values=pixels).pooler_output)


class GenDOracle(nn.Module):
    """GenD's Hugging Face model: ``feature_extractor`` holding CLIP's ``vision_model`` and
    ``visual_projection`` (unused), ``model.linear`` on the L2-normalised ``pooler_output``."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.feature_extractor = transformers.CLIPVisionModelWithProjection(
            transformers.CLIPVisionConfig(**TINY)
        )
        randomise_vectors(self.feature_extractor, seed=1)
        self.model = nn.Module()
        self.model.linear = nn.Linear(TINY["hidden_size"], 2)
        with torch.no_grad():  # unit features: a trained head's weights are large, so are these
            self.model.linear.weight.mul_(30.0)
        self.eval()

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        features = self.feature_extractor.vision_model(pixel_values=pixels).pooler_output
        return self.model.linear(F.normalize(features, p=2, dim=1))


def face_crops(n: int = 2) -> np.ndarray:
    """RGB uint8 crops at the contract's 224 px, so no resize differs between the two sides: noise of
    a different brightness and contrast each, so that the oracle's scores differ."""
    noise = np.random.default_rng(0).random((n, 224, 224, 3))
    low = np.linspace(0, 128, n)[:, None, None, None]
    return (low + noise * (255 - 2 * low / 1.5)).clip(0, 255).astype(np.uint8)


def effort_pixels(crops: np.ndarray) -> torch.Tensor:
    """DeepfakeBench's dataset path: ``T.ToTensor()`` then ``T.Normalize(mean, std)`` of effort.yaml."""
    from PIL import Image
    from torchvision import transforms as T

    transform = T.Compose([T.ToTensor(), T.Normalize(CLIP_MEAN, CLIP_STD)])
    return torch.stack([transform(Image.fromarray(c)) for c in crops])


def gend_pixels(crops: np.ndarray) -> torch.Tensor:
    """GenD's ``CLIPProcessor`` (its defaults are openai/clip-vit-large-patch14's: shorter side 224
    bicubic, centre crop 224, CLIP's mean and std)."""
    from PIL import Image

    processor = transformers.CLIPImageProcessor()
    return processor(images=[Image.fromarray(c) for c in crops], return_tensors="pt")["pixel_values"]


@torch.no_grad()
def fake_probability(oracle: nn.Module, pixels: torch.Tensor) -> np.ndarray:
    return torch.softmax(oracle(pixels), dim=1)[:, 1].numpy()


def save_effort(oracle: EffortOracle, path: Path, prefix: str = "module.") -> Path:
    """As Effort's trainer saves it: ``torch.save(model.state_dict())``, under DDP (README's
    multi-GPU command) with ``module.`` before every key."""
    torch.save({prefix + k: v for k, v in oracle.state_dict().items()}, path)
    return path


def save_gend(oracle: GenDOracle, path: Path) -> Path:
    """As ``save_pretrained`` writes ``model.safetensors``."""
    from safetensors.torch import save_file

    save_file(
        {k: v.contiguous() for k, v in oracle.state_dict().items()}, str(path), metadata={"format": "pt"}
    )
    return path


def check_folder(folder: Path, source: str, crops: np.ndarray, expected: np.ndarray) -> None:
    description = json.loads((folder / MODEL_JSON).read_text())
    spec = description["input_spec"]
    assert (spec["size"], spec["mean"], spec["std"]) == (224, CLIP_MEAN, CLIP_STD)
    contract = SOURCES[source].contract
    assert (spec["size"], tuple(spec["mean"]), tuple(spec["std"])) == (
        contract.size,
        contract.mean,
        contract.std,
    )
    assert description["published"]["source"] == source
    for backend in ("onnx", "torch"):
        got = load_exported(folder, backend=backend).score(list(crops))
        np.testing.assert_allclose(got, expected, atol=1e-4, rtol=0, err_msg=backend)


@pytest.mark.slow
def test_effort_release_scores_as_effort_in_both_backends(tmp_path: Path) -> None:
    oracle = EffortOracle()
    crops = face_crops()
    expected = fake_probability(oracle, effort_pixels(crops))
    assert abs(expected[0] - expected[1]) > 1e-2  # not a flat output that any mapping would match
    file = save_effort(oracle, tmp_path / "effort_ffpp.pth")
    folder = import_checkpoint("effort", file, tmp_path / "model", say=lambda _: None)
    check_folder(folder, "effort", crops, expected)
    net = json.loads((folder / MODEL_JSON).read_text())["net"]
    assert net["kwargs"]["tuning"] == "full" and net["kwargs"]["timm_kwargs"]["num_heads"] == 2


@pytest.mark.slow
def test_gend_release_scores_as_gend_in_both_backends(tmp_path: Path) -> None:
    oracle = GenDOracle()
    crops = face_crops()
    expected = fake_probability(oracle, gend_pixels(crops))
    assert abs(expected[0] - expected[1]) > 1e-2
    file = save_gend(oracle, tmp_path / "model.safetensors")
    folder = import_checkpoint("gend", file, tmp_path / "model", say=lambda _: None)
    check_folder(folder, "gend", crops, expected)
    kwargs = json.loads((folder / MODEL_JSON).read_text())["net"]["kwargs"]
    assert (kwargs["tuning"], kwargs["head_type"]) == ("layernorm", "linear")


def test_effort_without_ddp_prefix_and_with_old_position_ids_converts_the_same(tmp_path: Path) -> None:
    """A single-GPU save (no ``module.``) from a transformers that still saved ``position_ids``."""
    oracle = EffortOracle()
    ddp = torch.load(save_effort(oracle, tmp_path / "ddp.pth"), weights_only=True)
    plain = {k.removeprefix("module."): v for k, v in ddp.items()}
    plain["backbone.embeddings.position_ids"] = torch.arange(257)[None]
    a, b = SOURCES["effort"].convert(ddp), SOURCES["effort"].convert(plain)
    for key, value in a.net.state_dict().items():
        assert torch.equal(value, b.net.state_dict()[key]), key
    assert "backbone.embeddings.position_ids" in b.dropped
    assert any("U_r" in k or "[USV]_r" in k for k in a.dropped)


@pytest.mark.parametrize(
    ("source", "damage", "key"),
    [
        ("effort", "drop", "backbone.encoder.layers.1.self_attn.v_proj.S_residual"),
        ("effort", "rename", "head.weight"),
        ("gend", "drop", "feature_extractor.vision_model.encoder.layers.0.layer_norm2.bias"),
        ("gend", "rename", "model.linear.weight"),
    ],
)
def test_a_missing_or_renamed_key_is_refused_by_name(
    source: str, damage: str, key: str, tmp_path: Path
) -> None:
    oracle = EffortOracle() if source == "effort" else GenDOracle()
    state = dict(oracle.state_dict())
    value = state.pop(key)
    if damage == "rename":
        state[key.replace("weight", "kernel")] = value
    if source == "effort":
        torch.save(state, file := tmp_path / "effort.pth")
    else:
        from safetensors.torch import save_file

        save_file({k: v.contiguous() for k, v in state.items()}, str(file := tmp_path / "model.safetensors"))
    with pytest.raises(ConversionError, match=key.replace(".", r"\.")):
        import_checkpoint(source, file, tmp_path / "model", say=lambda _: None)
    assert not (tmp_path / "model").exists()


def test_the_real_releases_map_onto_timm_vit_l14_with_quickgelu_exactly() -> None:
    """ViT-L/14 at 224 px, on the meta device (shapes only, no 300M weights): every tensor of
    openai/clip-vit-large-patch14's vision tower lands on a tensor of the same shape of
    ``vit_large_patch14_clip_quickgelu_224``, and every tensor of that is filled."""
    from dfd.models.nets.foundation import FoundationNet

    config = transformers.CLIPVisionConfig(
        hidden_size=1024, intermediate_size=4096, num_hidden_layers=24, num_attention_heads=16,
        image_size=224, patch_size=14,
    )  # fmt: skip
    with torch.device("meta"):
        tower = transformers.CLIPVisionModel(config)
        state = {f"v.{k}": v for k, v in tower.state_dict().items()}
        keys = ReleaseKeys(state, "test", "")
        size = VisionSize(width=1024, depth=24, patch=14, image=224, mlp=4096)
        kwargs = foundation_kwargs(size, tuning="full")
        mapped = clip_vision_to_timm(
            keys, "v.", size, lambda n: (keys.take(f"{n}.weight"), keys.take(f"{n}.bias"))
        )
        net = FoundationNet(**kwargs)
    assert kwargs["backbone"] == "vit_large_patch14_clip_quickgelu_224.openai" and kwargs["timm_kwargs"] == {}
    assert type(net.backbone.blocks[0].mlp.act).__name__ == "QuickGELU"
    own = {k: tuple(v.shape) for k, v in net.state_dict().items() if k.startswith("backbone.")}
    assert {k: tuple(v.shape) for k, v in mapped.items()} == own
    assert set(state) - keys.read == set()  # position_ids is a non-persistent buffer in transformers 5
