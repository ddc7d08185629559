"""SBI's and DeepfakeBench's EfficientNet-B4 releases, proved against efficientnet-pytorch.

The oracle is efficientnet-pytorch's ``EfficientNet.from_name`` with random weights (random BatchNorm
affines, running statistics from a pass over random crops and noise, so that every BatchNorm tensor
matters), wrapped as each source wraps it and saved as each source saves its release. The full-size imports
(B4 at 380 and 256 px, one ONNX export each) are slow; the key mapping and the fixed padding are also
checked fast on B0 at small sizes.
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
from dfd.models.nets.timm_net import FixedPadConv2d, TimmNet
from dfd.published.efficientnet import (
    DEEPFAKEBENCH_B4_PADDING,
    SOURCES,
    convert_efficientnet_pytorch,
)
from dfd.published.importing import import_checkpoint
from dfd.published.sources import ConversionError

EfficientNet = pytest.importorskip("efficientnet_pytorch").EfficientNet


class SbiDetector(nn.Module):
    """SBI's detector as its release holds it: efficientnet-pytorch's B4 as ``net``, 2 classes."""

    def __init__(self, name: str = "efficientnet-b4", **params) -> None:
        super().__init__()
        self.net = EfficientNet.from_name(name, num_classes=2, **params)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def prepare(self, crops: np.ndarray) -> torch.Tensor:
        """SBI's inference: CHW, / 255, no mean or std."""
        return torch.from_numpy(crops).permute(0, 3, 1, 2).float() / 255

    def fake_probability(self, crops: np.ndarray) -> torch.Tensor:
        return self(self.prepare(crops)).softmax(1)[:, 1]


