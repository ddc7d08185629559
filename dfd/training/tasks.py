"""The tasks of the training stage's commands: each is what ``dfd <verb>`` runs once its config is composed."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.utilities.exceptions import SIGTERMException
from omegaconf import DictConfig

from dfd.artifacts.runs import auto_resume_checkpoint
from dfd.callbacks.resume import EXIT_PREEMPTED, ResumeState, resume_step
from dfd.config.instantiate import (
    instantiate,
    instantiate_callbacks,
    instantiate_loggers,
    save_resolved_config,
    to_container,
)
from dfd.models.detector_module import count_parameters
from dfd.reports.run_summary import selection_of, write_run_summary

log = logging.getLogger(__name__)


def _floats(metrics: dict[str, Any]) -> dict[str, float]:
    return {k: float(v) for k, v in metrics.items() if getattr(v, "numel", lambda: 1)() == 1}


def resume_path(cfg: DictConfig) -> str | None:
    """The checkpoint to resume: ``ckpt_path`` as given, or for ``ckpt_path=auto`` this run
    directory's newest ``last.ckpt`` (or SLURM ``hpc_ckpt``) when there is one, else a fresh start."""
    ckpt_path = cfg.get("ckpt_path")
    if ckpt_path != "auto":
        return ckpt_path
    found = auto_resume_checkpoint(cfg.paths.output_dir)
    log.info(
        "ckpt_path=auto: %s",
        f"resuming {found}" if found else f"no checkpoint in {cfg.paths.output_dir}, starting fresh",
    )
    return str(found) if found else None


def train(cfg: DictConfig, extra_callbacks: list[L.Callback] | None = None) -> dict[str, float]:
    """Fit (and optionally test) one model; return every logged metric as a float.

    ``extra_callbacks`` are added to the configured ones (for notebooks and tests).
    """
    L.seed_everything(cfg.seed, workers=True)
    out = Path(cfg.paths.output_dir)
    ckpt_path = resume_path(cfg)  # read first: nothing left to train is refused before data is built
    start_step = (
        resume_step(ckpt_path, cfg.trainer.get("max_epochs"), cfg.train, cfg.allow_pickle)
        if ckpt_path
        else None
    )

    sampler = instantiate(cfg.sampler) if cfg.get("sampler") else None
    datamodule = instantiate(cfg.data, sampler=sampler)
    datamodule.verify()  # fail fast, before building a (possibly pretrained) model
    test = bool(cfg.test)
    if test and "test" not in datamodule.available_splits():
        log.warning(
            "%s has no test split, so this run will not test (test=false). Carve one, grouped by identity, "
            "with data.test_fraction=0.2, or evaluate later with python -m dfd.eval data=<name>",
            datamodule.root,
        )
        test = False
    model = instantiate(cfg.model, loss=instantiate(cfg.loss))
    model.preprocessing = datamodule.fingerprint()  # kept in every checkpoint
    datamodule.set_input_spec(model.net.input_spec)
    if hasattr(datamodule, "set_localization"):  # a localising net reads the manifest's masks (data.masks)
        datamodule.set_localization(getattr(model.net, "localization", False))

    callbacks = instantiate_callbacks(cfg.get("callbacks")) + list(extra_callbacks or [])
    # a resumed run's loggers drop what the interrupted one logged after its checkpoint: every epoch once
    loggers = instantiate_loggers(cfg.get("logger"), purge_step=start_step)
    trainer: L.Trainer = instantiate(cfg.trainer, callbacks=callbacks, logger=loggers)

    params = count_parameters(model.net)
    if trainer.is_global_zero:
        out.mkdir(parents=True, exist_ok=True)
        save_resolved_config(cfg, out / "config.yaml")
        log.info("Parameters: total %s, trainable %s, frozen %s", *(f"{v:,}" for v in params.values()))
    hparams = to_container(cfg)
    hparams["params"] = params
    for lg in loggers:
        lg.log_hyperparams(hparams)

    metrics: dict[str, float] = {}
    if cfg.train:
        # checkpoints are plain data, read with weights_only=True unless allow_pickle=true
        try:
            trainer.fit(model, datamodule=datamodule, ckpt_path=ckpt_path, weights_only=not cfg.allow_pickle)
        except SIGTERMException:  # preempted: last.ckpt is saved (ResumeState); say so in the exit code
            for cb in trainer.callbacks:
                if isinstance(cb, ResumeState):
                    cb.hand_over()  # submitit's SIGUSR2: it requeues the job (and exits)
            log.warning("preempted; exiting with code %d so that the job can be requeued", EXIT_PREEMPTED)
            raise SystemExit(EXIT_PREEMPTED) from None
        metrics.update(_floats(trainer.callback_metrics))

    checkpoint = trainer.checkpoint_callback
    best = checkpoint.best_model_path if checkpoint else ""
    if test:
        if not best:
            log.warning("No best checkpoint was saved; testing the current weights")
        trainer.test(model, datamodule=datamodule, ckpt_path=best or None, weights_only=not cfg.allow_pickle)
        metrics.update(_floats(trainer.callback_metrics))

    if trainer.is_global_zero:
        selection = selection_of(checkpoint)
        summary = {"best_checkpoint": best, "selection": selection, "params": params, "metrics": metrics}
        (out / "metrics.json").write_text(json.dumps(summary, indent=2, sort_keys=True))
        print(write_run_summary(out, best, selection, metrics), flush=True)
    return metrics
