"""LightningModules for audio-visual detectors: :class:`AVDetectorModule` and :class:`AVFFModule`.

:class:`AVDetectorModule` is :class:`~dfd.models.detector_module.DetectorModule` for nets that
read named batch entries (``video`` and ``audio`` for AVFF, ``audio`` for the mel-spectrogram
baseline): the same losses, the same ``val/`` and ``test/`` metrics and ``eval_outputs``, plus
``train/`` accuracy, precision, recall, F1 and AUC for TensorBoard.

:class:`AVFFModule` runs the two stages of AVFF (Oorloff et al., CVPR 2024):

* ``stage=1``: self-supervised pre-training on real videos only (``data.real_only=true``):
  masked reconstruction of both modalities with its adversarial term, InfoNCE and, when switched
  on, dfd's A2V/V2A cosine term (:attr:`AVFF.pretrain_terms`). It logs ``train/loss`` and
  ``val/loss`` (the weighted sum the network minimises) and each term; select checkpoints on
  ``val/loss``. The patch discriminators train in the same step on their own loss (logged as
  ``discriminator``), which reaches only them: one optimizer, Lightning's automatic optimization.
* ``stage=2``: classification, initialised from a stage-1 checkpoint given as
  ``pretrained_ckpt`` (``model.pretrained_ckpt=<run>/checkpoints/last.ckpt``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torchmetrics import MeanMetric

from dfd.core.safe_load import load_torch_file
from dfd.models.detector_module import DetectorModule, binary_metrics

log = logging.getLogger(__name__)

#: Parameters that only stage 2 trains; a stage-1 checkpoint holds them untrained.
STAGE2_ONLY = ("head.", "video_fuse.", "audio_fuse.")
#: Parameters that only stage 1 uses (the reconstruction discriminators); stage 2 does not load them.
STAGE1_ONLY = ("video_disc.", "audio_disc.")


class AVDetectorModule(DetectorModule):
    """A :class:`DetectorModule` whose net takes the batch entries named in ``inputs``.

    Args:
        inputs: batch keys passed positionally to ``net``, e.g. ``[video, audio]`` or ``[audio]``.
        Other arguments (``weights_path``, fine-tuning) as :class:`DetectorModule`.
    """

    def __init__(
        self,
        net: nn.Module,
        optimizer: Callable[..., torch.optim.Optimizer],
        loss: nn.Module | None = None,
        scheduler: Callable[..., Any] | None = None,
        scheduler_interval: str = "epoch",
        inputs: tuple[str, ...] | list[str] = ("video", "audio"),
        **kwargs: Any,
    ) -> None:
        super().__init__(net, optimizer, loss, scheduler, scheduler_interval, **kwargs)
        self.inputs = tuple(inputs)
        self.train_metrics = binary_metrics("train/")

    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        return self.net(*xs)

    def _net_inputs(self, batch: dict[str, Any]) -> list[torch.Tensor]:
        missing = [k for k in self.inputs if k not in batch]
        if missing:
            raise KeyError(
                f"the batch has no {missing} (it has {sorted(batch)}): this model reads {list(self.inputs)}; "
                "set data.modality=video for audio-visual nets or data.modality=audio for model=audio_only"
            )
        return [batch[k] for k in self.inputs]

    def _shared_step(self, batch: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
        logits = self(*self._net_inputs(batch))
        return self.loss_fn(logits, batch["label"]), logits

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor:
        loss, logits = self._shared_step(batch)
        self.train_loss(loss)
        n = len(batch["label"])
        self.log("train/loss", self.train_loss, on_step=True, on_epoch=True, prog_bar=True, batch_size=n)
        # update only: the values are logged per epoch, so a per-batch compute would be wasted
        self.train_metrics.update(self.probs(logits.detach().float()), batch["label"].long())
        self.log_dict(self.train_metrics, on_step=False, on_epoch=True, batch_size=n)
        return loss

    def predict_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor:
        return self.probs(self(*self._net_inputs(batch)).float())


class AVFFModule(AVDetectorModule):
    """AVFF, stage 1 (self-supervised) or stage 2 (classification); see the module docstring.

    Args:
        net: an :class:`~dfd.models.nets.avff.AVFF`.
        stage: 1 or 2.
        pretrained_ckpt: stage 2 only: a stage-1 checkpoint whose net weights initialise this
            one (all but the classifier). Loaded when fitting starts, before a resume
            checkpoint restores its own weights, so ``ckpt_path=`` resumes still work.
        Other arguments as :class:`AVDetectorModule`.
    """

    def __init__(
        self,
        net: nn.Module,
        optimizer: Callable[..., torch.optim.Optimizer],
        loss: nn.Module | None = None,
        scheduler: Callable[..., Any] | None = None,
        scheduler_interval: str = "epoch",
        inputs: tuple[str, ...] | list[str] = ("video", "audio"),
        stage: int = 2,
        pretrained_ckpt: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(net, optimizer, loss, scheduler, scheduler_interval, inputs, **kwargs)
        if stage not in (1, 2):
            raise ValueError(
                f"model.stage={stage}: AVFF has stage 1 (pre-training) and stage 2 (classification)"
            )
        if stage == 1 and pretrained_ckpt:
            raise ValueError(
                "model.pretrained_ckpt is for stage 2; stage 1 starts from MARLIN and AudioMAE "
                "(model.net.video_weights, model.net.audio_weights) or from scratch"
            )
        if pretrained_ckpt and kwargs.get("weights_path"):
            raise ValueError(
                "model.pretrained_ckpt and model.weights_path both set: the stage-1 weights would "
                "overwrite the loaded ones when fitting starts; keep one of them"
            )
        self.stage = stage
        #: stage 1 reconstructs and scores no sample: calibration has nothing to fit, and says nothing
        self.scores_samples = stage == 2
        self.pretrained_ckpt = pretrained_ckpt
        self.pretrain_terms = tuple(net.pretrain_terms)
        # stage-1 validation: mean of each loss term over the split
        self.pretrain_val = nn.ModuleDict({k: MeanMetric() for k in ("loss", *self.pretrain_terms)})

    # -- stage-1 initialisation of stage 2 ----------------------------------------------------
    def load_pretrained(self, path: str | Path) -> list[str]:
        """Copy the stage-1 net weights of checkpoint ``path`` into :attr:`net`; return the keys loaded."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(
                f"model.pretrained_ckpt={path} does not exist: train stage 1 first "
                "(python -m dfd.train experiment=avff_dfdc_pretrain) and pass its checkpoints/last.ckpt"
            )
        state = load_torch_file(
            path, self.hparams.get("allow_pickle", False), opt_in="model.allow_pickle=true"
        )
        state = state.get("state_dict", state)
        net_state = {k[4:]: v for k, v in state.items() if k.startswith("net.")}
        wanted = {
            k: v for k, v in self.net.state_dict().items() if not k.startswith(STAGE2_ONLY + STAGE1_ONLY)
        }
        missing = sorted(set(wanted) - set(net_state))
        shapes = [k for k in wanted if k in net_state and net_state[k].shape != wanted[k].shape]
        if missing or shapes:
            raise ValueError(
                f"{path} does not fit this AVFF (missing {missing[:5]}, other shapes {shapes[:5]}): "
                "use a stage-1 checkpoint of the same model.net sizes"
            )
        self.net.load_state_dict({k: net_state[k] for k in wanted}, strict=False)
        log.info("Initialised %d AVFF tensors from stage-1 checkpoint %s", len(wanted), path)
        return sorted(wanted)

    def setup(self, stage: str) -> None:
        super().setup(stage)  # class counts for loss=weighted_bce
        # Runs before Lightning restores a resume checkpoint, which then overrides these weights.
        if stage == "fit" and self.stage == 2 and self.pretrained_ckpt:
            self.load_pretrained(self.pretrained_ckpt)

    # -- stage 1 -----------------------------------------------------------------------------
    def _pretrain(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        video, audio = self._net_inputs(batch)
        return self.net.pretrain_losses(video, audio)

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor:
        if self.stage == 2:
            return super().training_step(batch, batch_idx)
        losses = self._pretrain(batch)
        n = len(batch["label"])
        self.train_loss(losses["loss"])
        self.log("train/loss", self.train_loss, on_step=True, on_epoch=True, prog_bar=True, batch_size=n)
        self.log_dict({f"train/{k}": losses[k] for k in self.pretrain_terms}, on_epoch=True, batch_size=n)
        # the discriminator loss reaches the discriminators only (see AVFF.pretrain_losses)
        return losses["loss"] + losses.get("discriminator", 0.0)

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        if self.stage == 2:
            return super().validation_step(batch, batch_idx)
        losses = self._pretrain(batch)
        for k, metric in self.pretrain_val.items():
            metric.update(losses[k], weight=len(batch["label"]))

    def on_validation_epoch_end(self) -> None:
        if self.stage == 2:
            return super().on_validation_epoch_end()
        values = {f"val/{k}": m.compute() for k, m in self.pretrain_val.items()}
        for m in self.pretrain_val.values():
            m.reset()
        self.log("val/loss", values.pop("val/loss"), prog_bar=True)
        self.log_dict(values)

    def test_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        if self.stage == 1:
            raise RuntimeError(
                "stage 1 has no test metrics: run it with test=false (experiment=avff_dfdc_pretrain does)"
            )
        super().test_step(batch, batch_idx)
