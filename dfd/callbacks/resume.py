"""Exact resumption and preemption: what a checkpoint must carry besides weights, and what a run
does when the cluster takes its node away.

:class:`ResumeState` saves, in every checkpoint, the random state of every rank (torch CPU and
CUDA, numpy, python) and where it was taken (an epoch start, or a batch end when preempted); a
resumed run puts it back at the same point: at the start of the restarted epoch, or before the
first batch after a mid-epoch checkpoint, whose epoch it continues from the next unseen sample.
The samplers need no state (an epoch's order is a function of ``seed + epoch``) and neither do
the augmentations (seeded per sample from ``(seed, epoch, index)``,
:func:`dfd.data.datamodule.sample_seed`), so in deterministic mode the resumed run computes
exactly what the uninterrupted one would have, bit for bit.

It also keeps ``checkpoints/progress.json`` (the last step reached, at most once a second), so
a run resumed after a kill says how many steps it redoes.

On SIGTERM (what schedulers send before killing a job) or SIGUSR1 (SLURM's ``--signal``, handled
by Lightning's SLURM plugin when it requeues), Lightning stops after the current batch; this
callback then writes ``last.ckpt`` at once and records ``checkpoints/preempted.json``;
``dfd.train`` exits with :data:`EXIT_PREEMPTED`. ``ckpt_path=auto`` resumes from it.

Under submitit (Hydra's ``hydra/launcher=slurm_*`` and ``submitit_local``), the preemption and
time-out signal is SIGUSR2 and submitit's own handler requeues the job. This callback takes
SIGUSR2 too (only when such a handler is installed), saves the same way, and then hands over to
submitit's handler (:meth:`ResumeState.hand_over`), which requeues: the requeued job runs the same
overrides in the same directory, and ``ckpt_path=auto`` picks up ``last.ckpt``.
"""

from __future__ import annotations

import json
import logging
import os
import random
import signal
import time
import warnings
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from lightning.pytorch.utilities.exceptions import SIGTERMException

from dfd.callbacks.checkpoint import ModelCheckpoint, flush_loggers
from dfd.core.errors import DfdError
from dfd.core.safe_load import load_torch_file

log = logging.getLogger(__name__)

#: ``dfd.train``'s exit code after a preemption saved ``last.ckpt`` (EX_TEMPFAIL: retry later).
EXIT_PREEMPTED = 75
PROGRESS_FILE = "progress.json"
PREEMPTED_FILE = "preempted.json"


