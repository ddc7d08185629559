"""FoundationNet resumes exactly: a ``lora`` (and ``svd``) run stopped after its first epoch and resumed
from ``last.ckpt`` ends with the weights of the run that was never stopped, bit for bit."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

from tests.conftest import cli_overrides, run_main

pytestmark = pytest.mark.slow

HAS_SVD = importlib.util.find_spec("dfd.models.svd_residual") is not None


def _train(tmp: Path, data_dir: Path, run: str, tuning: str, *extra: str) -> Path:
    """A deterministic foundation run in ``tmp/<run>``; returns its directory."""
    out = tmp / run
    proc = run_main(
        "dfd.train",
        [*cli_overrides(tmp, data_dir), f"hydra.run.dir={out}", "model=foundation",
         "model.backbone=vit_tiny_patch16_224", "model.pretrained=false", f"model.tuning={tuning}",
         "model.net.input_size=32", "model.net.lora_dropout=0.1", "model.net.svd_orthogonal_weight=0.1",
         "model.net.svd_singular_weight=0.1", "model/scheduler=step", "data.batch_size=8", "seed=3",
         "trainer.deterministic=true", "test=false", "callbacks.early_stopping=null", *extra],
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out


def _weights(run: Path) -> tuple[dict[str, torch.Tensor], int, int]:
    ckpt = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)
    return ckpt["state_dict"], ckpt["epoch"], ckpt["global_step"]


@pytest.mark.parametrize(
    "tuning",
    [
        "lora",
        pytest.param(
            "svd", marks=pytest.mark.skipif(not HAS_SVD, reason="dfd.models.svd_residual is not here yet")
        ),
    ],
)
def test_a_stopped_run_resumes_to_the_uninterrupted_runs_weights(
    tmp_path: Path, data_dir: Path, tuning: str
) -> None:
    reference = _train(tmp_path, data_dir, "reference", tuning, "trainer.max_epochs=2")
    stopped = _train(tmp_path, data_dir, "stopped", tuning, "trainer.max_epochs=1")
    first, epoch, _ = _weights(stopped)
    assert epoch == 1
    _train(tmp_path, data_dir, "stopped", tuning, "trainer.max_epochs=2",
           f"ckpt_path={stopped / 'checkpoints' / 'last.ckpt'}")  # fmt: skip
    (ref, *ref_at), (got, *at) = _weights(reference), _weights(stopped)
    assert at == ref_at and at[0] == 2
    assert ref.keys() == got.keys()
    adapters = [k for k in got if ("lora_" in k if tuning == "lora" else k.startswith("net.backbone."))]
    assert adapters and any(
        not torch.equal(first[k], got[k]) for k in adapters
    )  # the second epoch trained them
    assert max((ref[k].float() - got[k].float()).abs().max().item() for k in ref) == 0.0
