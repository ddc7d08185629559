"""Tracking callbacks in real training runs: the augmentation figure, the validation mistakes,
weight and gradient histograms, device statistics; and none of them changes what is trained."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from omegaconf import open_dict
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from dfd.callbacks.tracking import ValidationMistakes
from dfd.training.tasks import train


def _tags(run: Path) -> dict[str, dict[str, list[int]]]:
    """``{kind: {tag: steps}}`` of every TensorBoard event file of the run."""
    out: dict[str, dict[str, list[int]]] = {"images": {}, "histograms": {}, "scalars": {}}
    for events in sorted((run / "tensorboard").glob("events.out.tfevents.*")):
        acc = EventAccumulator(str(events), size_guidance={"images": 0, "histograms": 0, "scalars": 0})
        acc.Reload()
        for kind, read in (("images", acc.Images), ("histograms", acc.Histograms), ("scalars", acc.Scalars)):
            for tag in acc.Tags()[kind]:
                out[kind].setdefault(tag, []).extend(e.step for e in read(tag))
    return out


def test_the_most_confident_mistakes_come_first_and_only_mistakes():
    cb = ValidationMistakes(k=3)
    probs = torch.tensor([0.9, 0.2, 0.6, 0.1, 0.45, 0.99])
    labels = torch.tensor([0.0, 0.0, 0.0, 1.0, 1.0, 1.0])
    chosen = cb.select(probs, labels, index=torch.tensor([10, 11, 12, 13, 14, 15]))
    # wrong: 10 (real, 0.9), 12 (real, 0.6), 13 (fake, 0.1), 14 (fake, 0.45); most sure: 10 and 13 (0.4), then 12
    assert [i for i, _, _ in chosen] in ([10, 13, 12], [13, 10, 12])
    assert all((p >= 0.5) != (lab == 1) for _, lab, p in chosen)
    assert (
        ValidationMistakes(k=5).select(torch.tensor([0.1, 0.9]), torch.tensor([0.0, 1.0]), torch.arange(2))
        == []
    )


@pytest.mark.slow  # over 5 s: a training run or a subprocess (docs/testing.md, Tiers)
def test_a_run_draws_its_augmentations_and_mistakes_and_histograms_when_asked(make_cfg, tmp_path: Path):
    cfg = make_cfg(
        ["trainer.max_epochs=2", "augment=[strong,mixup]", "callbacks.parameter_histograms.every_n_epochs=1"]
    )
    train(cfg)
    report = tmp_path / "report"
    assert (report / "augmentations.png").stat().st_size > 10_000
    assert (report / "val_mistakes.png").stat().st_size > 5_000
    tags = _tags(tmp_path)
    assert tags["images"]["data/augmentations"] == [0]
    assert sorted(tags["images"]["val/mistakes"]) == [0, 1]  # one grid per epoch
    weights = {t for t in tags["histograms"] if t.startswith("weights/")}
    grads = {t for t in tags["histograms"] if t.startswith("gradients/")}
    state = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]
    buffers = ("running_mean", "running_var", "num_batches_tracked")
    params = {f"weights/{k}" for k in state if k.startswith("net.") and not k.endswith(buffers)}
    assert weights == params  # every trainable tensor of the net
    assert {t.split("/", 1)[1] for t in grads} == {t.split("/", 1)[1] for t in weights}
    assert all(sorted(tags["histograms"][t]) == [0, 1] for t in weights | grads)


@pytest.mark.slow  # over 5 s: a training run or a subprocess (docs/testing.md, Tiers)
def test_histograms_are_off_by_default_and_device_stats_are_an_option(make_cfg, tmp_path: Path):
    cfg = make_cfg(["callbacks=[default,device_stats]", "trainer.log_every_n_steps=1"])
    with open_dict(cfg):
        cfg.callbacks.pop("rich_progress_bar", None)
    train(cfg)
    tags = _tags(tmp_path)
    assert not tags["histograms"]
    stats = [t for t in tags["scalars"] if t.startswith("DeviceStatsMonitor")]
    assert any("cpu_percent" in t for t in stats), sorted(tags["scalars"])[:20]


def _final_weights(make_cfg, tmp_path: Path, name: str, drop: tuple[str, ...]) -> dict[str, torch.Tensor]:
    run = tmp_path / name
    cfg = make_cfg(["trainer.max_epochs=2", "augment=[default,cutmix]", "trainer.deterministic=true",
                    f"paths.output_dir={run}", "test=false"])  # fmt: skip
    with open_dict(cfg):
        for key in drop:
            cfg.callbacks.pop(key)
    train(cfg)
    return torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]


@pytest.mark.slow  # over 5 s: a training run or a subprocess (docs/testing.md, Tiers)
def test_the_figures_change_nothing_that_is_trained(make_cfg, tmp_path: Path):
    with_figures = _final_weights(make_cfg, tmp_path, "with", ())
    without = _final_weights(make_cfg, tmp_path, "without", ("augmentation_preview", "val_mistakes"))
    assert with_figures.keys() == without.keys()
    assert all(torch.equal(with_figures[k], without[k]) for k in with_figures)
