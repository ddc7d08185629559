"""FGSM and PGD against their closed form on a linear detector; corruptions at their severities."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from dfd.metrics.robustness import (
    Attack,
    GaussianNoise,
    JpegCompression,
    Normalizer,
    evaluate_robustness,
    fgsm,
    pgd,
    robustness_markdown,
)

MEAN, STD = (0.5, 0.4, 0.3), (0.2, 0.25, 0.3)


class Linear(nn.Module):
    """A logistic detector on flattened pixels: its loss gradient has a known sign."""

    def __init__(self, w: torch.Tensor) -> None:
        super().__init__()
        self.fc = nn.Linear(w.numel(), 1)
        with torch.no_grad():
            self.fc.weight.copy_(w.view(1, -1))
            self.fc.bias.zero_()

    def forward(self, x):
        return self.fc(x.flatten(1))


@pytest.fixture
def setup():
    g = torch.Generator().manual_seed(0)
    w = torch.randn(3 * 4 * 4, generator=g)
    pixels = torch.rand(6, 3, 4, 4, generator=g) * 0.5 + 0.25  # away from 0/1: no clipping
    labels = torch.tensor([0, 1, 0, 1, 1, 0])
    return Linear(w), w, pixels, labels, Normalizer(MEAN, STD)


def test_fgsm_is_the_signed_gradient_step(setup):
    net, w, pixels, labels, norm = setup
    eps = 2 / 255
    adv = fgsm(net, pixels, labels, eps, norm)
    # d BCE / d pixel = (sigmoid(z) - y) * w / std (input = (pixel - mean) / std)
    z = net(norm.to_input(pixels))[:, 0]
    grad = (torch.sigmoid(z) - labels)[:, None] * (w.view(1, 3, 4, 4) / norm.std).flatten(1)
    want = pixels + eps * grad.sign().view_as(pixels)
    assert torch.allclose(adv, want, atol=1e-6)
    # the attack moves every sample's score the wrong way
    z_adv = net(norm.to_input(adv))[:, 0]
    assert ((z_adv - z) * (2 * labels - 1) < 0).all()


def test_pgd_stays_in_the_ball_and_is_at_least_as_strong(setup):
    net, _, pixels, labels, norm = setup
    eps = 4 / 255
    adv = pgd(net, pixels, labels, eps, norm, steps=10, generator=torch.Generator().manual_seed(1))
    assert (adv - pixels).abs().max() <= eps + 1e-6
    assert adv.min() >= 0 and adv.max() <= 1

    def loss(x):
        return float(
            nn.functional.binary_cross_entropy_with_logits(net(norm.to_input(x))[:, 0], labels.float())
        )

    l_pgd, l_fgsm = loss(adv), loss(fgsm(net, pixels, labels, eps, norm))
    # for a linear model FGSM already reaches the optimum corner; PGD must get there too
    assert l_pgd == pytest.approx(l_fgsm, rel=1e-3) and l_pgd > loss(pixels)


def test_normalizer_round_trip():
    norm = Normalizer(MEAN, STD)
    px = torch.rand(2, 3, 5, 5)
    assert torch.allclose(norm.to_pixels(norm.to_input(px)), px, atol=1e-6)


def test_table_has_a_row_per_level_and_attacks_hurt(setup):
    net, _, _, _, _ = setup
    g = torch.Generator().manual_seed(3)
    w = net.fc.weight.detach().view(3, 4, 4)
    batches = []
    for i in range(3):  # pixels whose linear score separates the classes
        y = (torch.rand(8, generator=g) < 0.5).long().repeat_interleave(2)  # 2 frames per video
        px = (
            0.5
            + 0.15 * (2 * y.float() - 1)[:, None, None, None] * w.sign()
            + 0.05 * torch.randn(16, 3, 4, 4, generator=g)
        ).clamp(0, 1)
        batches.append(
            {
                "image": Normalizer(MEAN, STD).to_input(px),
                "label": y,
                "video_idx": 8 * i + torch.arange(16) // 2,
            }
        )
    table = evaluate_robustness(
        net, batches, MEAN, STD,
        corruptions=[GaussianNoise([0.05, 0.5]), JpegCompression([90])],
        attacks=[Attack("fgsm", (0.1, 0.2)), Attack("pgd", (0.2,), steps=5)],  # 0.15 px separates the classes
    )  # fmt: skip
    assert len(table) == 1 + 3 + 3
    clean = table.loc[table.perturbation == "clean", "auc"].item()
    fgsm_aucs = table.loc[table.perturbation == "fgsm", "auc"].tolist()
    assert clean > 0.95
    assert fgsm_aucs[1] < fgsm_aucs[0] <= clean + 1e-9
    assert table.loc[table.perturbation == "pgd", "auc"].item() < 0.5
    assert table.loc[table.perturbation == "clean", "video_auc"].item() > 0.95
    md = robustness_markdown(table)
    assert [line.split(" | ")[0] for line in md.splitlines()[4:]] == ["| noise", "| jpeg", "| fgsm", "| pgd"]


def test_brightness_contrast_brightens_and_flattens_more_with_each_level():
    from dfd.metrics.robustness import BrightnessContrast

    g = torch.Generator().manual_seed(0)
    pixels = torch.rand(2, 3, 32, 32, generator=g) * 0.6 + 0.2  # [0.2, 0.8]: room on both sides
    corruption = BrightnessContrast([0.1, 0.3])
    mild, strong = (corruption.apply(pixels, level) for level in corruption.levels)
    for out in (mild, strong):
        assert out.shape == pixels.shape and out.dtype == pixels.dtype
        assert 0.0 <= out.min() and out.max() <= 1.0
    assert pixels.mean() < mild.mean() < strong.mean()  # brighter
    assert pixels.std() > mild.std() > strong.std()  # flatter
