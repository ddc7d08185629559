"""What a network expects of its input, declared once by the net and read by the data side,
inference and exported folders, so they cannot disagree. Plain data: importing it pulls in no
image library."""

from __future__ import annotations

from dataclasses import dataclass

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class InputSpec:
    """What a network expects: square ``size`` in px, and per-channel ``mean``/``std`` on [0, 1]."""

    size: int
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD

    def __post_init__(self) -> None:
        if self.size <= 0:
            raise ValueError(f"InputSpec.size must be positive, got {self.size}")
