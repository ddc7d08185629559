"""AudioCNN: a small CNN on log-mel spectrograms, the audio-only baseline (``model=audio_only``).

Four conv-BN-ReLU-pool blocks and global average pooling over a log-mel spectrogram, in the
manner of the CNN baselines of audio deepfake detection (e.g. the LFCC/mel CNNs of
ASVspoof 2019; Todisco et al., Interspeech 2019). It shows what the audio track alone reveals
on an audio-visual dataset, next to AVFF and the frame models.
"""

from __future__ import annotations

import torch
from torch import nn


class AudioCNN(nn.Module):
    """Log-mel [B, 1, n_mels, frames] → logits [B, num_classes].

    ``input_spec`` is ``None``: the net reads no face crops, so the data side has nothing to
    resize or normalise for it.
    """

    input_spec = None

    def __init__(self, width: int = 32, num_classes: int = 1, dropout: float = 0.2) -> None:
        super().__init__()
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
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(channels, num_classes))

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        if audio.ndim != 4 or audio.shape[1] != 1:
            raise ValueError(f"AudioCNN expects log-mel [B, 1, n_mels, frames], got {tuple(audio.shape)}")
        return self.head(self.backbone(audio))
