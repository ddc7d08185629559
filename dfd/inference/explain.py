"""Where a detector looked: Grad-CAM heatmaps of the fake logit over face crops.

:class:`Explainer` runs the ``grad-cam`` package's ``GradCAM`` on any dfd image net. The layer
it explains is found, not configured: the last module, in execution order, whose output is a
spatial feature map ``[N, C, H, W]`` with ``H, W >= 2``, outside attention blocks (whose
``[N, heads, tokens, dim]`` tensors are not maps). A net may narrow the search to one submodule
with a ``cam_scope`` attribute (the ResNet18 + ViT hybrid names its ResNet branch). For the CNNs
this is the last convolutional stage; for F3Net the fused two-stream map.
The target is the fake logit (:func:`~dfd.metrics.detection.fake_logit`: ``z`` for one-logit
heads, ``z1 - z0`` for two-class heads), so a warm region is one that pushed the score towards
fake. ONNX models have no gradients: an exported folder is explained through its safetensors.
A net with a localisation head (``model.localization=true``, :mod:`dfd.models.nets.base`) also
gives its predicted blend mask of each crop (:meth:`Explainer.masks`), drawn beside the heatmap.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from dfd.inference.detector import Detector
from dfd.inference.predictor import Prediction
from dfd.reports.explanation import CropPanel, FramePanel, save_explanation


def cam_layer(net: nn.Module, size: int) -> nn.Module:
    """The module whose output Grad-CAM explains (see the module docstring)."""
    found: list[nn.Module] = []

    def record(module: nn.Module, _inputs: object, output: object) -> None:
        if isinstance(output, Tensor) and output.ndim == 4 and min(output.shape[-2:]) >= 2:
            found.append(module)

    scope = net.get_submodule(getattr(net, "cam_scope", ""))
    hooks = [
        m.register_forward_hook(record)
        for name, m in scope.named_modules()
        if m is not net and "attn" not in name.split(".")
    ]
    try:
        was_training = net.training
        net.eval()
        with torch.no_grad():
            net(torch.zeros(1, 3, size, size, device=next(net.parameters()).device))
        net.train(was_training)
    finally:
        for hook in hooks:
            hook.remove()
    if not found:
        raise ValueError(
            f"{type(net).__name__} has no spatial feature map [N, C, H, W] to explain with Grad-CAM"
        )
    return found[-1]


class FakeLogitTarget:
    """Grad-CAM target: the fake logit of one sample's output."""

    def __call__(self, output: Tensor) -> Tensor:
        if output.ndim == 0:
            return output
        if output.shape[-1] == 2:
            return output[..., 1] - output[..., 0]
        return output[..., 0]


class Explainer:
    """Grad-CAM heatmaps for a detector's crops; ``net`` is the detector's net in torch."""

    def __init__(self, net: nn.Module, detector: Detector, batch_size: int = 8) -> None:
        from pytorch_grad_cam import GradCAM

        self.net = net.eval()
        self.detector = detector
        self.batch_size = batch_size
        self.layer = cam_layer(self.net, detector.info.input_spec.size)
        self.cam = GradCAM(model=self.net, target_layers=[self.layer])

    def heatmaps(self, crops: Sequence[np.ndarray]) -> np.ndarray:
        """``float32[N, S, S]`` in [0, 1] at the net's input size ``S``, one per RGB uint8 crop."""
        if len(crops) == 0:
            size = self.detector.info.input_spec.size
            return np.zeros((0, size, size), dtype=np.float32)
        device = next(self.net.parameters()).device
        out = []
        for start in range(0, len(crops), self.batch_size):
            x = torch.from_numpy(self.detector.prepare(crops[start : start + self.batch_size])).to(device)
            maps = self.cam(input_tensor=x, targets=[FakeLogitTarget()] * len(x))
            out.append(np.nan_to_num(np.asarray(maps, dtype=np.float32)))
        return np.concatenate(out)

    @property
    def localizes(self) -> bool:
        """Whether the net predicts blend masks (built with ``localization=True``)."""
        return bool(getattr(self.net, "localization", False))

    def masks(self, crops: Sequence[np.ndarray]) -> np.ndarray | None:
        """Predicted blend-mask probabilities ``float32[N, S, S]`` of a localising net, else ``None``."""
        if not self.localizes:
            return None
        size = self.detector.info.input_spec.size
        if len(crops) == 0:
            return np.zeros((0, size, size), dtype=np.float32)
        device = next(self.net.parameters()).device
        out = []
        with torch.no_grad():
            for start in range(0, len(crops), self.batch_size):
                x = torch.from_numpy(self.detector.prepare(crops[start : start + self.batch_size])).to(device)
                _, mask_logits = self.net.forward_with_mask(x)
                out.append(torch.sigmoid(mask_logits.float())[:, 0].cpu().numpy())
        return np.concatenate(out)


def plural(n: int, word: str) -> str:
    """``1 face``, ``2 faces``."""
    return f"{n} {word}{'' if n == 1 else 's'}"


def explain_prediction(
    explainer: Explainer, prediction: Prediction, path: str | Path, max_panels: int = 8
) -> Path | None:
    """Save the picture of one scored input (:func:`dfd.reports.explanation.save_explanation`):
    up to ``max_panels`` sampled frames with their face boxes and scores, over the deciding
    face's crops with their heatmaps. Inputs that were not scored have none (``None``)."""
    media, row = prediction.media, prediction.row
    if media is None or row["status"] != "ok":
        return None
    faces_at: dict[int, list[tuple[list[float], float]]] = {}
    for face in prediction.frames:
        box = [face[k] * media.scale for k in ("x1", "y1", "x2", "y2")]
        faces_at.setdefault(face["frame_idx"], []).append((box, face["score"]))
    shown = np.unique(
        np.linspace(0, len(media.indices) - 1, min(max_panels, len(media.indices))).round().astype(int)
    )
    frame_panels = [
        FramePanel(media.images[i], f"frame {media.indices[i]}", faces_at.get(media.indices[i], []))
        for i in shown
    ]
    if row["kind"] == "image":
        chosen = list(range(min(max_panels, len(prediction.frames))))
        labels = [f"face {k}: {prediction.frames[k]['score']:.2f}" for k in chosen]
    else:
        deciding = [k for k, f in enumerate(prediction.frames) if f["track"] == prediction.track]
        picks = np.unique(
            np.linspace(0, len(deciding) - 1, min(max_panels, len(deciding))).round().astype(int)
        )
        chosen = [deciding[i] for i in picks]
        labels = [
            f"frame {prediction.frames[k]['frame_idx']}: {prediction.frames[k]['score']:.2f}" for k in chosen
        ]
    maps = explainer.heatmaps([media.crops[k] for k in chosen])
    masks = explainer.masks([media.crops[k] for k in chosen])
    crop_panels = [
        CropPanel(media.crops[k], m, label, None if masks is None else masks[i])
        for i, (k, m, label) in enumerate(zip(chosen, maps, labels, strict=True))
    ]
    how = f", {row['aggregation']} over face track {prediction.track}" if row["kind"] == "video" else ""
    # a name that is not UTF-8 holds surrogate escapes, which no font draws: show them as \udcXX text
    name = Path(row["path"]).name.encode("utf-8", "backslashreplace").decode("utf-8")
    title = (
        f"{name}: {row['decision']} (score {row['score']:.3f}, threshold "
        f"{row['threshold']:.3f}{how}; {plural(row['faces_found'], 'face')} in {plural(row['frames_sampled'], 'frame')})"
    )
    return save_explanation(path, title, frame_panels, crop_panels, row["threshold"])
