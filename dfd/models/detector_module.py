"""``DetectorModule``: the LightningModule for frame-level binary deepfake detectors.

It receives a built ``net`` (any module following the nets contract), a loss object and
optimizer/scheduler partials. Validation and test outputs (logits, labels, video and sample
indices) are gathered from every rank, each sample kept once (:func:`once_per_sample`), and
the split's metrics and loss are computed from them, so the numbers equal one process's on any
number of ranks, uneven splits included. The gathered outputs stay in
:attr:`DetectorModule.eval_outputs` for callbacks (calibration, reports, video-level metrics).

With a localising net (``model.localization=true``, :mod:`dfd.models.nets.base`) a training batch
that carries the blend ``mask`` of its self-blended images (Shiohara & Yamasaki, CVPR 2022,
https://arxiv.org/abs/2204.08376) is trained on ``loss + loss.mask_weight · mask loss`` (pixel
BCE, :meth:`dfd.models.losses.BCELoss.mask_loss`), logged as ``train/mask_loss``; batches without
a mask use the label alone. The same holds for batches carrying the real manipulation masks of a
crop dataset (FF++/DFD, ``data.masks``), whose ``mask_valid`` leaves fakes of unknown mask out of the
pixel loss. Evaluated on such batches, a localising net also gets ``<split>/pixel_auc`` and
``<split>/pixel_iou`` (:mod:`dfd.metrics.localization`) over the crops whose mask is known, and their
per-crop counts stay in :attr:`DetectorModule.pixel_outputs` for reports (per method).

A net with ``auxiliary_losses(features, labels) -> {name: weighted term}`` (the foundation net's
metric-learning and SVD terms, :mod:`dfd.models.nets.foundation`) is trained on the label loss plus
those terms, each logged as ``train/<name>``.

With ``model/optimizer=sam`` (:class:`dfd.models.sam.SAM`) each step runs ``training_step`` twice
through Lightning's closure; only the first pass, at the weights being trained, is logged.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from lightning.pytorch import LightningModule
from lightning.pytorch.utilities import rank_zero_info, rank_zero_warn
from torch import nn
from torchmetrics import MaxMetric, MeanMetric, Metric, MetricCollection
from torchmetrics.aggregation import CatMetric
from torchmetrics.classification import (
    BinaryAccuracy,
    BinaryAUROC,
    BinaryAveragePrecision,
    BinaryF1Score,
    BinaryPrecision,
    BinaryRecall,
)
from torchmetrics.utilities import dim_zero_cat

from dfd.metrics.detection import detection_metrics
from dfd.metrics.localization import metrics_from_counts, pixel_counts
from dfd.models.finetune import backbone_of, param_groups, set_trainable
from dfd.models.losses import BCELoss, ClassCountAware
from dfd.models.nets.base import Net, refuse_localization
from dfd.models.nets.pretrained import load_weights
from dfd.models.sam import PRECISION_FIX, SAM
from dfd.models.schedulers import ContinuedCosine, continued_from_state

log = logging.getLogger(__name__)


#: The frame-level metrics logged under ``val/`` and ``test/`` (see :func:`split_metrics`).
EVAL_METRICS = ("auc", "ap", "acc", "precision", "recall", "f1")


def split_metrics(probs: torch.Tensor, labels: torch.Tensor) -> dict[str, float]:
    """:data:`EVAL_METRICS` of a whole split, at threshold 0.5; AUC and AP are NaN for one class."""
    values = detection_metrics(probs, labels, 0.5)
    return {k: values[k] for k in EVAL_METRICS}


def binary_metrics(prefix: str) -> MetricCollection:
    """The frame-level metric set under ``prefix``, updated per batch (training metrics)."""
    return MetricCollection(
        {
            "auc": BinaryAUROC(),
            "ap": BinaryAveragePrecision(),
            "acc": BinaryAccuracy(),
            "precision": BinaryPrecision(),
            "recall": BinaryRecall(),
            "f1": BinaryF1Score(),
        },
        prefix=prefix,
    )


#: Scheduler state entries that define a schedule (not its progress); compared on resume.
SCHEDULE_KEYS = (
    "T_max", "eta_min", "T_0", "T_mult", "step_size", "gamma", "milestones", "_milestones",
    "total_iters", "start_factor", "end_factor", "total_steps", "max_lr", "pct_start",
)  # fmt: skip


def schedule_changes(restored: dict[str, Any], fresh: dict[str, Any], prefix: str = "") -> dict[str, tuple]:
    """``{setting: (restored, fresh)}`` for the schedule settings that differ between two
    scheduler ``state_dict()`` s; nested schedulers (``SequentialLR``) are compared member by member."""
    changes: dict[str, tuple] = {}
    for key in SCHEDULE_KEYS:
        if key in restored and key in fresh and restored[key] != fresh[key]:
            changes[prefix + key.lstrip("_")] = (restored[key], fresh[key])
    inner_a, inner_b = restored.get("_schedulers"), fresh.get("_schedulers")
    if isinstance(inner_a, list) and isinstance(inner_b, list) and len(inner_a) == len(inner_b):
        for i, (a, b) in enumerate(zip(inner_a, inner_b, strict=True)):
            changes.update(schedule_changes(a, b, prefix=f"{prefix}schedulers[{i}]."))
    return changes


def eta_min_of(state: dict[str, Any]) -> float:
    """The floor of a scheduler's learning rate (``eta_min``, searched in nested schedulers), else 0."""
    if "eta_min" in state:
        return float(state["eta_min"])
    for inner in state.get("_schedulers") or []:
        if isinstance(inner, dict) and "eta_min" in inner:
            return float(inner["eta_min"])
    return 0.0