class DeepfakeBenchBackbone(nn.Module):
    """DeepfakeBench's EfficientNet-B4 backbone: efficientnet-pytorch's net with an unpadded stem
    and no ``_fc``, then average pooling and ``last_layer``."""

    def __init__(self, name: str = "efficientnet-b4", stem: int = 48, features: int = 1792) -> None:
        super().__init__()
        self.efficientnet = EfficientNet.from_name(name)
        self.efficientnet._conv_stem = nn.Conv2d(3, stem, kernel_size=3, stride=2, bias=False)
        self.efficientnet._fc = nn.Identity()
        self.last_layer = nn.Linear(features, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = F.adaptive_avg_pool2d(self.efficientnet.extract_features(x), (1, 1)).flatten(1)
        return self.last_layer(pooled)


class DeepfakeBenchDetector(nn.Module):
    """The detector whose state dict ``effnb4_best.pth`` is (``backbone.*``)."""

    def __init__(self, **kwargs) -> None:
        super().__init__()
        self.backbone = DeepfakeBenchBackbone(**kwargs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.backbone(x)

    def prepare(self, crops: np.ndarray) -> torch.Tensor:
        """DeepfakeBench's test transform: ToTensor, then Normalize(mean 0.5, std 0.5)."""
        return (torch.from_numpy(crops).permute(0, 3, 1, 2).float() / 255 - 0.5) / 0.5

    def fake_probability(self, crops: np.ndarray) -> torch.Tensor:
        return self(self.prepare(crops)).softmax(1)[:, 1]


def randomize(model: nn.Module, classifier: nn.Linear, images: torch.Tensor, seed: int = 1) -> nn.Module:
    """Random BatchNorm affines, running statistics of one pass over ``images`` (each channel's own, so
    a BatchNorm mapped to another layer's tensors fails; perturbing them would compound through the
    layers into huge activations), and a classifier scaled so that the logits spread by about 0.5 over
    ``images`` (B4 in ONNX Runtime deviates from torch by about 1e-5 of its features, which a steeper
    classifier would carry past dfd's 1e-4 export check); eval mode."""
    g = torch.Generator().manual_seed(seed)
    norms = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    pooled: list[torch.Tensor] = []
    hook = classifier.register_forward_pre_hook(lambda _, args: pooled.append(args[0]))
    model.eval()
    with torch.no_grad():
        for m in norms:
            m.weight.copy_(torch.rand(m.weight.shape, generator=g) + 0.5)
            m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.2)
            m.train()
            m.momentum = 1.0
        model(images)
        for m in norms:
            m.eval()
        pooled.clear()
        model(images)
        f = pooled[-1]
        spread = (f - f.mean(0)).pow(2).mean().sqrt() * f.shape[1] ** 0.5
        classifier.weight.copy_(torch.randn(classifier.weight.shape, generator=g) * 0.5 / spread)
        classifier.bias.copy_(-classifier.weight @ f.mean(0))
    hook.remove()
    return model.eval()


def crops(size: int, n: int = 2, seed: int = 0) -> np.ndarray:
    """``n`` RGB uint8 crops at the source's size, alternately a smooth field around a colour of
    its own (with a little noise) and pixel noise, so that the random net scores them apart."""
    rng = np.random.default_rng(seed)
    fields = rng.uniform(40, 215, (n, 3, 1, 1)) + rng.normal(0, 40, (n, 3, 6, 6))
    smooth = F.interpolate(
        torch.from_numpy(fields).float(), size=(size, size), mode="bilinear", align_corners=False
    )
    images = smooth.permute(0, 2, 3, 1).numpy() + rng.normal(0, 15, (n, size, size, 3))
    images[1::2] = rng.uniform(0, 255, images[1::2].shape)
    return np.clip(images, 0, 255).astype(np.uint8)


def static_padding(oracle: nn.Module, backbone: nn.Module) -> dict[str, list[int]]:
    """The padding efficientnet-pytorch fixed for its stride-2 depthwise convolutions, by timm name."""
    names = [f"blocks.{s}.{b}" for s, stage in enumerate(backbone.blocks) for b in range(len(stage))]
    return {
        f"{name}.conv_dw": list(block._depthwise_conv.static_padding.padding)
        for name, block in zip(names, oracle._blocks, strict=True)
        if block._depthwise_conv.stride[0] > 1
    }


def build(source: str, size: int, seed: int = 0) -> nn.Module:
    """The source's oracle at B4, randomised on crops in the source's preprocessing and on the
    standard normal images dfd's export check feeds (fitted to crops alone, the random net blows
    up on those)."""
    torch.manual_seed(seed)
    noise = torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(seed + 7))
    model = SbiDetector() if source == "sbi" else DeepfakeBenchDetector()
    classifier = model.net._fc if source == "sbi" else model.backbone.last_layer
    return randomize(model, classifier, torch.cat([model.prepare(crops(size, seed=seed + 1)), noise]))


def save_release(source: str, model: nn.Module, folder: Path) -> Path:
    """The file the source releases: SBI's {"model", "optimizer", "epoch"}, DeepfakeBench's plain state dict."""
    if source == "sbi":
        path = folder / "FFraw.tar"
        optimizer = torch.optim.SGD(model.parameters(), lr=0.001, momentum=0.9)
        torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": 12}, path)
    else:
        path = folder / "effnb4_best.pth"
        torch.save(model.state_dict(), path)
    return path


@pytest.fixture(scope="module")
def b4_on_meta() -> tuple[nn.Module, nn.Module]:
    """efficientnet-pytorch's B4 and timm's headless tf_efficientnet_b4, shapes only."""
    import timm

    with torch.device("meta"):
        oracle = EfficientNet.from_name("efficientnet-b4")
        backbone = timm.create_model("tf_efficientnet_b4", num_classes=0)
    return oracle, backbone


# -- fast: the mapping and the padding ---------------------------------------------------------------


