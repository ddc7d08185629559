"""Robustness of a detector: AUC under image corruptions and adversarial attacks, by severity.

Corruptions are albumentations transforms applied at a fixed strength (``p=1``) to the face
crop in pixel space: JPEG quality, Gaussian blur, Gaussian noise, brightness and contrast, and
downscaling. They follow the protocol of the corruption benchmarks for detectors (Jiang et al.,
"DeeperForensics-1.0", CVPR 2020, arXiv:2001.03024; Hendrycks & Dietterich, "Benchmarking
Neural Network Robustness to Common Corruptions and Perturbations", ICLR 2019).

Attacks are white-box and untargeted, in [0, 1] pixel space under an L-inf budget ``eps``:
FGSM (Goodfellow et al., "Explaining and Harnessing Adversarial Examples", ICLR 2015,
arXiv:1412.6572) and PGD with a random start (Madry et al., "Towards Deep Learning Models
Resistant to Adversarial Attacks", ICLR 2018, arXiv:1706.06083). They push each sample's fake
logit the wrong way (up for reals, down for fakes), so reals look fake and fakes look real.

Batches arrive normalised for the net (``InputSpec`` mean and std); everything here undoes the
normalisation, perturbs pixels, and normalises again.
"""

from __future__ import annotations

import itertools
import os
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")  # its import otherwise calls the network

import albumentations as A  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402
from torch import Tensor, nn  # noqa: E402
from tqdm.auto import tqdm  # noqa: E402

from dfd.metrics.detection import aggregate_video, detection_metrics, fake_logit  # noqa: E402


class Normalizer:
    """Maps between normalised net inputs and [0, 1] pixels for one ``mean``/``std``."""

    def __init__(self, mean: Sequence[float], std: Sequence[float]) -> None:
        self.mean = torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1)
        self.std = torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1)

    def to_pixels(self, x: Tensor) -> Tensor:
        return (x * self.std.to(x) + self.mean.to(x)).clamp(0, 1)

    def to_input(self, pixels: Tensor) -> Tensor:
        return (pixels - self.mean.to(pixels)) / self.std.to(pixels)


class Corruption(ABC):
    """An albumentations corruption at a list of severities.

    Subclasses only say which transform a level means; levels are in the transform's own unit
    (JPEG quality, blur sigma in px, noise std as a fraction of 255, …).
    """

    name = "corruption"
    unit = ""

    def __init__(self, levels: Sequence[float]) -> None:
        self.levels = tuple(levels)

    @abstractmethod
    def transform(self, level: float) -> A.BasicTransform:
        """The albumentations transform (``p=1``) for one severity."""

    def apply(self, pixels: Tensor, level: float) -> Tensor:
        """Corrupt a batch of [0, 1] images ``float[B, 3, H, W]``."""
        t = self.transform(level)
        images = (pixels.detach().cpu().permute(0, 2, 3, 1).numpy() * 255).round().astype(np.uint8)
        out = np.stack([t(image=img)["image"] for img in images])
        return torch.from_numpy(out).permute(0, 3, 1, 2).float().div(255).to(pixels.device)


class JpegCompression(Corruption):
    """JPEG re-encoding; level = quality (100 best)."""

    name, unit = "jpeg", "quality"

    def transform(self, level: float) -> A.BasicTransform:
        return A.ImageCompression(quality_range=(int(level), int(level)), p=1.0)


class GaussianBlur(Corruption):
    """Gaussian blur; level = sigma in px (kernel size follows from sigma)."""

    name, unit = "blur", "sigma px"

    def transform(self, level: float) -> A.BasicTransform:
        return A.GaussianBlur(blur_limit=0, sigma_limit=(level, level), p=1.0)


class GaussianNoise(Corruption):
    """Additive Gaussian noise; level = std as a fraction of the pixel range."""

    name, unit = "noise", "std / 255"

    def transform(self, level: float) -> A.BasicTransform:
        return A.GaussNoise(std_range=(level, level), mean_range=(0.0, 0.0), p=1.0)


class BrightnessContrast(Corruption):
    """Brighter and flatter images; level = brightness shift and contrast cut (fractions)."""

    name, unit = "brightness_contrast", "fraction"

    def transform(self, level: float) -> A.BasicTransform:
        return A.RandomBrightnessContrast(
            brightness_limit=(level, level), contrast_limit=(-level, -level), p=1.0
        )


class Downscale(Corruption):
    """Downscale then upscale back; level = scale factor (1 = unchanged)."""

    name, unit = "downscale", "scale"

    def transform(self, level: float) -> A.BasicTransform:
        return A.Downscale(scale_range=(level, level), p=1.0)


def _loss(net: nn.Module, x: Tensor, y: Tensor) -> Tensor:
    # The signed fake logit, (1 - 2y) * z: its gradient has the sign of the cross-entropy's
    # ((sigmoid(z) - y) * dz) but does not vanish when sigmoid saturates to exactly 0 or 1 in
    # float32, which would leave confidently classified samples unattacked (gradient masking).
    return ((1 - 2 * y.float()) * fake_logit(net(x), keep_grad=True)).sum()


def fgsm(net: nn.Module, pixels: Tensor, labels: Tensor, eps: float, norm: Normalizer) -> Tensor:
    """One signed-gradient step of size ``eps`` (L-inf, [0, 1] pixels) that raises the loss."""
    x = pixels.clone().requires_grad_(True)
    with torch.enable_grad():
        grad = torch.autograd.grad(_loss(net, norm.to_input(x), labels), x)[0]
    return (pixels + eps * grad.sign()).clamp(0, 1).detach()


