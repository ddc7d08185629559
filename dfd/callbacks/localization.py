"""``LocalizationReport``: how well a detector finds the blend, on self-blended validation crops.

After each validation, on ``datamodule.blended_examples("val", n)`` (a fixed batch of
self-blended crops with their true blend masks, Shiohara & Yamasaki, "Detecting Deepfakes with
Self-Blended Images", CVPR 2022, https://arxiv.org/abs/2204.08376):

- a localising net (``model.localization=true``) gets ``val/pixel_auc`` and ``val/pixel_iou``
  (:mod:`dfd.metrics.localization`) logged;
- a gallery, one row per crop: the crop, its true mask, the predicted mask (localising nets) and
  a Grad-CAM heatmap (Selvaraju et al., "Grad-CAM: Visual Explanations from Deep Networks via
  Gradient-based Localization", ICCV 2017, https://arxiv.org/abs/1610.02391) of the fake logit,
  written to ``<out_dir>/localization.png`` and to TensorBoard (``val/localization``).

On a crop dataset whose samples carry real manipulation masks (FF++/DFD, ``data.masks``), which
blends nothing, the gallery is drawn from ``datamodule.mask_examples("val", n)`` (real crops and
fakes with their masks) instead; the pixel metrics are then the module's own, over the whole
validation split (``val/pixel_auc``, :mod:`dfd.models.detector_module`), and not logged here.

The heatmap is Grad-CAM on the map the net's classifier pools (``net.forward_feature_map``, the
last convolutional map, which is where ``dfd predict visualize=true`` looks too); it is computed
here from the net's own methods because callbacks sit below ``dfd.inference`` in the package's
layers. A datamodule without ``blended_examples``, or one that returns ``None`` (no landmarks,
or not self-blending), makes the callback do nothing, so it is in the default callback set.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
import torch.nn.functional as F

from dfd.callbacks.tracking import publish
from dfd.metrics.localization import localization_metrics
from dfd.reports.galleries import localization_figure

log = logging.getLogger(__name__)


def fake_logit(logits: torch.Tensor) -> torch.Tensor:
    """``z`` of a one-logit head, ``z1 - z0`` of a two-class head: [B]."""
    return logits[:, 1] - logits[:, 0] if logits.shape[-1] == 2 else logits[:, 0]


def grad_cam(net: torch.nn.Module, images: torch.Tensor) -> np.ndarray | None:
    """Grad-CAM of the fake logit on ``net.forward_feature_map``: ``float32[B, S, S]`` in [0, 1],
    each map scaled by its own maximum; ``None`` for nets without a spatial map."""
    try:
        with torch.inference_mode(False), torch.enable_grad():
            x = images.clone()
            feature_map = net.forward_feature_map(x).detach().requires_grad_(True)
            score = fake_logit(net.logits_from_feature_map(feature_map, x)).sum()
            (grads,) = torch.autograd.grad(score, feature_map)
    except (NotImplementedError, AttributeError):  # no spatial map (or not a dfd net)
        return None
    weights = grads.mean(dim=(2, 3), keepdim=True)
    cam = F.relu((weights * feature_map.detach()).sum(dim=1, keepdim=True))
    cam = F.interpolate(cam, size=tuple(images.shape[-2:]), mode="bilinear", align_corners=False)[:, 0]
    peak = cam.flatten(1).amax(dim=1).clamp_min(1e-12)[:, None, None]
    return (cam / peak).float().cpu().numpy()


def gallery_rows(n: int, rows: int) -> np.ndarray:
    """Indices of ``rows`` of ``n`` examples that alternate real crop and blend: whole pairs
    ``(2p, 2p + 1)``, the pairs evenly spaced."""
    pairs = max(1, min(rows, n) // 2)
    starts = 2 * np.unique(np.linspace(0, max(n // 2 - 1, 0), pairs).round().astype(np.int64))
    return np.stack([starts, starts + 1], axis=1).reshape(-1)[: min(rows, n)].clip(max=n - 1)


class LocalizationReport(L.Callback):
    """Pixel metrics and the mask gallery on self-blended validation crops (module docstring).

    Args:
        out_dir: folder of ``localization.png`` (``None``: TensorBoard only).
        n: self-blended crops the metrics are computed on.
        rows: crops drawn in the gallery: ``rows // 2`` real-and-blend pairs evenly spaced over the
            ``n`` (``blended_examples`` alternates a real crop and its blend).
        every_n_epochs: draw the gallery every this many epochs (metrics every epoch).
    """

    def __init__(
        self, out_dir: str | None = None, n: int = 32, rows: int = 8, every_n_epochs: int = 1
    ) -> None:
        if n < 1 or rows < 1 or every_n_epochs < 1:
            raise ValueError(
                f"LocalizationReport needs n, rows and every_n_epochs >= 1, got {n}, {rows} and {every_n_epochs} "
                "(callbacks.localization_report)"
            )
        self.out_dir = out_dir
        self.n = n
        self.rows = rows
        self.every_n_epochs = every_n_epochs
        #: the last logged ``{"pixel_auc": ..., "pixel_iou": ...}`` (empty for nets without the head)
        self.last: dict[str, float] = {}

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        datamodule = getattr(trainer, "datamodule", None)
        examples = (
            datamodule.blended_examples("val", self.n) if hasattr(datamodule, "blended_examples") else None
        )
        real_masks = False
        if examples is None and hasattr(datamodule, "mask_examples"):
            examples = datamodule.mask_examples("val", self.n)
            real_masks = examples is not None
        net = getattr(pl_module, "net", None)
        if examples is None or net is None:
            return
        images = examples["image"].to(pl_module.device)
        masks = examples["mask"].float().cpu()
        was_training = net.training
        net.eval()
        try:
            predicted = None
            if getattr(net, "localization", False):
                with torch.no_grad():
                    _, mask_logits = net.forward_with_mask(images)
                predicted = torch.sigmoid(mask_logits.float()).cpu()
                self.last = localization_metrics(predicted, masks)
                for key, value in self.last.items() if not real_masks else ():  # else the module logs them
                    pl_module.log(f"val/{key}", torch.tensor(value, dtype=torch.float32))
            if trainer.is_global_zero and (trainer.current_epoch + 1) % self.every_n_epochs == 0:
                self.draw(trainer, net, examples, images, masks, predicted, real_masks)
        finally:
            net.train(was_training)

    def draw(
        self,
        trainer: L.Trainer,
        net: torch.nn.Module,
        examples: dict[str, Any],
        images: torch.Tensor,
        masks: torch.Tensor,
        predicted: torch.Tensor | None,
        real_masks: bool = False,
    ) -> None:
        """The gallery of ``rows`` crops, to ``out_dir`` and TensorBoard (``real_masks``: the crops
        are the dataset's own, with their manipulation masks, not self-blended)."""
        pick = torch.from_numpy(gallery_rows(len(images), self.rows))
        images, masks = images[pick.to(images.device)], masks[pick]
        predicted = None if predicted is None else predicted[pick]
        k = len(pick)
        spec = net.input_spec
        mean = torch.tensor(spec.mean).view(1, 3, 1, 1)
        std = torch.tensor(spec.std).view(1, 3, 1, 1)
        crops = (images[:k].float().cpu() * std + mean).clamp(0, 1).permute(0, 2, 3, 1).numpy()
        cams = grad_cam(net, images[:k])
        labels = examples["label"][pick] if "label" in examples else torch.ones(k)
        fake = "fake" if real_masks else "blended"
        captions = [fake if float(v) >= 0.5 else "real" for v in labels]
        metrics = (
            ", ".join(f"{name} {value:.3f}" for name, value in self.last.items())
            if predicted is not None
            else ""
        )
        what = (
            "validation crops with their manipulation masks"
            if real_masks
            else "self-blended validation crops"
        )
        title = f"epoch {trainer.current_epoch}: {what}" + (f" ({metrics})" if metrics else "")
        fig = localization_figure(
            crops,
            masks[:k, 0].numpy(),
            None if predicted is None else predicted[:k, 0].numpy(),
            cams,
            captions,
            title,
        )
        path = Path(self.out_dir) / "localization.png" if self.out_dir else None
        publish(trainer, fig, "val/localization", trainer.current_epoch, path)
