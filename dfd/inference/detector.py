"""A trained detector that scores face crops, whatever it was loaded from.

:class:`TorchDetector` runs a net in eager PyTorch (from a dfd checkpoint, or from an exported
folder's safetensors); :class:`OnnxDetector` runs an exported folder's ``model.onnx`` with ONNX
Runtime. Both take RGB uint8 crops as preprocessing writes them and apply the model's own
evaluation transform (``build_eval_transform(input_spec)``: resize and normalise), so scoring
can never use another size or normalisation than training did. Scores are the raw fake
probability ``sigmoid(z)`` of the net's fake logit ``z``; the calibrated thresholds apply to it.

A *clip model* (a temporal net, ``ModelInfo.clip_len`` = T) scores clips of T consecutive crops of
one face track instead of single crops: :meth:`Detector.score_clips` takes uint8
``[N, T, H, W, 3]`` (or N sequences of T crops), prepares every crop as :meth:`Detector.prepare`
prepares one, and runs the net on ``float32[N, T, 3, S, S]``. A frame model refuses clips and a
clip model single crops, each naming the other method.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from dfd.core.input_spec import InputSpec
from dfd.data.transforms import build_eval_transform
from dfd.metrics.calibration import Calibration
from dfd.metrics.detection import fake_logit


def resolve_device(device: str = "auto") -> str:
    """``auto`` → ``cuda`` when a GPU is visible, else ``cpu``; other names are checked and kept."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        torch.device(device)
    except RuntimeError as err:
        raise ValueError(f"device={device!r} is not a torch device: use auto, cpu, cuda or cuda:<n>") from err
    return device


@dataclass
class ModelInfo:
    """What a detector needs besides its weights: its input contract, the calibration fitted on
    validation, how its training crops were made, a name for reports, and for a clip model the
    number of crops per clip (``clip_len``; None: the model scores single crops)."""

    input_spec: InputSpec
    calibration: Calibration | None = None
    preprocessing: dict[str, Any] | None = None
    name: str = "dfd model"
    extra: dict[str, Any] = field(default_factory=dict)
    clip_len: int | None = None

    @property
    def unit(self) -> str:
        """What one score is of: ``clip`` for a clip model, else ``frame``."""
        return "clip" if self.clip_len else "frame"


class Detector(ABC):
    """Scores batches of face crops; see the module docstring."""

    #: the agreement under which an ensemble flags a sample (``low_agreement``); None for one net
    agreement_threshold: float | None = None

    def __init__(self, info: ModelInfo, batch_size: int = 32) -> None:
        self.info = info
        self.batch_size = batch_size
        self.transform = build_eval_transform(info.input_spec)

    @property
    def clip_len(self) -> int | None:
        """T for a clip model (it scores clips of T crops), None for a frame model."""
        return self.info.clip_len

    @abstractmethod
    def logits(self, images: np.ndarray) -> np.ndarray:
        """Net outputs ``float[N, C]`` for normalised images ``float32[N, 3, S, S]`` (a clip model:
        clips ``float32[N, T, 3, S, S]``)."""

    def prepare(self, crops: Sequence[np.ndarray]) -> np.ndarray:
        """RGB uint8 crops (any size) → the net's input ``float32[N, 3, S, S]``."""
        return np.stack([self.transform(image=c)["image"].transpose(2, 0, 1) for c in crops]).astype(
            np.float32
        )

    def prepare_clips(self, clips: Sequence[Sequence[np.ndarray]] | np.ndarray) -> np.ndarray:
        """Clips of RGB uint8 crops (uint8 ``[N, T, H, W, 3]``, or N sequences of T crops of any
        size) → the net's input ``float32[N, T, 3, S, S]``, each crop prepared as :meth:`prepare`."""
        return np.stack([self.prepare(list(clip)) for clip in clips])

    def score(self, crops: Sequence[np.ndarray]) -> np.ndarray:
        """Fake probability of each crop, ``float[N]`` (empty for no crops)."""
        if self.clip_len:
            raise ValueError(
                f"{self.info.name} is a clip model (clip_len={self.clip_len}): it scores clips of "
                f"{self.clip_len} consecutive crops of one face (score_clips), not single crops"
            )
        return self._batched(crops, self.batch_size, self.prepare)

    def score_clips(self, clips: Sequence[Sequence[np.ndarray]] | np.ndarray) -> np.ndarray:
        """Fake probability of each clip of T crops (``clip_len``), ``float[N]`` (empty for no
        clips). ``batch_size`` counts crops: a batch holds ``batch_size // T`` clips (at least one)."""
        if not self.clip_len:
            raise ValueError(f"{self.info.name} is a frame model: it scores single crops (score), not clips")
        for k, clip in enumerate(clips):
            if len(clip) != self.clip_len:
                raise ValueError(
                    f"clip {k} has {len(clip)} crops: {self.info.name} scores clips of clip_len={self.clip_len}"
                )
        return self._batched(clips, max(1, self.batch_size // self.clip_len), self.prepare_clips)

    def _batched(self, items: Sequence[Any] | np.ndarray, size: int, prepare: Any) -> np.ndarray:
        if len(items) == 0:
            return np.zeros(0, dtype=np.float32)
        out = []
        for start in range(0, len(items), size):
            z = fake_logit(torch.from_numpy(self.logits(prepare(items[start : start + size]))))
            out.append(torch.sigmoid(z).numpy())
        return np.concatenate(out)

    def score_with_agreement(
        self, crops: Sequence[np.ndarray], threshold: str | float = "f1"
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """:meth:`score` and, for an ensemble, the share of its members on its side of each crop
        at the decision ``threshold`` (a choice as in ``dfd.predict``); None for one net."""
        return self.score(crops), None


class TorchDetector(Detector):
    """A net in eager PyTorch, in eval mode, without gradients."""

    def __init__(self, net: nn.Module, info: ModelInfo, batch_size: int = 32, device: str = "cpu") -> None:
        super().__init__(info, batch_size)
        self.device = torch.device(device)
        self.net = net.eval().to(self.device)

    @torch.inference_mode()
    def logits(self, images: np.ndarray) -> np.ndarray:
        return self.net(torch.from_numpy(images).to(self.device)).float().cpu().numpy()

    @torch.inference_mode()
    def logits_and_features(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Net outputs ``float[N, C]`` and the pooled embeddings ``float[N, F]`` they come from
        (``forward_features``, then ``forward_head``: one pass)."""
        features = self.net.forward_features(torch.from_numpy(images).to(self.device))
        logits = self.net.forward_head(features)
        return logits.float().cpu().numpy(), features.float().flatten(1).cpu().numpy()


class OnnxDetector(Detector):
    """``model.onnx`` run by ONNX Runtime: on the GPU when ``device`` is ``cuda`` and the installed
    ONNX Runtime has the CUDA provider (``onnxruntime-gpu``), else on the CPU."""

    def __init__(
        self,
        onnx_path: str,
        info: ModelInfo,
        batch_size: int = 32,
        providers: Sequence[str] | None = None,
        device: str = "cpu",
    ):
        import onnxruntime as ort

        super().__init__(info, batch_size)
        if providers is None:
            gpu = device.startswith("cuda") and "CUDAExecutionProvider" in ort.get_available_providers()
            providers = ["CUDAExecutionProvider", "CPUExecutionProvider"] if gpu else ["CPUExecutionProvider"]
        self.session = ort.InferenceSession(onnx_path, providers=list(providers))
        self.input_name = self.session.get_inputs()[0].name

    def logits(self, images: np.ndarray) -> np.ndarray:
        return self.session.run(None, {self.input_name: images})[0]
