"""DeepfakeBench's MesoNets imported into dfd score exactly as DeepfakeBench's own nets do.

No pip package implements DeepfakeBench's MesoNet port, so the oracle here is a test-side
reimplementation: plain torch, importing nothing of dfd's nets, written from the paper (Afchar et al.,
"MesoNet: a Compact Facial Video Forgery Detection Network", WIFS 2018,
https://arxiv.org/abs/1809.00888) and the layout DeepfakeBench documents in
``training/networks/mesonet.py`` (layer names, so its state dict has the release's keys; no conv
bias; PyTorch's BatchNorm epsilon; one BatchNorm reused by two stages; linear inception branches).
It sits under a detector whose ``backbone`` it is, and its ``state_dict()`` is saved bare with
``torch.save``, as DeepfakeBench's trainer saves ``meso4_best.pth`` and ``meso4Incep_best.pth``.
Weights and BatchNorm statistics are random and seeded, the statistics small enough that a wrong
epsilon or a BatchNorm mapped to the wrong stage changes the score.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torchvision.transforms.functional import normalize, to_tensor

from dfd.inference.export import load_exported
from dfd.published.importing import import_checkpoint
from dfd.published.sources import ConversionError, get_source

SIZE = 256  # px, DeepfakeBench's resolution for both MesoNets


def _conv(cin: int, cout: int, k: int, dilation: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, k, padding=dilation * (k // 2), dilation=dilation, bias=False)


class OracleMeso4(nn.Module):
    """Meso-4 as DeepfakeBench runs it: conv → ReLU → BN → max-pool four times, ``bn1`` serving the
    first two stages and ``bn2`` the last two, then dense 1024 → 16 → LeakyReLU(0.1) → 2."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.conv2 = _conv(3, 8, 3), _conv(8, 8, 5)
        self.conv3, self.conv4 = _conv(8, 16, 5), _conv(16, 16, 5)
        self.bn1, self.bn2 = nn.BatchNorm2d(8), nn.BatchNorm2d(16)
        self.fc1, self.fc2 = nn.Linear(16 * 8 * 8, 16), nn.Linear(16, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        stages = ((self.conv1, self.bn1, 2), (self.conv2, self.bn1, 2), (self.conv3, self.bn2, 2),
                  (self.conv4, self.bn2, 4))  # fmt: skip
        for conv, bn, pool in stages:
            x = F.max_pool2d(bn(F.relu(conv(x))), pool)
        x = F.leaky_relu(self.fc1(F.dropout(x.flatten(1), 0.5, self.training)), 0.1)
        return self.fc2(F.dropout(x, 0.5, self.training))


class OracleMesoInception4(nn.Module):
    """MesoInception-4 as DeepfakeBench runs it: two inception layers (branches 1x1; 1x1 → 3x3;
    1x1 → 3x3 dilated 2; 1x1 → 3x3 dilated 3; no activation) each concatenated → BN → pool 2, then
    two conv → ReLU → BN (``bn1`` for both) → pool stages and the Meso-4 head."""

    def __init__(self) -> None:
        super().__init__()
        for n, cin, widths in ((1, 3, (1, 4, 4, 2)), (2, 11, (2, 4, 4, 2))):
            setattr(self, f"Incption{n}_conv1", _conv(cin, widths[0], 1))
            for branch, (width, dilation) in enumerate(zip(widths[1:], (1, 2, 3), strict=True), start=2):
                setattr(self, f"Incption{n}_conv{branch}_1", _conv(cin, width, 1))
                setattr(self, f"Incption{n}_conv{branch}_2", _conv(width, width, 3, dilation))
            setattr(self, f"Incption{n}_bn", nn.BatchNorm2d(sum(widths)))
        self.conv1, self.conv2 = _conv(12, 16, 5), _conv(16, 16, 5)
        self.bn1 = nn.BatchNorm2d(16)
        self.fc1, self.fc2 = nn.Linear(16 * 8 * 8, 16), nn.Linear(16, 2)

    def inception(self, n: int, x: torch.Tensor) -> torch.Tensor:
        layer = lambda name: getattr(self, f"Incption{n}_{name}")  # noqa: E731
        branches = [layer("conv1")(x)] + [layer(f"conv{b}_2")(layer(f"conv{b}_1")(x)) for b in (2, 3, 4)]
        return F.max_pool2d(layer("bn")(torch.cat(branches, 1)), 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.inception(2, self.inception(1, x))
        x = F.max_pool2d(self.bn1(F.relu(self.conv1(x))), 2)
        x = F.max_pool2d(self.bn1(F.relu(self.conv2(x))), 4)
        x = F.leaky_relu(self.fc1(F.dropout(x.flatten(1), 0.5, self.training)), 0.1)
        return self.fc2(F.dropout(x, 0.5, self.training))


class OracleDetector(nn.Module):
    """DeepfakeBench's detector shell: the net as ``backbone`` (and a loss without state)."""

    def __init__(self, backbone: nn.Module) -> None:
        super().__init__()
        self.backbone = backbone
        self.loss_func = nn.CrossEntropyLoss()

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """DeepfakeBench's score: softmax(logits)[:, 1]."""
        return torch.softmax(self.backbone(image), dim=1)[:, 1]


ORACLES = {"deepfakebench_meso4": OracleMeso4, "deepfakebench_meso4_inception": OracleMesoInception4}


@cache  # built once per source: tests read it, none changes it
def _randomised(source: str, seed: int = 0) -> OracleDetector:
    """The source's oracle with seeded random weights; BatchNorm statistics measured on random inputs,
    then scattered (means shifted, variances scaled 0.3-3x), and affine parameters random."""
    torch.manual_seed(seed)
    det = OracleDetector(ORACLES[source]())
    with torch.no_grad():
        for m in det.modules():
            if isinstance(m, nn.Conv2d):
                m.weight.mul_(0.3)  # activations ~1e-2: variances near BatchNorm's epsilon
        bns = [m for m in det.modules() if isinstance(m, nn.BatchNorm2d)]
        for bn in bns:
            bn.momentum = None  # a cumulative average over the calibration batches
        det.train()(torch.rand(2, 3, SIZE, SIZE) * 2 - 1)
        for bn in bns:
            bn.running_mean.add_(0.3 * bn.running_var.sqrt() * torch.randn_like(bn.running_mean))
            bn.running_var.mul_(torch.empty_like(bn.running_var).uniform_(0.3, 3.0))
            bn.weight.uniform_(0.5, 1.5)
            bn.bias.normal_(0.0, 0.2)
            bn.num_batches_tracked.fill_(1234)
            bn.momentum = 0.1
    return det.eval()


def _crops(n: int = 2, seed: int = 1) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8) for _ in range(n)]


