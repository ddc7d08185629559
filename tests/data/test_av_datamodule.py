"""Audio-visual clips: augmentation seeded per sample from ``(seed, epoch, index)``, as for face
crops, so a resumed run (or another worker, or another rank) augments each clip as the
uninterrupted run did."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import pytest
import torch

from dfd.core.input_spec import InputSpec
from dfd.data.samplers import RandomSampler
from dfd.data.synthetic.av import SyntheticAVDataModule

#: what each modality's augmented input is called in a sample
AUGMENTED = {"video": "video", "image": "image"}


@pytest.fixture(scope="module")
def av_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("av_seeded")
    _datamodule(root, "video").prepare_data()  # generated once, shared by every datamodule below
    return root


def _datamodule(root: Path, modality: str, **kw) -> SyntheticAVDataModule:
    """16 synthetic videos (10 training clips of 8 frames), 32 px, the default augmentation."""
    dm = SyntheticAVDataModule(
        str(root), num_videos=16, n_mels=32, input_spec=InputSpec(32), augment=True, modality=modality,
        batch_size=4, **kw,
    )  # fmt: skip
    dm.prepare_data()
    dm.setup()
    return dm


@pytest.mark.parametrize("modality", ["video", "image"])
def test_a_clip_is_augmented_from_its_epoch_and_index_alone(av_root: Path, modality: str) -> None:
    key = AUGMENTED[modality]
    first, second = (_datamodule(av_root, modality).datasets["train"] for _ in range(2))
    assert first.takes_epoch
    first.augment_seed = second.augment_seed = 5
    a = first[(3, 2)][key]
    second[(0, 7)], second[(4, 2)]  # the other pipeline has drawn other samples first
    assert torch.equal(second[(3, 2)][key], a)  # another instance: the same augmented sample
    assert torch.equal(first[(3, 2)][key], a)  # asked again after others: still the same
    assert not torch.equal(first[(4, 2)][key], a)  # another epoch: another draw
    # the pair names the same sample as its plain index
    assert first[(3, 2)]["index"] == 2 and first[(3, 2)]["label"] == first[2]["label"]


def _batches(loader) -> list[torch.Tensor]:
    return [batch["video"] for batch in loader]


def test_a_resumed_av_loader_draws_the_uninterrupted_runs_augmented_clips(av_root: Path) -> None:
    """The training loader of a run resumed at epoch 1 (a new datamodule and pipeline, the same
    seed) yields epoch 1's augmented clips of the uninterrupted run; resumed after epoch 1's first
    batch (the sampler's ``skip``), the rest of them."""

    def loader():
        torch.manual_seed(7)  # what seed_everything does in each run
        dm = _datamodule(av_root, "video", sampler=partial(RandomSampler, seed=7))
        return dm.train_dataloader()

    uninterrupted = loader()
    assert uninterrupted.sampler.tag_epoch and uninterrupted.dataset.augment_seed is not None
    epochs = []
    for epoch in range(2):
        uninterrupted.sampler.set_epoch(epoch)
        epochs.append(_batches(uninterrupted))
    assert not torch.equal(epochs[0][0], epochs[1][0])

    resumed = loader()
    resumed.sampler.set_epoch(1)
    got = _batches(resumed)
    assert len(got) == len(epochs[1]) == 3
    assert all(torch.equal(a, b) for a, b in zip(got, epochs[1], strict=True))

    mid_epoch = loader()
    mid_epoch.sampler.set_epoch(1)
    mid_epoch.sampler.skip = 4  # one batch of 4 was done before the checkpoint
    got = _batches(mid_epoch)
    assert len(got) == 2 and all(torch.equal(a, b) for a, b in zip(got, epochs[1][1:], strict=True))
