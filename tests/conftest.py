"""Shared fixtures: configs composed the way ``dfd.train`` composes them, made cheap for tests.

Every composed config runs on CPU with ``num_workers=0``, a tiny synthetic dataset shared by
the whole session, and ``paths.output_dir`` inside the test's ``tmp_path``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import DictConfig, open_dict

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "conf"

#: A small synthetic dataset: 24 videos × 4 frames of 64 px (val and test have an even size).
TINY_DATA = [
    "data.num_videos=24",
    "data.frames_per_video=4",
    "data.image_size=64",
    "data.batch_size=8",
]


def _test_overrides(tmp: Path, data_dir: Path) -> list[str]:
    return [
        f"paths.root_dir={ROOT}",
        f"paths.data_dir={data_dir}",
        f"paths.log_dir={tmp}",
        f"paths.output_dir={tmp}",
        f"paths.work_dir={ROOT}",
        "trainer.accelerator=cpu",
        "trainer.devices=1",
        "trainer.max_epochs=1",
        "trainer.enable_model_summary=false",
        "trainer.num_sanity_val_steps=0",
    ]


def compose_config(config_name: str, overrides: list[str]) -> DictConfig:
    """Compose ``conf/<config_name>.yaml`` with overrides; leaves no global Hydra state behind."""
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(CONF)):
            return compose(config_name=config_name, overrides=overrides)
    finally:
        GlobalHydra.instance().clear()


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One data folder for the session, so the synthetic crops are generated once."""
    return tmp_path_factory.mktemp("data")


@pytest.fixture
def make_cfg(tmp_path: Path, data_dir: Path) -> Callable[..., DictConfig]:
    """``make_cfg(overrides, config_name="train", tiny=True)`` → a composed test config."""

    def _make(
        overrides: list[str] | None = None, config_name: str = "train", tiny: bool = True, quiet: bool = True
    ) -> DictConfig:
        base = _test_overrides(tmp_path, data_dir)
        if config_name != "train":
            base = [o for o in base if not o.startswith("trainer.num_sanity")]
        data = TINY_DATA if tiny else []
        cfg = compose_config(config_name, base + data + list(overrides or []))
        with open_dict(cfg):
            if quiet and cfg.get("callbacks"):
                cfg.callbacks.pop("rich_progress_bar", None)  # plain logs in test output
            if "data" in cfg and cfg.data is not None and "num_workers" in cfg.data:
                cfg.data.num_workers = 0
                cfg.data.pin_memory = False
        return cfg

    return _make


def run_module(
    module: str, args: list[str], cwd: Path = ROOT, timeout: float = 600
) -> subprocess.CompletedProcess:
    """Run ``python -m <module> <args>`` as a user would; returns the completed process."""
    env = dict(os.environ, HF_HUB_OFFLINE="1", NO_ALBUMENTATIONS_UPDATE="1", PYTHONWARNINGS="ignore")
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def cli_overrides(tmp: Path, data_dir: Path) -> list[str]:
    """Command-line overrides that keep a subprocess run tiny and inside ``tmp``."""
    return [
        f"paths.data_dir={data_dir}",
        f"paths.log_dir={tmp}",
        "trainer.accelerator=cpu",
        "trainer.enable_model_summary=false",
        "callbacks.rich_progress_bar=null",
        "data.num_workers=0",
        *TINY_DATA,
    ]


@pytest.fixture(scope="session")
def raw_image_trees(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    """Overrides pointing the image-list data configs (which read their layout when built) at
    small generated trees: ``{"folder": ["data.raw_dir=…"], "deepfakebench": [...]}``."""
    from dfd.data import mini

    spec = mini.VideoSpec(width=192, height=144, n_frames=8, fps=8)
    folder = mini.make_folder(tmp_path_factory.mktemp("raw") / "folder", n_images=10, n_videos=0, spec=spec)
    dfb = mini.make_deepfakebench(
        tmp_path_factory.mktemp("raw") / "DeepfakeBench", n_videos=4, frames_per_video=2, spec=spec
    )
    return {"folder": [f"data.raw_dir={folder}"], "deepfakebench": [f"data.raw_dir={dfb}"]}