def test_key_mapping_reproduces_efficientnet_pytorch_b0() -> None:
    # B0 at 64 px, built for 64 px: efficientnet-pytorch's fixed padding is timm's at this size
    torch.manual_seed(0)
    oracle = SbiDetector("efficientnet-b0", image_size=64)
    images = oracle.prepare(crops(64, n=4))
    randomize(oracle, oracle.net._fc, images)
    kwargs = {"model_name": "tf_efficientnet_b0", "num_classes": 2, "input_size": 64}
    converted = convert_efficientnet_pytorch(oracle.state_dict(), "sbi", "net.", "net._fc.", kwargs)
    with torch.no_grad():
        expected, got = oracle(images).softmax(1)[:, 1], converted.net(images).softmax(1)[:, 1]
    assert expected.max() - expected.min() > 1e-2  # the random net tells the crops apart
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=0)
    assert converted.target == "dfd.models.nets.timm_net.TimmNet" and converted.kwargs == kwargs


def test_fixed_padding_reproduces_efficientnet_pytorch_fed_another_size() -> None:
    # DeepfakeBench's departures on B0: an unpadded stem, padding fixed for 224 px, fed 96 px
    torch.manual_seed(0)
    oracle = DeepfakeBenchDetector(name="efficientnet-b0", stem=32, features=1280)
    images = oracle.prepare(crops(96, n=4))
    randomize(oracle, oracle.backbone.last_layer, images)
    plain = TimmNet(model_name="tf_efficientnet_b0", num_classes=2, input_size=96)
    padding = {"conv_stem": [0, 0, 0, 0], **static_padding(oracle.backbone.efficientnet, plain.backbone)}
    assert padding["blocks.2.0.conv_dw"] == [1, 2, 1, 2]  # 56 px at 224, where 24 px would give [2, 2, 2, 2]
    kwargs = {"model_name": "tf_efficientnet_b0", "num_classes": 2, "input_size": 96, "conv_padding": padding}
    converted = convert_efficientnet_pytorch(
        oracle.state_dict(),
        "deepfakebench_efficientnet_b4",
        "backbone.efficientnet.",
        "backbone.last_layer.",
        kwargs,
    )
    assert isinstance(converted.net.backbone.conv_stem, FixedPadConv2d)
    plain.load_state_dict(converted.net.state_dict())
    with torch.no_grad():
        expected = oracle(images).softmax(1)[:, 1]
        got, unfixed = converted.net(images).softmax(1)[:, 1], plain.eval()(images).softmax(1)[:, 1]
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=0)
    assert (unfixed - expected).abs().max() > 1e-2  # timm's own padding would not do


def test_deepfakebench_padding_is_what_efficientnet_pytorch_fixes_for_380_px(b4_on_meta) -> None:
    oracle, backbone = b4_on_meta
    assert oracle._global_params.image_size == 380
    assert DEEPFAKEBENCH_B4_PADDING == {"conv_stem": [0, 0, 0, 0], **static_padding(oracle, backbone)}


def test_conv_padding_refuses_a_name_that_is_no_convolution() -> None:
    with pytest.raises(ValueError, match="'blocks.0.0.bn1' is not a convolution"):
        TimmNet(model_name="tf_efficientnet_b0", conv_padding={"blocks.0.0.bn1": [0, 0, 0, 0]})
    with pytest.raises(ValueError, match=r"conv_padding.conv_stem=\[1, 1\]"):
        TimmNet(model_name="tf_efficientnet_b0", conv_padding={"conv_stem": [1, 1]})


def zeros_like_release(source: str, oracle: nn.Module) -> dict[str, torch.Tensor]:
    """The state dict of the source's release, zero-filled, from the meta-device oracle's shapes."""
    state = {
        k: torch.zeros(v.shape, dtype=v.dtype) for k, v in oracle.state_dict().items() if "_fc." not in k
    }
    classifier = {"weight": torch.zeros(2, 1792), "bias": torch.zeros(2)}
    if source == "sbi":
        return {
            **{f"net.{k}": v for k, v in state.items()},
            **{f"net._fc.{k}": v for k, v in classifier.items()},
        }
    return {
        **{f"backbone.efficientnet.{k}": v for k, v in state.items()},
        **{f"backbone.last_layer.{k}": v for k, v in classifier.items()},
    }


