"""MesoNet (Meso4): a compact mesoscopic-feature CNN for face-forgery detection.

Afchar, Nozick, Yamagishi, Echizen, "MesoNet: a Compact Facial Video Forgery Detection
Network", WIFS 2018, https://arxiv.org/abs/1809.00888. Input 256×256 RGB scaled to [0, 1].
Four conv blocks (each conv → ReLU → BatchNorm → max-pool), then dropout, a 16-unit dense
layer with LeakyReLU(0.1), dropout, and one output unit. The paper's sigmoid is folded into
the loss (BCE-with-logits) for numerical stability, so the net returns the logit.
"""

from __future__ import annotations

import torch
from torch import nn

from dfd.data.transforms import InputSpec


def _block(c_in: int, c_out: int, kernel: int, pool: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, kernel, padding=kernel // 2),
        nn.ReLU(inplace=True),
        nn.BatchNorm2d(c_out),
        nn.MaxPool2d(pool, pool),
    )


class Meso4(nn.Module):
    """Meso4 at 256 px. ``num_classes=1`` gives the paper's single output (as a logit)."""

    input_spec = InputSpec(size=256, mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0))

    def __init__(self, num_classes: int = 1, dropout: float = 0.5) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.backbone = nn.Sequential(
            _block(3, 8, 3, 2),
            _block(8, 8, 5, 2),
            _block(8, 16, 5, 2),
            _block(16, 16, 5, 4),
            nn.Flatten(),
        )
        # 256 px → 8×8×16 after pooling by 2·2·2·4
        self.head = nn.Sequential(
            nn.Dropout(dropout),
            nn.Linear(16 * 8 * 8, 16),
            nn.LeakyReLU(0.1),
            nn.Dropout(dropout),
            nn.Linear(16, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(x))