def _deepfakebench_input(crops: list[np.ndarray]) -> torch.Tensor:
    # DeepfakeBench's test transform: ToTensor (RGB / 255), then Normalize(mean=0.5, std=0.5)
    return torch.stack([normalize(to_tensor(c), [0.5] * 3, [0.5] * 3) for c in crops])


@pytest.fixture(scope="module", params=list(ORACLES))
def imported(request, tmp_path_factory) -> tuple[str, OracleDetector, Path]:
    """(source, its oracle, the folder import_checkpoint made from the oracle's saved state dict)."""
    source = request.param
    det = _randomised(source)
    tmp = tmp_path_factory.mktemp(source)
    torch.save(det.state_dict(), tmp / get_source(source).files[0])  # as DeepfakeBench's trainer saves
    folder = import_checkpoint(source, tmp / get_source(source).files[0], tmp / "model", say=lambda _: None)
    return source, det, folder


def test_the_imported_folder_scores_as_deepfakebench(imported) -> None:
    source, det, folder = imported
    crops = _crops()
    with torch.inference_mode():
        expected = det(_deepfakebench_input(crops)).numpy()
    assert 0.02 < expected.min() and expected.max() < 0.98, expected  # unsaturated: 1e-4 means something
    assert abs(expected[0] - expected[1]) > 1e-3  # the two crops score apart
    for backend in ("torch", "onnx"):
        got = load_exported(folder, backend).score(crops)
        np.testing.assert_allclose(got, expected, atol=1e-4, rtol=0, err_msg=f"{source} {backend}")


def test_the_folder_declares_deepfakebench_input_contract(imported) -> None:
    source, _, folder = imported
    description = json.loads((folder / "dfd_model.json").read_text())
    spec = description["input_spec"]
    assert (spec["size"], spec["mean"], spec["std"]) == (SIZE, [0.5] * 3, [0.5] * 3)
    assert description["num_classes"] == 2
    assert (
        description["published"]["source"] == source and description["published"]["licence"] == "CC BY-NC 4.0"
    )


@pytest.mark.parametrize(
    ("source", "paper_option"),
    [("deepfakebench_meso4", {"bn_eps": 1e-3}), ("deepfakebench_meso4_inception", {"bn_eps": 1e-3}),
     ("deepfakebench_meso4_inception", {"inception_relu": True})],
)  # fmt: skip
def test_each_deepfakebench_option_changes_the_score(source, paper_option) -> None:
    # The options are not decoration: with the paper's setting instead, the same weights score otherwise.
    converted = get_source(source).convert(_randomised(source).state_dict())
    other = type(converted.net)(**{**converted.kwargs, **paper_option}).eval()
    other.load_state_dict(converted.net.state_dict())
    x = _deepfakebench_input(_crops())
    with torch.inference_mode():
        fake = lambda net: torch.softmax(net(x), 1)[:, 1]  # noqa: E731
        assert (fake(other) - fake(converted.net)).abs().max() > 1e-3


@pytest.mark.parametrize("source", list(ORACLES))
def test_a_file_with_a_missing_or_renamed_key_is_refused_naming_it(source) -> None:
    state = _randomised(source).state_dict()
    convert = get_source(source).convert
    missing = {k: v for k, v in state.items() if k != "backbone.bn1.running_var"}
    with pytest.raises(ConversionError, match=r"missing \(backbone\.bn1\.running_var\)"):
        convert(missing)
    renamed = {("backbone.fc_1.weight" if k == "backbone.fc1.weight" else k): v for k, v in state.items()}
    with pytest.raises(ConversionError, match=r"unexpected \(backbone\.fc_1\.weight\)"):
        convert(renamed)
    # a DistributedDataParallel run's file (``module.`` in front) holds the same net
    ddp = get_source(source).convert({f"module.{k}": v for k, v in state.items()}).net.state_dict()
    assert all(torch.equal(ddp[k], v) for k, v in convert(state).net.state_dict().items())


def test_a_file_of_the_other_meso_net_is_refused() -> None:
    meso4 = _randomised("deepfakebench_meso4").state_dict()
    with pytest.raises(ConversionError, match="Incption1"):
        get_source("deepfakebench_meso4_inception").convert(meso4)
