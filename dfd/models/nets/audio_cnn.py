"""AudioCNN: a small CNN on log-mel spectrograms, the audio-only baseline (``model=audio_only``).

Four conv-BN-ReLU-pool blocks and global average pooling over a log-mel spectrogram, in the
manner of the CNN baselines of audio deepfake detection (e.g. the LFCC/mel CNNs of
ASVspoof 2019; Todisco et al., Interspeech 2019). It shows what the audio track alone reveals
on an audio-visual dataset, next to AVFF and the frame models.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import nn

from dfd.models.nets.base import Net, linear_head


class AudioCNN(Net):
    """Log-mel [B, 1, n_mels, frames] → logits [B, num_classes].

    ``input_spec`` is ``None``: the net reads no face crops, so the data side has nothing to
    resize or normalise for it.

    Args:
        num_classes: 1 for one fake logit, 2 for a softmax pair.
        pretrained: must be false: the baseline is trained from scratch.
        dropout: dropout before the linear head.
        width: channels of the first block (then 2x and 4x).
    """

    input_spec = None
    small_config: ClassVar[dict[str, Any]] = {"width": 8}

    def __init__(
        self, num_classes: int = 1, pretrained: bool = False, dropout: float = 0.2, *, width: int = 32
    ) -> None:
        super().__init__()
        if pretrained:
            raise ValueError(
                "AudioCNN has no pretrained weights: set model.net.pretrained=false, or start from a file "
                "with model.weights_path=<.ckpt or .pth>"
            )
        self.num_classes = num_classes
        layers: list[nn.Module] = []
        channels = 1
        for i in range(4):
            out = width * 2 ** min(i, 2)
            layers += [
                nn.Conv2d(channels, out, 3, padding=1, bias=False),
                nn.BatchNorm2d(out),
                nn.ReLU(inplace=True),
            ]
            layers.append(nn.MaxPool2d(2) if i < 3 else nn.AdaptiveAvgPool2d(1))
            channels = out
        self.backbone = nn.Sequential(*layers, nn.Flatten())
        self.num_features = channels
        self.head = linear_head(channels, num_classes, dropout)

    def forward_features(self, audio: torch.Tensor) -> torch.Tensor:
        """Pooled features of a log-mel [B, 1, n_mels, frames]: [B, num_features]."""
        if audio.ndim != 4 or audio.shape[1] != 1:
            raise ValueError(f"AudioCNN expects log-mel [B, 1, n_mels, frames], got {tuple(audio.shape)}")
        return self.backbone(audio)

    def example_inputs(self, batch_size: int = 2, seed: int = 0) -> tuple[torch.Tensor, ...]:
        """A random log-mel batch [B, 1, 32, 48] (32 mel bins, 48 frames)."""
        return (torch.randn(batch_size, 1, 32, 48, generator=torch.Generator().manual_seed(seed)),)
