"""DeepfakeBench's Xception and F3Net releases → dfd (``dfd.published.xception``), proved against
independent builds of the two detectors.

The oracle backbone is Cadene's ``pretrainedmodels`` Xception, the code FaceForensics++ and
DeepfakeBench derive theirs from, with random weights, wrapped under DeepfakeBench's attribute
names (``backbone`` with its ``last_linear`` and unused ``adjust_channel``; ``FAD_head`` for F3Net)
and saved as DeepfakeBench saves (``torch.save(detector.state_dict())``). F3Net's FAD head has no
pip implementation: it is written here from the paper's equations (Qian et al., ECCV 2020, Sec. 3.1),
using SciPy's DCT and none of dfd's F3Net code. Each release is imported into a model folder whose
torch and ONNX backends must give the oracle's fake probability on the same uint8 crops, each
preprocessed its own way (DeepfakeBench: torchvision ToTensor and Normalize(0.5, 0.5); dfd: the
folder's input_spec).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import scipy.fft
import torch
import torchvision.transforms.functional as TF
from pretrainedmodels.models.xception import Xception as CadeneXception
from torch import nn

from dfd.inference.export import load_exported
from dfd.published.importing import import_checkpoint
from dfd.published.sources import ConversionError, get_source

SIZE = 256  # px, DeepfakeBench's resolution
BATCH = 2


def randomise_batchnorm(net: nn.Module, generator: torch.Generator) -> None:
    """Random affine parameters and running statistics, so that a BatchNorm mapped to the wrong
    layer (or left at its initial values) changes the output."""
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):
            c = m.num_features
            m.weight.data = torch.empty(c).uniform_(0.5, 1.5, generator=generator)
            m.bias.data = torch.randn(c, generator=generator) * 0.1
            m.running_mean = torch.randn(c, generator=generator) * 0.1
            m.running_var = torch.empty(c).uniform_(0.5, 2.0, generator=generator)


def deepfakebench_backbone(in_channels: int = 3, dropout: float | None = None) -> CadeneXception:
    """Cadene's Xception with DeepfakeBench's changes: ``fc`` renamed ``last_linear`` (2 classes,
    after Dropout when ``dropout``), an unused ``adjust_channel``, and a first conv of
    ``in_channels``."""
    net = CadeneXception(num_classes=2)
    if in_channels != 3:
        net.conv1 = nn.Conv2d(in_channels, 32, 3, 2, 0, bias=False)
    linear = net.fc
    del net.fc
    net.last_linear = nn.Sequential(nn.Dropout(dropout), linear) if dropout else linear
    net.adjust_channel = nn.Sequential(nn.Conv2d(2048, 512, 1, 1), nn.BatchNorm2d(512), nn.ReLU())
    return net


class FrequencyDecomposition(nn.Module):
    """F3-Net's frequency-aware decomposition (paper Sec. 3.1, Eq. 1):
    ``y_i = D⁻¹(D(x) ⊙ (f_base_i + σ'(f_w_i)))``, ``σ'(w) = 2·sigmoid(w) - 1``, D the 2-D DCT,
    for a low, middle, high and all-pass band on ``u + v`` (DeepfakeBench's edges, both inclusive:
    ``[0, ⌊S/2.82⌋]``, ``[⌊S/2.82⌋, S/2]``, ``[S/2, 2S]``, ``[0, 2S]``). The DCT matrix and its
    transpose are stored as DeepfakeBench stores them."""

    def __init__(self, size: int, generator: torch.Generator) -> None:
        super().__init__()
        dct = torch.from_numpy(scipy.fft.dct(np.eye(size), norm="ortho", axis=0)).float()
        self._DCT_all = nn.Parameter(dct, requires_grad=False)
        self._DCT_all_T = nn.Parameter(dct.T.contiguous(), requires_grad=False)
        diagonal = torch.arange(size)[:, None] + torch.arange(size)[None, :]
        low, mid = size // 2.82, size // 2
        self.filters = nn.ModuleList()
        for start, end in ((0, low), (low, mid), (mid, 2 * size), (0, 2 * size)):
            band = nn.Module()
            band.base = nn.Parameter(((diagonal >= start) & (diagonal <= end)).float(), requires_grad=False)
            band.learnable = nn.Parameter(torch.randn(size, size, generator=generator))
            self.filters.append(band)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        freq = self._DCT_all @ x @ self._DCT_all_T
        bands = []
        for band in self.filters:
            passed = freq * (band.base + 2.0 * torch.sigmoid(band.learnable) - 1.0)
            bands.append(self._DCT_all_T @ passed @ self._DCT_all)
        return torch.cat(bands, dim=1)


class DeepfakeBenchXception(nn.Module):
    """DeepfakeBench's Xception detector as its state dict and probability see it."""

    def __init__(self, generator: torch.Generator) -> None:
        super().__init__()
        self.backbone = deepfakebench_backbone()
        randomise_batchnorm(self, generator)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.backbone.logits(self.backbone.features(x)), dim=1)[:, 1]


class DeepfakeBenchF3Net(nn.Module):
    """DeepfakeBench's F3Net detector: FAD head, then a 12-channel Xception with Dropout(0.5)."""

    def __init__(self, generator: torch.Generator) -> None:
        super().__init__()
        self.backbone = deepfakebench_backbone(in_channels=12, dropout=0.5)
        self.FAD_head = FrequencyDecomposition(SIZE, generator)
        randomise_batchnorm(self, generator)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.backbone.features(self.FAD_head(x))
        return torch.softmax(self.backbone.logits(features), dim=1)[:, 1]


def crops(seed: int = 1) -> np.ndarray:
    """Two RGB uint8 face crops at the source's size: smooth colour fields plus noise."""
    rng = np.random.default_rng(seed)
    ramp = np.linspace(-1, 1, SIZE)[None, :, None, None]
    base = rng.uniform(40, 200, (BATCH, 1, 1, 3)) + 50 * ramp * rng.uniform(-1, 1, (BATCH, 1, 1, 3))
    return np.clip(base + rng.normal(0, 25, (BATCH, SIZE, SIZE, 3)), 0, 255).astype(np.uint8)


def deepfakebench_input(images: np.ndarray) -> torch.Tensor:
    """DeepfakeBench's test transform: ToTensor, then Normalize(mean = std = 0.5)."""
    return torch.stack([TF.normalize(TF.to_tensor(im), [0.5] * 3, [0.5] * 3) for im in images])


def spread_logits(
    detector: nn.Module, linear: nn.Linear, x: torch.Tensor, generator: torch.Generator
) -> None:
    """Set the random classifier so that the two crops of ``x`` get logit differences of about ±0.5.

    A randomly initialised Xception pools nearly the same features for any input, so a random
    classifier scores every crop alike, and probabilities near 0 or 1 would hide a wrong mapping
    within the tolerance. Reading along the difference of the two crops' features instead makes
    the score sensitive to any change of those features (a BatchNorm mapped to the wrong layer,
    a filter left out)."""
    captured = {}
    hook = linear.register_forward_hook(lambda m, args, out: captured.setdefault("x", args[0]))
    with torch.no_grad():
        detector(x)
        hook.remove()
        f = captured["x"]
        d = (f[0] - f[1]) / (f[0] - f[1]).square().sum()
        noise = torch.randn(2, f.shape[1], generator=generator) * 0.01 / f.norm(dim=1).mean()
        linear.weight.data = torch.stack([torch.zeros_like(d), d]) + noise
        linear.bias.data = torch.stack([torch.zeros(()), -(d @ f.mean(dim=0))])


def release(detector: nn.Module, path: Path) -> Path:
    torch.save(detector.state_dict(), path)  # DeepfakeBench's save_ckpt: the detector's state dict
    return path


@pytest.fixture(scope="module")
def xception_release(tmp_path_factory) -> tuple[nn.Module, Path]:
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    oracle = DeepfakeBenchXception(g).eval()
    spread_logits(oracle, oracle.backbone.last_linear, deepfakebench_input(crops()), g)
    return oracle, release(oracle, tmp_path_factory.mktemp("dfb") / "xception_best.pth")


@pytest.fixture(scope="module")
def f3net_release(tmp_path_factory) -> tuple[nn.Module, Path]:
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(1)
    oracle = DeepfakeBenchF3Net(g).eval()
    spread_logits(oracle, oracle.backbone.last_linear[1], deepfakebench_input(crops()), g)
    return oracle, release(oracle, tmp_path_factory.mktemp("dfb") / "f3net_best.pth")


def assert_parity(source: str, oracle: nn.Module, path: Path, out: Path) -> None:
    folder = import_checkpoint(source, path, out, say=lambda _: None)
    images = crops()
    with torch.no_grad():
        expected = oracle(deepfakebench_input(images)).numpy()
    assert np.all((expected > 0.02) & (expected < 0.98)), expected  # not saturated
    assert abs(expected[0] - expected[1]) > 1e-3  # the two crops score differently
    for backend in ("torch", "onnx"):
        scores = load_exported(folder, backend=backend).score(list(images))
        np.testing.assert_allclose(scores, expected, atol=1e-4, err_msg=backend)
    spec = json.loads((folder / "dfd_model.json").read_text())["input_spec"]
    contract = get_source(source).contract
    assert (contract.size, contract.mean, contract.std) == (SIZE, (0.5,) * 3, (0.5,) * 3)
    assert (spec["size"], spec["mean"], spec["std"]) == (SIZE, [0.5] * 3, [0.5] * 3)


@pytest.mark.slow
def test_xception_release_scores_as_deepfakebench(xception_release, tmp_path):
    oracle, path = xception_release
    assert_parity("deepfakebench_xception", oracle, path, tmp_path / "model")


@pytest.mark.slow
def test_f3net_release_scores_as_deepfakebench(f3net_release, tmp_path):
    oracle, path = f3net_release
    assert_parity("deepfakebench_f3net", oracle, path, tmp_path / "model")


def test_xception_file_with_a_missing_or_renamed_key_is_refused_by_name():
    state = DeepfakeBenchXception(torch.Generator().manual_seed(0)).state_dict()
    convert = get_source("deepfakebench_xception").convert
    without = {k: v for k, v in state.items() if k != "backbone.block4.rep.1.pointwise.weight"}
    with pytest.raises(ConversionError, match=r"1 missing \(backbone\.block4\.rep\.1\.pointwise\.weight\)"):
        convert(without)
    renamed = {k.replace("last_linear", "fc"): v for k, v in state.items()}
    with pytest.raises(
        ConversionError, match=r"missing \(backbone\.last_linear\.weight.*unexpected \(backbone\.fc\.weight"
    ):
        convert(renamed)


def test_xception_file_saved_under_ddp_converts_to_the_same_weights():
    state = DeepfakeBenchXception(torch.Generator().manual_seed(0)).state_dict()
    convert = get_source("deepfakebench_xception").convert
    plain = convert(state)
    ddp = convert({f"module.{k}": v for k, v in state.items()})
    assert plain.kwargs == ddp.kwargs == {"num_classes": 2, "dropout": 0.0, "input_size": SIZE}
    assert list(plain.dropped) == ["backbone.adjust_channel."]
    for (k, a), (k2, b) in zip(plain.net.state_dict().items(), ddp.net.state_dict().items(), strict=True):
        assert k == k2 and torch.equal(a, b), k
    torch.testing.assert_close(plain.net.head[1].weight, state["backbone.last_linear.weight"], rtol=0, atol=0)


def test_f3net_file_with_a_missing_filter_or_another_fad_is_refused():
    state = DeepfakeBenchF3Net(torch.Generator().manual_seed(0)).state_dict()
    convert = get_source("deepfakebench_f3net").convert
    without = {k: v for k, v in state.items() if k != "FAD_head.filters.3.learnable"}
    with pytest.raises(ConversionError, match=r"1 missing \(FAD_head\.filters\.3\.learnable\)"):
        convert(without)
    untransposed = {**state, "FAD_head._DCT_all_T": state["FAD_head._DCT_all"]}
    with pytest.raises(ConversionError, match=r"_DCT_all_T is not the transpose"):
        convert(untransposed)
    other_size = {**state, "FAD_head._DCT_all": torch.zeros(299, 299)}
    with pytest.raises(ConversionError, match=r"299 px input; the release's contract is 256 px"):
        convert(other_size)
