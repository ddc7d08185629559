"""The SLURM launcher presets: the sbatch script submitit would submit for a DDP sweep and for
preprocessing shards (built by submitit itself, from the composed Hydra config), and a clear error
when the job cannot be sized."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import OmegaConf

from dfd.config.instantiate import register_resolvers
from tests.conftest import CONF


def sbatch_script(config_name: str, overrides: list[str], tmp_path: Path, monkeypatch) -> str:
    """The sbatch file submitit writes for one job of ``python -m dfd.<config_name> -m <overrides>``
    (the launcher's own parameter mapping; a stand-in ``srun`` lets submitit build it off-cluster)."""
    import submitit
    from hydra_plugins.hydra_submitit_launcher.config import BaseQueueConf

    register_resolvers()
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(CONF)):
            cfg = compose(config_name=config_name, overrides=overrides, return_hydra_config=True)
        HydraConfig.instance().set_config(cfg)
        params = OmegaConf.to_container(cfg.hydra.launcher, resolve=True)
    finally:
        GlobalHydra.instance().clear()
    assert params.pop("_target_").endswith("SlurmLauncher")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "srun").write_text("#!/bin/sh\nexit 0\n")
    (bin_dir / "srun").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    params.pop("submitit_folder")
    executor = submitit.AutoExecutor(
        folder=tmp_path / "submitit", cluster="slurm", slurm_max_num_timeout=params.pop("max_num_timeout")
    )
    base = set(OmegaConf.structured(BaseQueueConf).keys())
    executor.update_parameters(**{k if k in base else f"slurm_{k}": v for k, v in params.items()})
    return executor._executor._make_submission_file_text("python -m dfd.train", "uid")


def test_ddp_preset_asks_slurm_for_one_task_per_gpu_and_a_requeue_signal(tmp_path, monkeypatch):
    script = sbatch_script(
        "train",
        ["hydra/launcher=slurm_ddp", "trainer=ddp", "trainer.devices=4", "trainer.num_nodes=2",
         "hydra.launcher.partition=gpu"],
        tmp_path, monkeypatch,
    )  # fmt: skip
    for line in ("--nodes=2", "--ntasks-per-node=4", "--gpus-per-node=4", "--signal=USR2@180",
                 "--partition=gpu", "--time=1440", "--job-name=train"):  # fmt: skip
        assert f"#SBATCH {line}\n" in script
    assert "srun --unbuffered" in script  # one task per GPU, started by srun


def test_a_single_gpu_run_is_one_task(tmp_path, monkeypatch):
    script = sbatch_script("train", ["hydra/launcher=slurm_ddp", "trainer=gpu"], tmp_path, monkeypatch)
    assert "#SBATCH --ntasks-per-node=1\n" in script and "#SBATCH --gpus-per-node=1\n" in script


def test_cpu_preset_for_preprocessing_shards_asks_for_no_gpu(tmp_path, monkeypatch):
    script = sbatch_script(
        "preprocess", ["hydra/launcher=slurm_cpu", "hydra.launcher.cpus_per_task=16"], tmp_path, monkeypatch
    )
    assert "#SBATCH --cpus-per-task=16\n" in script and "gpus" not in script
    assert "#SBATCH --signal=USR2@120\n" in script


def test_devices_auto_cannot_size_a_slurm_job_and_the_error_says_what_to_set(tmp_path, monkeypatch):
    with pytest.raises(
        Exception, match=r"trainer\.devices, which is 'auto': set trainer\.devices=<a number>"
    ):
        sbatch_script("train", ["hydra/launcher=slurm_ddp", "trainer=ddp"], tmp_path, monkeypatch)
