"""Training that survives anything: a real training subprocess killed (SIGKILL) or preempted
(SIGTERM) and resumed ends with the weights of an uninterrupted run, bit for bit, with every epoch
logged once; a finished run extends to more epochs without a jump in its learning rate.

Only the runs that are killed get a process of their own (the kill is under test); the references,
the resumed runs and the extended ones run ``dfd.train``'s ``main`` in the test process
(:func:`tests.conftest.run_main`), which saves a fresh interpreter's imports each.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import torch

from tests.conftest import ROOT, built_once, run_main, run_module

pytestmark = pytest.mark.slow

KILL = ["+callbacks.kill._target_=tests.killer.KillAt"]


def _train(run: Path, data: Path, *extra: str):
    return _dfd_train([f"paths.log_dir={run.parent}", f"hydra.run.dir={run}"], data, *extra)


def _dfd_train(where: list[str], data: Path, *extra: str):
    args = [
        *where, f"paths.data_dir={data}", "trainer.accelerator=cpu",
        "trainer.enable_model_summary=false", "callbacks.rich_progress_bar=null", "callbacks.early_stopping=null",
        "data.num_workers=0", "data.num_videos=24", "data.frames_per_video=4", "data.crop_size=64", "data.batch_size=8",
        "model.net.input_size=64", "trainer.max_epochs=4", "trainer.deterministic=true", "seed=7", "test=false",
        "logger=many", *extra,
    ]  # fmt: skip
    keys = [a.split("=", 1)[0] for a in args]
    args = [a for k, a in zip(keys, args, strict=True) if keys.count(k) == 1 or a in extra]  # extra wins
    import os

    env_key = "DFD_TRUSTED_TARGETS"
    old = os.environ.get(env_key)
    os.environ[env_key] = "tests.*"
    killed = any(a.startswith("+callbacks.kill.") for a in args)
    try:
        if killed:
            return run_module("dfd.train", args, cwd=ROOT)
        return run_main("dfd.train", args, cwd=ROOT, lightning_log=True)  # extend_schedule's rank_zero_info
    finally:
        if old is None:
            os.environ.pop(env_key)
        else:
            os.environ[env_key] = old


def _weights(run: Path) -> tuple[dict, int, int]:
    ckpt = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)
    return ckpt["state_dict"], ckpt["epoch"], ckpt["global_step"]


def _max_difference(a: dict, b: dict) -> float:
    return max((a[k].float() - b[k].float()).abs().max().item() for k in a)


def _csv(run: Path) -> pd.DataFrame:
    d = pd.read_csv(run / "csv" / "metrics.csv")
    return (
        d.sort_index(axis=1)
        .sort_values(["step", *sorted(c for c in d if c != "step")])
        .reset_index(drop=True)
    )


def _tensorboard_steps(run: Path, tag: str) -> list[int]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run / "tensorboard"))
    events.Reload()
    return [e.step for e in events.Scalars(tag)]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> tuple[Path, Path]:
    def build(root: Path) -> tuple[Path, Path]:
        proc = _train(root / "reference", root / "data")
        assert proc.returncode == 0, proc.stderr[-3000:]
        return root / "reference", root / "data"

    return built_once(tmp_path_factory, "resume", build)


def test_a_run_killed_after_its_second_epoch_resumes_bit_for_bit_with_every_epoch_logged_once(
    uninterrupted, tmp_path
):
    reference, data = uninterrupted
    run = tmp_path / "killed"
    killed = _train(run, data, *KILL, "+callbacks.kill.epoch=2")
    assert killed.returncode == -9  # SIGKILL: nothing ran after the kill
    assert _weights(run)[1:] == (2, 14)  # last.ckpt: the start of the third epoch
    resumed = _train(run, data, f"ckpt_path={run / 'checkpoints' / 'last.ckpt'}")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    (ref, ref_epoch, ref_step), (got, epoch, step) = _weights(reference), _weights(run)
    assert (epoch, step) == (ref_epoch, ref_step) == (4, 28)
    assert _max_difference(ref, got) == 0.0
    # no log lost, none doubled: the CSV rows and the TensorBoard points are the uninterrupted run's
    pd.testing.assert_frame_equal(_csv(run), _csv(reference), check_exact=False, rtol=1e-6)
    for tag in ("val/auc", "train/loss_epoch", "lr-Adam", "val/threshold_f1"):
        assert _tensorboard_steps(run, tag) == _tensorboard_steps(reference, tag)
    assert len(_tensorboard_steps(run, "val/auc")) == 4


def test_loader_workers_draw_the_resumed_epochs_samples_in_its_own_order(uninterrupted, tmp_path):
    """Workers prefetch indices the moment Lightning builds the iterator, before it sets the first
    resumed epoch on the sampler: the datamodule sets it first. Two workers, killed after epoch 2,
    resumed: the weights of the uninterrupted single-process run (per-sample seeds make the
    number of workers irrelevant)."""
    reference, data = uninterrupted
    run = tmp_path / "workers"
    killed = _train(run, data, "data.num_workers=2", *KILL, "+callbacks.kill.epoch=2")
    assert killed.returncode == -9
    resumed = _train(run, data, "data.num_workers=2", "ckpt_path=auto")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert _max_difference(_weights(reference)[0], _weights(run)[0]) == 0.0


def test_sigterm_mid_epoch_saves_exits_75_and_auto_resumes_exactly(uninterrupted, tmp_path):
    reference, data = uninterrupted
    run = tmp_path / "preempted"
    preempted = _train(run, data, *KILL, "+callbacks.kill.epoch=2", "+callbacks.kill.batch=3",
                       "+callbacks.kill.signal_name=SIGTERM")  # fmt: skip
    assert preempted.returncode == 75, preempted.stderr[-3000:]
    record = json.loads((run / "checkpoints" / "preempted.json").read_text())
    assert record["signal"] == "SIGTERM" and record["global_step"] == 18 and record["epoch"] == 2
    assert _weights(run)[2] == 18  # saved at once, mid-epoch
    resumed = _train(run, data, "ckpt_path=auto")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    out = resumed.stdout + resumed.stderr
    assert "ckpt_path=auto: resuming" in out and "resumed at step 18 (epoch 2)" in out
    assert _max_difference(_weights(reference)[0], _weights(run)[0]) == 0.0
    assert not (run / "checkpoints" / "preempted.json").exists()
    # ckpt_path=auto in a fresh directory starts fresh
    fresh = _train(tmp_path / "fresh", data, "ckpt_path=auto", "trainer.max_epochs=1")
    assert fresh.returncode == 0 and "starting fresh" in fresh.stdout + fresh.stderr


def test_a_kill_mid_epoch_resumes_from_the_last_checkpoint_and_says_what_is_redone(uninterrupted, tmp_path):
    reference, data = uninterrupted
    run = tmp_path / "killed_mid_epoch"
    every_step = "callbacks.resume_state.progress_every_s=0"
    killed = _train(run, data, every_step, *KILL, "+callbacks.kill.epoch=2", "+callbacks.kill.batch=3")
    assert killed.returncode == -9
    resumed = _train(run, data, every_step, "ckpt_path=auto")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "the interrupted run had reached step 18: 4 steps are redone" in resumed.stdout + resumed.stderr
    assert _max_difference(_weights(reference)[0], _weights(run)[0]) == 0.0


def test_a_submitit_job_preempted_mid_epoch_is_requeued_and_ends_as_if_never_interrupted(
    uninterrupted, tmp_path
):
    """The cluster path end to end, with submitit's local executor standing in for SLURM: a two-job
    sweep in which job 0 gets SIGUSR2 (SLURM's preemption and time-out signal under submitit) in
    the middle of epoch 2. It saves, submitit requeues it, it resumes in the same directory, and
    both jobs end with the uninterrupted run's weights."""
    reference, data = uninterrupted
    logs = tmp_path / "logs"
    once = tmp_path / "signal_sent"
    sweep = _dfd_train(
        ["-m", "hydra/launcher=submitit_local", f"paths.log_dir={logs}", "ckpt_path=auto"], data,
        *KILL, "+callbacks.kill.batch=3", "+callbacks.kill.signal_name=SIGUSR2", f"+callbacks.kill.once={once}",
        "+callbacks.kill.epoch=2,99",  # job 0 is preempted in epoch 2; job 1 never is
    )  # fmt: skip
    assert sweep.returncode == 0, sweep.stderr[-3000:]
    (sweep_dir,) = list((logs / "train" / "multiruns").iterdir())  # the requeued job found its directory
    submitit_log = "\n".join(p.read_text() for p in (sweep_dir / ".submitit").rglob("*_log.*"))
    assert "Requeued job" in submitit_log
    job0 = (sweep_dir / "0" / "train.log").read_text()
    assert "SIGUSR2: saved" in job0 and "resumed at step 18 (epoch 2)" in job0
    assert not (sweep_dir / "0" / "checkpoints" / "preempted.json").exists()
    for job in ("0", "1"):
        state, epoch, step = _weights(sweep_dir / job)
        assert (epoch, step) == (4, 28)
        assert _max_difference(_weights(reference)[0], state) == 0.0
    assert "resumed" not in (sweep_dir / "1" / "train.log").read_text()


def test_extending_a_run_continues_its_learning_rate_without_a_jump_or_a_climb(tmp_path):
    data = tmp_path / "data"
    run = tmp_path / "extended"
    # a cosine planned over 10 epochs, stopped after 3, then continued to 6 epochs
    first = _train(
        run, data, "trainer.max_epochs=3", "model.scheduler.T_max=10", "trainer.deterministic=false"
    )
    assert first.returncode == 0, first.stderr[-3000:]
    more = _train(run, data, f"ckpt_path={run / 'checkpoints' / 'last.ckpt'}", "trainer.max_epochs=6",
                  "extend_schedule=true", "trainer.deterministic=false")  # fmt: skip
    assert more.returncode == 0, more.stderr[-3000:]
    assert "extend_schedule: the learning rate goes on from" in more.stdout + more.stderr
    lr = (
        pd.read_csv(run / "csv" / "metrics.csv")
        .dropna(subset=["lr-Adam"])
        .sort_values("step")["lr-Adam"]
        .tolist()
    )
    assert len(lr) == 6  # one value per epoch, each logged once
    cosine_10 = [
        1e-6 + (1e-3 - 1e-6) * 0.5 * (1 + __import__("math").cos(__import__("math").pi * e / 10))
        for e in range(4)
    ]
    assert lr[:4] == pytest.approx(cosine_10)  # epoch 3 goes on at the restored rate: no jump
    assert all(b <= a for a, b in zip(lr, lr[1:], strict=False))  # never climbs
    assert lr[-1] < 0.3 * lr[3]  # and anneals towards eta_min by the new last epoch


def test_bf16_mixed_precision_trains_and_resumes_on_cpu(tmp_path):
    data = tmp_path / "data"
    run = tmp_path / "bf16"
    first = _train(
        run, data, "trainer.precision=bf16-mixed", "trainer.max_epochs=2", "trainer.deterministic=false"
    )
    assert first.returncode == 0, first.stderr[-3000:]
    more = _train(run, data, "trainer.precision=bf16-mixed", "trainer.max_epochs=3", "trainer.deterministic=false",
                  f"ckpt_path={run / 'checkpoints' / 'last.ckpt'}")  # fmt: skip
    assert more.returncode == 0, more.stderr[-3000:]
    state, epoch, step = _weights(run)
    assert (epoch, step) == (3, 21) and all(torch.isfinite(v.float()).all() for v in state.values())
    losses = pd.read_csv(run / "csv" / "metrics.csv").dropna(subset=["train/loss_epoch"])["train/loss_epoch"]
    assert len(losses) == 3 and losses.notna().all()


def test_an_audio_visual_run_killed_after_its_second_epoch_resumes_bit_for_bit(tmp_path):
    """AVFF on synthetic audio-visual clips, augmented and shuffled: each clip's augmentation is
    seeded from (seed, epoch, index) as a face crop's is, so the resumed run's last epoch is the
    uninterrupted run's."""
    data = tmp_path / "data"
    av = ["data=synthetic_av", "model=avff_tiny", "data.num_videos=40", "data.frames_per_video=16",
          "data.crop_size=32", "model.net.input_size=32", "trainer.max_epochs=3", "logger=csv"]  # fmt: skip
    reference = _train(tmp_path / "reference", data, *av)
    assert reference.returncode == 0, reference.stderr[-3000:]
    run = tmp_path / "killed"
    killed = _train(run, data, *av, *KILL, "+callbacks.kill.epoch=2")
    assert killed.returncode == -9
    resumed = _train(run, data, *av, "ckpt_path=auto")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    (ref, ref_epoch, ref_step), (got, epoch, step) = _weights(tmp_path / "reference"), _weights(run)
    assert (epoch, step) == (ref_epoch, ref_step) == (3, 9)
    assert _max_difference(ref, got) == 0.0


def test_a_sam_run_killed_after_its_first_epoch_resumes_bit_for_bit(tmp_path):
    """SAM's state is its base SGD's (momentum buffers), which the checkpoint holds: resumed, the run
    ends with the weights of the uninterrupted one."""
    data = tmp_path / "data"
    sam = ("model/optimizer=sam", "trainer.max_epochs=2")
    reference = _train(tmp_path / "reference", data, *sam)
    assert reference.returncode == 0, reference.stderr[-3000:]
    run = tmp_path / "killed"
    killed = _train(run, data, *sam, *KILL, "+callbacks.kill.epoch=1")
    assert killed.returncode == -9
    assert _weights(run)[1:] == (1, 7)
    resumed = _train(run, data, *sam, f"ckpt_path={run / 'checkpoints' / 'last.ckpt'}")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    (ref, *ref_at), (got, *at) = _weights(tmp_path / "reference"), _weights(run)
    assert at == ref_at == [2, 14]
    assert _max_difference(ref, got) == 0.0
    momentum = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)["optimizer_states"][0]
    assert momentum["param_groups"][0]["rho"] == 0.05 and "momentum_buffer" in momentum["state"][0]