def pgd(
    net: nn.Module,
    pixels: Tensor,
    labels: Tensor,
    eps: float,
    norm: Normalizer,
    steps: int = 10,
    step_size: float | None = None,
    random_start: bool = True,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Projected gradient ascent on the loss inside the ``eps`` L-inf ball (Madry et al. 2018)."""
    alpha = step_size if step_size is not None else 2.5 * eps / steps
    x = pixels.clone()
    if random_start:
        noise = torch.rand(pixels.shape, generator=generator, dtype=pixels.dtype) * 2 - 1
        x = (x + eps * noise.to(pixels.device)).clamp(0, 1)
    for _ in range(steps):
        x.requires_grad_(True)
        with torch.enable_grad():
            grad = torch.autograd.grad(_loss(net, norm.to_input(x), labels), x)[0]
        x = x.detach() + alpha * grad.sign()
        x = torch.min(torch.max(x, pixels - eps), pixels + eps).clamp(0, 1)
    return x.detach()


@dataclass(frozen=True)
class Attack:
    """An attack at several L-inf budgets (``eps`` in [0, 1] pixel units, e.g. 2/255)."""

    name: str
    epsilons: tuple[float, ...]
    steps: int = 1  # 1: FGSM; more: PGD with random start


def _score(net: nn.Module, x: Tensor) -> Tensor:
    with torch.no_grad():
        return torch.sigmoid(fake_logit(net(x))).cpu()


def evaluate_robustness(
    net: nn.Module,
    batches: Iterable[dict[str, Tensor]],
    mean: Sequence[float],
    std: Sequence[float],
    corruptions: Sequence[Corruption] = (),
    attacks: Sequence[Attack] = (),
    device: str | torch.device = "cpu",
    max_batches: int | None = None,
    seed: int = 0,
) -> pd.DataFrame:
    """AUC, AP, accuracy and video AUC for every corruption and attack level, plus ``clean``.

    ``batches`` yields dicts with ``image`` (normalised), ``label`` and optionally
    ``video_idx`` (the batch contract of dfd's datamodules). Returns one row per
    ``(perturbation, level)``; the ``clean`` row has level 0.
    """
    net = net.eval().to(device)
    norm = Normalizer(mean, std)
    gen = torch.Generator().manual_seed(seed)
    settings: list[tuple[str, float, object]] = [("clean", 0.0, None)]
    settings += [(c.name, float(lv), c) for c in corruptions for lv in c.levels]
    settings += [(a.name, float(e), a) for a in attacks for e in a.epsilons]
    probs: dict[tuple[str, float], list[Tensor]] = {(n, lv): [] for n, lv, _ in settings}
    labels, video_idx = [], []
    # islice stops the loader after max_batches (None = all) instead of loading the whole split
    total = len(batches) if hasattr(batches, "__len__") else None
    if max_batches and total is not None:
        total = min(total, max_batches)
    selected = itertools.islice(batches, max_batches or None)
    for batch in tqdm(selected, total=total, desc="robustness", leave=False):
        x = batch["image"].to(device)
        y = batch["label"].to(device)
        labels.append(batch["label"].cpu())
        if "video_idx" in batch:
            video_idx.append(batch["video_idx"].cpu())
        pixels = norm.to_pixels(x)
        for name, level, how in settings:
            if how is None:
                adv = pixels
            elif isinstance(how, Corruption):
                adv = how.apply(pixels, level)
            elif how.steps == 1:  # type: ignore[union-attr]
                adv = fgsm(net, pixels, y, level, norm)
            else:
                adv = pgd(net, pixels, y, level, norm, steps=how.steps, generator=gen)  # type: ignore[union-attr]
            probs[(name, level)].append(_score(net, norm.to_input(adv)))
    y_all = torch.cat(labels)
    v_all = torch.cat(video_idx) if video_idx else None
    rows = []
    for (name, level), chunks in probs.items():
        p = torch.cat(chunks)
        m = detection_metrics(p, y_all, 0.5)
        row = {"perturbation": name, "level": level, "auc": m["auc"], "ap": m["ap"], "acc": m["acc"]}
        if v_all is not None:
            vp, vl, _ = aggregate_video(p, y_all, v_all)
            row["video_auc"] = detection_metrics(vp, vl)["auc"]
        rows.append(row)
    return pd.DataFrame(rows)


def robustness_markdown(table: pd.DataFrame, metric: str = "auc") -> str:
    """One line per perturbation: ``metric`` at each severity, mildest first, clean first."""
    clean = table.loc[table.perturbation == "clean", metric].iloc[0]
    lines = [
        f"clean {metric}: {clean:.4f}",
        "",
        f"| perturbation | levels | {metric} by level | worst drop |",
        "|---|---|---|---:|",
    ]
    for name, group in table[table.perturbation != "clean"].groupby("perturbation", sort=False):
        levels = ", ".join(f"{lv:g}" for lv in group.level)
        values = ", ".join(f"{v:.3f}" for v in group[metric])
        lines.append(f"| {name} | {levels} | {values} | {clean - group[metric].min():+.3f} |")
    return "\n".join(lines) + "\n"