@pytest.mark.parametrize(
    ("source", "drop", "add"),
    [
        ("sbi", "net._blocks.5._bn1.running_var", None),
        ("deepfakebench_efficientnet_b4", "backbone.last_layer.weight", "backbone.classifier.weight"),
    ],
)
def test_a_file_missing_a_key_is_refused_naming_it(source, drop, add, b4_on_meta, tmp_path: Path) -> None:
    state = zeros_like_release(source, b4_on_meta[0])
    value = state.pop(drop)
    if add:
        state[add] = value
    torch.save({"model": state, "epoch": 0} if source == "sbi" else state, tmp_path / "release.pth")
    with pytest.raises(ConversionError, match=f"1 missing \\({drop}\\)") as err:
        import_checkpoint(source, tmp_path / "release.pth", tmp_path / "model", say=lambda _: None)
    if add:
        assert f"1 unexpected ({add})" in str(err.value)
    assert not (tmp_path / "model").exists()


def test_deepfakebench_file_saved_under_ddp_converts(b4_on_meta) -> None:
    state = zeros_like_release("deepfakebench_efficientnet_b4", b4_on_meta[0])
    converted = SOURCES["deepfakebench_efficientnet_b4"].convert({f"module.{k}": v for k, v in state.items()})
    assert converted.kwargs["conv_padding"] == DEEPFAKEBENCH_B4_PADDING
    assert converted.kwargs["input_size"] == 256 and converted.kwargs["model_name"] == "tf_efficientnet_b4"


# -- slow: each release at full size through import, ONNX and both backends --------------------------

CONTRACTS = {
    "sbi": (380, [0.0, 0.0, 0.0], [1.0, 1.0, 1.0]),
    "deepfakebench_efficientnet_b4": (256, [0.5] * 3, [0.5] * 3),
}


@pytest.mark.slow
@pytest.mark.parametrize("source", list(CONTRACTS))
def test_imported_release_scores_as_the_source(source: str, tmp_path: Path) -> None:
    size, mean, std = CONTRACTS[source]
    from tests.conftest import run_main

    oracle = build(source, size)
    path = save_release(source, oracle, tmp_path)
    # the measure: the command on a file in the source's format, then dfd.predict on a real photo
    done = run_main("dfd.import_weights", [f"source={source}", f"path={path}", f"out_dir={tmp_path / 'model'}",
                                           f"hydra.run.dir={tmp_path / 'import'}"], cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    folder = tmp_path / "model"
    pixels = crops(size)
    with torch.no_grad():
        expected = oracle.fake_probability(pixels).numpy()
    assert expected.max() - expected.min() > 1e-2  # the random net tells the crops apart
    for backend in ("torch", "onnx"):
        got = load_exported(folder, backend=backend).score(list(pixels))
        np.testing.assert_allclose(got, expected, atol=1e-4, rtol=0, err_msg=backend)
    description = json.loads((folder / MODEL_JSON).read_text())
    spec = description["input_spec"]
    assert (spec["size"], spec["mean"], spec["std"]) == (size, mean, std)
    assert description["published"]["contract"] == SOURCES[source].contract.to_dict()
    assert description["net"]["kwargs"]["model_name"] == "tf_efficientnet_b4"
    assert description["published"]["non_commercial"] is True
    if source == "sbi":
        from PIL import Image
        from skimage import data

        Image.fromarray(data.astronaut()).save(tmp_path / "astronaut.jpg")
        done = run_main("dfd.predict", [f"ckpt_path={folder}", f"input={tmp_path / 'astronaut.jpg'}", "device=cpu",
                                        f"output={tmp_path / 'p.csv'}", f"hydra.run.dir={tmp_path / 'predict'}"],
                        cwd=tmp_path)  # fmt: skip
        assert done.returncode == 0, done.stderr
        header, row = (line.split(",") for line in (tmp_path / "p.csv").read_text().splitlines()[:2])
        assert row[header.index("status")] == "ok" and 0.0 < float(row[header.index("score")]) < 1.0