def rng_state() -> dict[str, Any]:
    """This process's generators as plain data (tensors, lists, numbers): readable with
    ``weights_only=True``."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    version, internal, gauss_next = random.getstate()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": {
            "kind": kind,
            "keys": torch.from_numpy(keys.astype(np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "gauss": float(gauss),
        },  # fmt: skip
        "python": {"version": version, "internal": list(internal), "gauss_next": gauss_next},
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Put back what :func:`rng_state` took."""
    torch.set_rng_state(state["torch"])
    n = state["numpy"]
    np.random.set_state(
        (n["kind"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["gauss"])
    )
    p = state["python"]
    random.setstate((p["version"], tuple(p["internal"]), p["gauss_next"]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


class NothingToTrain(DfdError, ValueError):
    """A resume whose checkpoint already reached ``trainer.max_epochs`` (or ``trainer.max_steps``)."""


def epochs_done(checkpoint: dict[str, Any]) -> int | None:
    """The epochs a Lightning checkpoint finished (the count Lightning compares with ``max_epochs``:
    ``fit_loop.epoch_progress.current.processed``), or ``None`` when it does not say."""
    progress = (checkpoint.get("loops") or {}).get("fit_loop", {}).get("epoch_progress", {})
    done = (progress.get("current") or {}).get("processed")
    return int(done) if isinstance(done, int) else None


def check_epochs_left(checkpoint: dict[str, Any], max_epochs: Any, ckpt_path: Any) -> None:
    """Refuse a resume that has nothing left to train (:class:`NothingToTrain`): Lightning would return
    at once and the run end without a metric."""
    done = epochs_done(checkpoint)
    if done is not None and isinstance(max_epochs, int) and max_epochs != -1 and done >= max_epochs:
        raise NothingToTrain(
            f"nothing left to train: {ckpt_path} finished epoch {done} and trainer.max_epochs={max_epochs}. "
            f"To train on, set trainer.max_epochs above {done} (e.g. trainer.max_epochs={done + max(done, 1)}) with "
            "extend_schedule=true, which re-plans the learning-rate cosine from the restored epoch and rate to the "
            "new last epoch (without it the checkpoint's schedule is kept); to score it, use dfd.eval ckpt_path=<it>"
        )


def resume_step(ckpt_path: str | Path, max_epochs: Any, fit: bool, allow_pickle: bool = False) -> int:
    """The global step a resume starts from, read from its checkpoint before anything else is built;
    with ``fit``, a checkpoint with nothing left to train is refused first (:func:`check_epochs_left`)."""
    checkpoint = load_torch_file(ckpt_path, allow_pickle)
    if fit:
        check_epochs_left(checkpoint, max_epochs, ckpt_path)
    return int(checkpoint.get("global_step", 0))


def fresh_epoch(fit_loop: dict[str, Any] | None) -> None:
    """Make a checkpoint written between epochs read as "the next epoch has not started": the
    per-epoch counters of the batch, scheduler, optimizer and validation progress at zero.

    Lightning would otherwise restart into the finished epoch's counters and run the next epoch
    with no batches."""
    if not fit_loop:
        return
    for key in (
        "epoch_loop.batch_progress",
        "epoch_loop.scheduler_progress",
        "epoch_loop.val_loop.batch_progress",
    ):
        progress = fit_loop.get(key)
        if progress is not None:
            progress["current"] = {k: 0 for k in progress["current"]}
            if "is_last_batch" in progress:
                progress["is_last_batch"] = False
    optim = fit_loop.get("epoch_loop.automatic_optimization.optim_progress", {}).get("optimizer", {})
    for part in optim.values():
        if isinstance(part, dict) and "current" in part:
            part["current"] = {k: 0 for k in part["current"]}


def _gather(trainer: L.Trainer, obj: Any) -> list[Any]:
    """``obj`` of every rank, in rank order (just ``[obj]`` outside distributed runs)."""
    import torch.distributed as dist

    if trainer.world_size > 1 and dist.is_available() and dist.is_initialized():
        out: list[Any] = [None] * trainer.world_size
        dist.all_gather_object(out, obj)
        return out
    return [obj]


class ResumeState(L.Callback):
    """Random state in every checkpoint, restored at the same point; progress; preemption. See the
    module docstring."""

    def __init__(
        self,
        progress_every_s: float = 1.0,
        signals: tuple[str, ...] | list[str] = ("SIGTERM", "SIGUSR1", "SIGUSR2"),
    ) -> None:
        self.progress_every_s = progress_every_s
        self.signals = tuple(signals)
        #: the handler that was there before ours for a signal that requeues (submitit's SIGUSR2)
        self._requeue_handlers: dict[int, Any] = {}
        self._pending: dict[str, Any] | None = None
        self._last_progress = 0.0
        self.preempted_by: str | None = None
        self._previous_handlers: dict[int, Any] = {}
        self._check_log_step = False

    # -- the saved state ----------------------------------------------------------------------
    def _at(self, trainer: L.Trainer) -> str:
        """Where a checkpoint being written stands: between epochs, mid-epoch, or elsewhere (a
        top-k file written after validation)."""
        ckpt = trainer.checkpoint_callback
        at = getattr(ckpt, "saving_last_at", None)
        if at in ("epoch_start", "train_end"):
            return "epoch_start"
        if at == "preempted":
            done = trainer.fit_loop.epoch_loop.batch_progress.current.completed
            return "epoch_start" if done >= trainer.num_training_batches else "batch_end"
        return "validation_end"

    def state_dict(self) -> dict[str, Any]:
        trainer = self._trainer
        return {"rng": _gather(trainer, rng_state()), "at": self._at(trainer)}

    def on_save_checkpoint(
        self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        if self._at(trainer) == "epoch_start":
            fresh_epoch(checkpoint.get("loops", {}).get("fit_loop"))

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._pending = dict(state_dict)

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        self._trainer = trainer
        if stage == "fit":
            self._install_signal_handlers(trainer)

    def teardown(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        for signum, handler in self._previous_handlers.items():
            signal.signal(signum, handler)
        self._previous_handlers = {}

    def _restore(self, trainer: L.Trainer, where: str) -> None:
        if self._pending is None:
            return
        states = self._pending["rng"]
        rank = trainer.global_rank
        if len(states) != trainer.world_size:
            log.warning(
                "the checkpoint holds the random state of %d ranks and this run has %d: training resumes, but "
                "not bit for bit", len(states), trainer.world_size,
            )  # fmt: skip
        set_rng_state(states[min(rank, len(states) - 1)])
        self._pending = None
        log.info("random state restored (%s)", where)

    # -- where the state goes back ------------------------------------------------------------
    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._report_redone(trainer)
        if self._pending is not None and self._pending.get("at") == "batch_end":
            # resumed mid-epoch: the epoch continues with its next unseen sample. dfd's datamodules
            # set the sampler's skip when they build the loader (before its workers draw indices)
            done = trainer.fit_loop.epoch_loop.batch_progress.current.completed
            sampler = getattr(trainer.train_dataloader, "sampler", None)
            if done and getattr(sampler, "resumed_mid_epoch", False):
                # Lightning warns that a plain DataLoader cannot resume mid-epoch; this sampler does
                warnings.filterwarnings(
                    "ignore", message=r"You're resuming from a checkpoint that ended before"
                )
            elif done and hasattr(sampler, "skip"):
                sampler.skip = done * int(
                    trainer.train_dataloader.batch_size or 1
                )  # a loader built elsewhere
            elif done:
                log.warning("resumed after %d batches of epoch %d with a sampler that cannot skip them: the epoch "
                            "restarts from its first batch", done, trainer.current_epoch)  # fmt: skip

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self._pending is not None and self._pending.get("at") == "epoch_start":
            self._restore(trainer, f"start of epoch {trainer.current_epoch}")
            self._check_log_step = True

    def on_train_batch_start(
        self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        if self._pending is not None:
            self._restore(trainer, f"epoch {trainer.current_epoch}, batch {batch_idx}")
        if self._check_log_step:
            # Lightning adds one to its logging step when it restarts a loop, assuming a checkpoint
            # written mid-epoch; from an epoch-start checkpoint the step must stay the global step, or
            # every later metric would be logged one step late
            self._check_log_step = False
            loop = trainer.fit_loop.epoch_loop
            if not loop._should_accumulate() and loop._batches_that_stepped != trainer.global_step:
                loop._batches_that_stepped = trainer.global_step

    # -- progress ---------------------------------------------------------------------------
    def _dir(self, trainer: L.Trainer) -> Path | None:
        ckpt = trainer.checkpoint_callback
        return Path(ckpt.dirpath) if isinstance(ckpt, ModelCheckpoint) and ckpt.dirpath else None

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        now = time.monotonic()
        folder = self._dir(trainer)
        if folder is None or not trainer.is_global_zero or now - self._last_progress < self.progress_every_s:
            return
        self._last_progress = now
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / (PROGRESS_FILE + ".tmp")
        tmp.write_text(json.dumps({"global_step": trainer.global_step, "epoch": trainer.current_epoch}))
        os.replace(tmp, folder / PROGRESS_FILE)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._last_progress = 0.0  # an epoch's end is always recorded
        self.on_train_batch_end(trainer, pl_module, None, None, -1)

    def _report_redone(self, trainer: L.Trainer) -> None:
        folder = self._dir(trainer)
        if folder is None or not trainer.is_global_zero or trainer.global_step == 0:
            return
        progress = folder / PROGRESS_FILE
        if progress.is_file():
            reached = int(json.loads(progress.read_text()).get("global_step", 0))
            redone = max(reached - trainer.global_step, 0)
            log.warning(
                "resumed at step %d (epoch %d); the interrupted run had reached step %d: %d steps are redone",
                trainer.global_step, trainer.current_epoch, reached, redone,
            )  # fmt: skip
        preempted = folder / PREEMPTED_FILE
        if preempted.is_file():
            preempted.unlink()

    # -- preemption ---------------------------------------------------------------------------
    def _install_signal_handlers(self, trainer: L.Trainer) -> None:
        """SIGUSR1 outside SLURM's auto-requeue means "stop and save" like SIGTERM (Lightning handles
        SIGTERM itself, and SIGUSR1 when its SLURM plugin requeues). SIGUSR2 is taken only when a
        handler is already there (submitit's), which :meth:`hand_over` calls after the save."""
        from lightning.fabric.plugins.environments import SLURMEnvironment

        def stop(signum: int, frame: Any) -> None:
            self.preempted_by = signal.Signals(signum).name
            trainer._signal_connector.received_sigterm = True  # Lightning stops after this batch

        env = trainer._accelerator_connector.cluster_environment
        lightning_requeues = isinstance(env, SLURMEnvironment) and env.auto_requeue
        if "SIGUSR1" in self.signals and hasattr(signal, "SIGUSR1") and not lightning_requeues:
            self._previous_handlers[signal.SIGUSR1] = signal.signal(signal.SIGUSR1, stop)
        if "SIGUSR2" in self.signals and hasattr(signal, "SIGUSR2"):
            previous = signal.getsignal(signal.SIGUSR2)
            if callable(previous):
                self._previous_handlers[signal.SIGUSR2] = signal.signal(signal.SIGUSR2, stop)
                self._requeue_handlers[signal.SIGUSR2] = previous

    def hand_over(self) -> None:
        """After a preemption has been saved: call the handler that owned the signal before this
        callback (submitit's, which requeues the job and exits). Nothing when there was none."""
        if self.preempted_by is None:
            return
        signum = signal.Signals[self.preempted_by]
        handler = self._requeue_handlers.get(signum)
        if handler is not None:
            log.warning("handing %s over to the job's launcher, which requeues it", self.preempted_by)
            handler(signum, None)

    def on_exception(
        self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException
    ) -> None:
        if not isinstance(exception, SIGTERMException):
            return
        self.preempted_by = self.preempted_by or "SIGTERM"
        ckpt = trainer.checkpoint_callback
        path = ckpt.write_last(trainer, "preempted") if isinstance(ckpt, ModelCheckpoint) else None
        flush_loggers(trainer)
        folder = self._dir(trainer)
        if folder is not None and trainer.is_global_zero:
            (folder / PREEMPTED_FILE).write_text(json.dumps({
                "signal": self.preempted_by, "global_step": trainer.global_step, "epoch": trainer.current_epoch,
                "checkpoint": str(path) if path else None, "time": time.strftime("%Y-%m-%d %H:%M:%S"),
            }))  # fmt: skip
        log.warning("%s: saved %s at epoch %d, step %d; resume with ckpt_path=auto (or this file)",
                    self.preempted_by, path, trainer.current_epoch, trainer.global_step)  # fmt: skip