def plain(value: Any) -> Any:
    """``value`` with every mapping a ``dict`` and every sequence (but strings) a ``list``."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return [plain(v) for v in value]
    return value


def count_parameters(module: nn.Module) -> dict[str, int]:
    """Total, trainable and frozen parameter counts."""
    total = sum(p.numel() for p in module.parameters())
    trainable = sum(p.numel() for p in module.parameters() if p.requires_grad)
    return {"total": total, "trainable": trainable, "frozen": total - trainable}


def once_per_sample(outputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Keep each sample once, in dataset order.

    Lightning's ``DistributedSampler`` pads the validation and test splits by repeating samples,
    so that every rank gets as many; gathered over ranks, those samples would count twice in
    every metric, threshold and report. Each batch carries the samples' dataset ``index``, which
    identifies the copies.
    """
    index = outputs["index"]
    order = torch.argsort(index, stable=True)
    ordered = index[order]
    first = torch.ones_like(ordered, dtype=torch.bool)
    first[1:] = ordered[1:] != ordered[:-1]
    keep = order[first]
    return {k: v[keep] for k, v in outputs.items()}


class IdCat(Metric):
    """Integer ids (sample and video indices) concatenated across batches and ranks, as int64.

    ``CatMetric`` casts to float32, whose 24-bit mantissa merges neighbouring ids above 2**24
    (16.7M crops: DFDC-scale splits), and merged ids would drop samples as duplicates.
    """

    full_state_update = False

    def __init__(self) -> None:
        super().__init__()
        self.add_state("values", default=[], dist_reduce_fx="cat")

    def update(self, ids: torch.Tensor) -> None:
        self.values.append(ids.detach().flatten().long())

    def compute(self) -> torch.Tensor:
        return dim_zero_cat(self.values) if len(self.values) else torch.zeros(0, dtype=torch.long)


class EvalStore(nn.Module):
    """Per-split accumulators of logits, labels, video and sample indices, gathered across ranks."""

    def __init__(self) -> None:
        super().__init__()
        self.logits = CatMetric()
        self.labels = CatMetric()
        self.video_idx = IdCat()
        self.index = IdCat()
        self._count = 0  # samples seen on this rank, the stand-in index of batches without one

    def update(
        self,
        logits: torch.Tensor,
        labels: torch.Tensor,
        video_idx: torch.Tensor,
        index: torch.Tensor | None = None,
    ) -> None:
        if index is None:  # a dataset without sample indices: no de-duplication possible
            index = torch.arange(self._count, self._count + len(labels), device=labels.device)
        self._count += len(labels)
        self.logits.update(logits.detach().float())
        self.labels.update(labels.detach().float())
        self.video_idx.update(video_idx)
        self.index.update(index)

    def compute(self) -> dict[str, torch.Tensor]:
        logits = self.logits.compute().cpu()
        return once_per_sample(
            {
                "logits": logits.reshape(-1, logits.shape[-1]) if logits.ndim > 1 else logits[:, None],
                "labels": self.labels.compute().cpu(),
                "video_idx": self.video_idx.compute().cpu(),
                "index": self.index.compute().cpu(),
            }
        )

    def reset(self) -> None:
        self._count = 0
        for metric in (self.logits, self.labels, self.video_idx, self.index):
            metric.reset()


