"""A four-layer CNN at 64 px for the evaluation tests: it learns the synthetic crops to a test
AUC above 0.9 in about 25 s on two CPU cores, which Meso4 at 256 px does not.

Configs name it with ``model.net._target_=tests.tiny_detector.TinyNet`` (and
``DFD_TRUSTED_TARGETS=tests.*`` for the instantiation allow-list). :data:`TINY_CLIP` is a clip
model (a registered temporal net) at test size.
"""

from __future__ import annotations

from torch import nn

from dfd.core.input_spec import InputSpec
from dfd.models.nets.base import Net, linear_head


def _block(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=1), nn.BatchNorm2d(c_out), nn.ReLU(), nn.MaxPool2d(2)
    )


class TinyNet(Net):
    """Follows the nets' interface (:class:`~dfd.models.nets.base.Net`), so it drops into
    ``model=mesonet`` by ``_target_`` alone."""

    small_config = {"input_size": 32}

    def __init__(
        self, num_classes: int = 1, pretrained: bool = False, dropout: float = 0.0, input_size: int = 64
    ) -> None:
        super().__init__()
        self.num_classes, self.num_features = num_classes, 64
        self.input_spec = InputSpec(size=input_size, mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25))
        self.backbone = nn.Sequential(
            _block(3, 16),
            _block(16, 32),
            _block(32, 32),
            _block(32, 64),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )
        self.head = linear_head(64, num_classes, dropout)


#: A clip model at test size (the clip tests of export, detectors and predict): TemporalHead over
#: Meso4, 32 px crops, clips of 4, a one-block transformer of width 16.
TINY_CLIP = {"input_size": 32, "clip_len": 4, "frame_net": "dfd.models.nets.mesonet.Meso4", "dim": 16,
             "depth": 1, "heads": 2}  # fmt: skip
TEMPORAL_HEAD = "dfd.models.nets.temporal.TemporalHead"


def tiny_clip_net(seed: int = 0) -> Net:
    """:data:`TINY_CLIP` built with ``seed``'s untrained weights, in eval mode."""
    import torch

    from dfd.models.nets.temporal import TemporalHead

    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return TemporalHead(**TINY_CLIP).eval()


#: :data:`TINY_CLIP` as a training run configures it (``python -m dfd.train`` overrides), on clip samples.
TINY_CLIP_OVERRIDES = [
    "model=temporal_head",
    f"model.net.frame_net={TINY_CLIP['frame_net']}",
    "~model.net.frame_kwargs",
    "model.net.pretrained=false",
    "model.net.freeze_frame_net=false",
    *(f"model.net.{k}={TINY_CLIP[k]}" for k in ("input_size", "dim", "depth", "heads")),
    "data.clips=true",
    f"data.clip_len={TINY_CLIP['clip_len']}",
]