class PixelStore(nn.Module):
    """Per-crop pixel counts (:func:`dfd.metrics.localization.pixel_counts`) of the crops whose
    manipulation mask is known, with their sample index, gathered across ranks."""

    def __init__(self) -> None:
        super().__init__()
        self.counts = CatMetric()
        self.index = IdCat()
        self._count = 0

    def update(self, counts: torch.Tensor, index: torch.Tensor | None) -> None:
        if index is None:
            index = torch.arange(self._count, self._count + len(counts), device=counts.device)
        self._count += len(counts)
        self.counts.update(counts.detach().float())
        self.index.update(index)

    def compute(self) -> dict[str, torch.Tensor] | None:
        """``{"counts": [N, K], "index": [N]}`` once per sample, or None when no crop had a mask."""
        if not self._count:
            return None
        counts = self.counts.compute().cpu()
        return once_per_sample(
            {"counts": counts.reshape(-1, counts.shape[-1]), "index": self.index.compute().cpu()}
        )

    def reset(self) -> None:
        self._count = 0
        self.counts.reset()
        self.index.reset()


class DetectorModule(LightningModule):
    """Trains and evaluates a frame-level detector.

    Args:
        net: the network; ``forward(x) -> logits[B, C]``.
        loss: ``loss(logits, target) -> scalar``; BCE-with-logits when ``None``.
        optimizer: partial taking ``params``.
        scheduler: partial taking ``optimizer``; stepped per ``scheduler_interval``.
        weights_path: local state dict or checkpoint loaded into ``net`` (missing/unexpected keys logged).
        freeze_backbone: freeze ``net.backbone`` (a fixed feature extractor in eval mode).
        unfreeze_backbone_at_epoch: unfreeze it at the start of this epoch (null = stay frozen).
        backbone_lr: learning rate of ``net.backbone``; null = the optimizer's lr, used by the head.
        allow_pickle: read ``weights_path`` (and AVFF's stage-1 checkpoint) even when it needs
            pickle, which can run code from whoever made the file; off by default.
        extend_schedule: when a resumed run's schedule differs from the restored one (a larger
            ``trainer.max_epochs``), re-plan a cosine from the restored epoch and learning rate to
            the new horizon (:class:`~dfd.models.schedulers.ContinuedCosine`) instead of keeping
            the restored schedule.
        channels_last: keep the net's weights and inputs in the channels-last memory format
            (NHWC), which convolution kernels (cuDNN on tensor cores, oneDNN on CPU) often run
            faster; the configs of the nets where it was measured to win turn it on.
        localization: train the net's blend-mask head (``model.localization``; the net must be
            built with ``localization=True``, which the model configs interpolate from this key).
    """

    def __init__(
        self,
        net: nn.Module,
        optimizer: Callable[..., torch.optim.Optimizer],
        loss: nn.Module | None = None,
        scheduler: Callable[..., Any] | None = None,
        scheduler_interval: str = "epoch",
        weights_path: str | None = None,
        freeze_backbone: bool = False,
        unfreeze_backbone_at_epoch: int | None = None,
        backbone_lr: float | None = None,
        allow_pickle: bool = False,
        extend_schedule: bool = False,
        channels_last: bool = False,
        localization: bool = False,
    ) -> None:
        super().__init__()
        if localization and not getattr(net, "localization", False):
            has_map = (
                getattr(type(net), "forward_feature_map", Net.forward_feature_map)
                is not Net.forward_feature_map
            )
            raise refuse_localization(
                type(net).__name__,
                "it was built without one: its config needs net.localization: ${model.localization}"
                if has_map
                else "it has no spatial feature map",
            )
        # the optimizer/scheduler partials cannot be pickled; the run's config.yaml records them
        self.save_hyperparameters(logger=False, ignore=["net", "loss", "optimizer", "scheduler"])
        if weights_path:
            self.weights_report = load_weights(net, weights_path, allow_pickle)
        self.backbone_frozen = False
        if freeze_backbone:
            set_trainable(backbone_of(net), False)
            self.backbone_frozen = True
        self.optimizer_factory = optimizer
        self.scheduler_factory = scheduler
        self.channels_last = bool(channels_last)
        self.net = net.to(memory_format=torch.channels_last) if self.channels_last else net
        self.loss_fn = loss if loss is not None else BCELoss()
        self.train_loss = MeanMetric()
        self.train_mask_loss = MeanMetric()
        self.val_auc_best = MaxMetric()
        self.val_auc_best.persistent(True)  # survives resume through the checkpoint
        self.stores = nn.ModuleDict({"val": EvalStore(), "test": EvalStore()})
        self.eval_outputs: dict[str, dict[str, torch.Tensor]] = {}
        self.pixel_stores = nn.ModuleDict({"val": PixelStore(), "test": PixelStore()})
        #: per split, the pixel counts of the crops with a known mask (``counts``, ``index``), when any
        self.pixel_outputs: dict[str, dict[str, torch.Tensor]] = {}
        #: how the training crops were made (dfd.preprocessing.fingerprint); dfd.train sets it
        self.preprocessing: dict[str, Any] | None = None

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["preprocessing"] = self.preprocessing
        # config containers (Hydra passes ListConfig / DictConfig) become plain lists and dicts, so
        # the checkpoint opens with torch.load(weights_only=True)
        if "hyper_parameters" in checkpoint:
            checkpoint["hyper_parameters"] = plain(checkpoint["hyper_parameters"])

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self.preprocessing = checkpoint.get("preprocessing", self.preprocessing)

    def setup(self, stage: str) -> None:
        # losses that weight classes from the data (loss=weighted_bce) read the training counts
        if isinstance(self.loss_fn, ClassCountAware):
            datamodule = getattr(self.trainer, "datamodule", None)
            if hasattr(datamodule, "class_counts"):
                self.loss_fn.set_class_counts(datamodule.class_counts("train"))

    # -- forward ----------------------------------------------------------------------------
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.channels_last and x.ndim == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        return self.net(x)

    @staticmethod
    def probs(logits: torch.Tensor) -> torch.Tensor:
        """Fake probability: sigmoid of one logit, or softmax column 1 of two."""
        if logits.shape[-1] == 1:
            return torch.sigmoid(logits[:, 0])
        return torch.softmax(logits, dim=-1)[:, 1]

    def _shared_step(self, batch: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
        logits = self(batch["image"])
        return self.loss_fn(logits, batch["label"]), logits

    # -- fine-tuning --------------------------------------------------------------------------
    def train(self, mode: bool = True) -> DetectorModule:
        super().train(mode)
        if mode and getattr(self, "backbone_frozen", False):
            backbone_of(self.net).eval()  # frozen = fixed BatchNorm statistics and no dropout
        return self

    def on_train_epoch_start(self) -> None:
        at = self.hparams.get("unfreeze_backbone_at_epoch")
        if self.backbone_frozen and at is not None and self.current_epoch >= at:
            set_trainable(backbone_of(self.net), True)
            self.backbone_frozen = False
            backbone_of(self.net).train()
            params = count_parameters(self.net)
            log.info("Epoch %d: backbone unfrozen; parameters %s", self.current_epoch, params)

    # -- training ---------------------------------------------------------------------------
    def _second_sam_pass(self) -> bool:
        """Whether SAM is running this step's closure at the perturbed weights (not to be logged)."""
        trainer = self._trainer
        return bool(trainer is not None and any(getattr(o, "perturbed", False) for o in trainer.optimizers))

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor:
        if getattr(self.net, "localization", False) and "mask" in batch:
            loss = self._localization_step(batch)
        elif callable(getattr(self.net, "auxiliary_losses", None)):
            loss = self._auxiliary_step(batch)
        else:
            loss, _ = self._shared_step(batch)
        if self._second_sam_pass():
            return loss
        self.train_loss(loss)
        self.log(
            "train/loss",
            self.train_loss,
            on_step=True,
            on_epoch=True,
            prog_bar=True,
            batch_size=len(batch["label"]),
        )
        return loss

    def _auxiliary_step(self, batch: dict[str, Any]) -> torch.Tensor:
        """Label loss + the net's weighted auxiliary terms (``net.auxiliary_losses(features, labels)``),
        from one pass of the net; each term is logged as ``train/<name>``."""
        x = batch["image"]
        if self.channels_last and x.ndim == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        features = self.net.forward_features(x)
        loss = self.loss_fn(self.net.forward_head(features), batch["label"])
        terms = self.net.auxiliary_losses(features, batch["label"])
        for name, value in terms.items():
            loss = loss + value
            if not self._second_sam_pass():
                self.log(
                    f"train/{name}",
                    value.detach(),
                    on_step=True,
                    on_epoch=True,
                    batch_size=len(batch["label"]),
                )
        return loss

    def _localization_step(self, batch: dict[str, Any]) -> torch.Tensor:
        """Label loss + ``mask_weight`` × pixel loss of the blend mask, from one pass of the net."""
        x = batch["image"]
        if self.channels_last and x.ndim == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        logits, mask_logits = self.net.forward_with_mask(x)
        mask_loss = self.loss_fn.mask_loss(mask_logits, batch["mask"], batch.get("mask_valid"))
        if not self._second_sam_pass():
            self.train_mask_loss(mask_loss.detach())
            self.log(
                "train/mask_loss",
                self.train_mask_loss,
                on_step=True,
                on_epoch=True,
                batch_size=len(batch["label"]),
            )
        return self.loss_fn(logits, batch["label"]) + self.loss_fn.mask_weight * mask_loss

    # -- evaluation -------------------------------------------------------------------------
    def _eval_step(self, stage: str, batch: dict[str, Any]) -> None:
        if "mask_valid" in batch and getattr(self.net, "localization", False):
            x = batch["image"]
            if self.channels_last and x.ndim == 4:
                x = x.contiguous(memory_format=torch.channels_last)
            logits, mask_logits = self.net.forward_with_mask(x)
            valid = batch["mask_valid"].bool().reshape(-1)
            if valid.any():
                counts = pixel_counts(torch.sigmoid(mask_logits[valid].float()), batch["mask"][valid])
                index = batch.get("index")
                self.pixel_stores[stage].update(counts, None if index is None else index[valid])
        else:
            _, logits = self._shared_step(batch)
        self.stores[stage].update(logits, batch["label"], batch["video_idx"], batch.get("index"))

    def _eval_epoch_end(self, stage: str) -> dict[str, torch.Tensor]:
        """Metrics and loss of the whole split, each sample counted once on any number of ranks."""
        outputs = self.stores[stage].compute()  # gathered from every rank, de-duplicated
        self.stores[stage].reset()
        self.eval_outputs[stage] = outputs
        logits, labels = outputs["logits"], outputs["labels"]
        values = {
            f"{stage}/{k}": torch.tensor(v) for k, v in split_metrics(self.probs(logits), labels).items()
        }
        with torch.no_grad():
            loss = self.loss_fn(logits.to(self.device), labels.to(self.device)).detach().cpu()
        values[f"{stage}/loss"] = loss
        pixels = self.pixel_stores[stage].compute()
        self.pixel_stores[stage].reset()
        if pixels is not None:
            self.pixel_outputs[stage] = pixels
            for key, value in metrics_from_counts(pixels["counts"]).items():
                values[f"{stage}/{key}"] = torch.tensor(value)
        return values

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        self._eval_step("val", batch)

    def on_validation_epoch_end(self) -> None:
        values = self._eval_epoch_end("val")
        if not self.trainer.sanity_checking and torch.isfinite(values["val/auc"]):
            self.val_auc_best.update(values["val/auc"])
        if not self.trainer.sanity_checking:
            # undefined (NaN), not bad, until a validation pass had both classes
            seen = self.val_auc_best.update_called
            values["val/auc_best"] = self.val_auc_best.compute() if seen else torch.tensor(float("nan"))
        # every rank computed the same values from the gathered split: no further reduction
        self.log("val/auc", values.pop("val/auc"), prog_bar=True)
        self.log_dict(values)

    def test_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        self._eval_step("test", batch)

    def on_test_epoch_end(self) -> None:
        self.log_dict(self._eval_epoch_end("test"))

    def predict_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor:
        return self.probs(self(batch["image"]).float())

    # -- optimisation -----------------------------------------------------------------------
    def on_train_start(self) -> None:
        if not (
            self.trainer.ckpt_path
            and self.scheduler_factory is not None
            and self.trainer.lr_scheduler_configs
        ):
            return
        config = self.trainer.lr_scheduler_configs[0]
        optimizer = config.scheduler.optimizer
        restored = config.scheduler.state_dict()
        if restored.get("continued_cosine"):  # an extended run, resumed: its re-planned schedule goes on
            config.scheduler = continued_from_state(optimizer, restored)
            if restored["max_epochs"] == self.trainer.max_epochs:
                return
            changed = {"max_epochs": (restored["max_epochs"], self.trainer.max_epochs)}
        else:
            changed = schedule_changes(restored, self._fresh_schedule_state())
        if not changed:
            return
        if self.hparams.get("extend_schedule"):
            lrs = [float(g["lr"]) for g in optimizer.param_groups]
            config.scheduler = ContinuedCosine(
                optimizer, self.trainer.current_epoch, self.trainer.max_epochs, lrs, eta_min_of(restored)
            )
            rank_zero_info(
                f"extend_schedule: the learning rate goes on from {lrs[0]:.3g} at epoch {self.trainer.current_epoch} "
                f"along a cosine to {eta_min_of(restored):.3g} at epoch {self.trainer.max_epochs} ({changed})"
            )
            return
        rank_zero_warn(
            "Resuming from a checkpoint restores its learning-rate schedule, which differs from "
            f"this run's config: {changed} (checkpoint → config). Lightning keeps the checkpoint's, "
            "so e.g. a cosine annealed over the old trainer.max_epochs climbs back up after it. To "
            "continue this run to the new trainer.max_epochs without a jump or a climb, add "
            "extend_schedule=true; to train on with a fresh schedule, start a new run from the weights: "
            "model.weights_path=<checkpoint> without ckpt_path."
        )

    def _fresh_schedule_state(self) -> dict[str, Any]:
        """The state of the scheduler this run's config builds (on a throwaway optimizer with as
        many parameter groups; schedule settings do not depend on the lr)."""
        groups = [{"params": [nn.Parameter(torch.zeros(1))]} for _ in self.trainer.optimizers[0].param_groups]
        return self.scheduler_factory(optimizer=torch.optim.SGD(groups, lr=1.0)).state_dict()

    def configure_optimizers(self) -> Any:
        hp = self.hparams
        if hp.get("backbone_lr") or hp.get("freeze_backbone"):
            params: Any = param_groups(
                self.parameters(),
                backbone_of(self.net),
                hp.get("backbone_lr"),
                include_frozen_backbone=hp.get("unfreeze_backbone_at_epoch") is not None,
            )
        else:
            params = [p for p in self.parameters() if p.requires_grad]
        optimizer = self.optimizer_factory(params=params)
        precision = str(self._trainer.precision) if self._trainer is not None else ""
        if isinstance(optimizer, SAM) and precision in ("16-mixed", "16"):
            raise ValueError(
                f"model/optimizer=sam cannot run under trainer.precision={precision}: Lightning's GradScaler "
                f"steps without the closure SAM's two passes need; use {PRECISION_FIX}"
            )
        accumulate = getattr(self._trainer, "accumulate_grad_batches", 1) if self._trainer is not None else 1
        if isinstance(optimizer, SAM) and accumulate > 1:
            raise ValueError(
                f"model/optimizer=sam cannot accumulate gradients (trainer.accumulate_grad_batches={accumulate}): "
                "its ascent needs each step's own gradient; set trainer.accumulate_grad_batches=1"
            )
        if self.scheduler_factory is None:
            return optimizer
        scheduler = self.scheduler_factory(optimizer=optimizer)
        return {
            "optimizer": optimizer,
            "lr_scheduler": {
                "scheduler": scheduler,
                "interval": self.hparams.scheduler_interval,
                "monitor": "val/auc",
            },
        }
