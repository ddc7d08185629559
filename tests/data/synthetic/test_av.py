"""Synthetic AV clips: real clips in sync, fakes not; each modality alone uninformative; silence trimming."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from dfd.core.input_spec import InputSpec
from dfd.data.synthetic.av import FAKE_METHODS, SyntheticAVDataModule, make_video
from dfd.preprocessing.manifest import read_manifest


def _mouth_and_loudness(sample: dict) -> tuple[torch.Tensor, torch.Tensor]:
    video, audio = sample["video"], sample["audio"][0]
    mouth = -video[:, :, 19:27, 10:22].mean((1, 2, 3))  # the mouth is dark: darker = more open
    loud = audio.mean(0)[: 4 * len(mouth)].reshape(len(mouth), 4).mean(1)
    return mouth, loud


def test_synthetic_av_real_clips_are_in_sync_and_fakes_are_not(av_clips: SyntheticAVDataModule) -> None:
    ds = av_clips.datasets["train"]
    corr = {0: [], 1: []}
    for i in range(len(ds)):
        mouth, loud = _mouth_and_loudness(ds[i])
        corr[int(ds.labels[i])].append(float(torch.corrcoef(torch.stack([mouth, loud]))[0, 1]))
    assert np.mean(corr[0]) > 0.7 and np.mean(corr[1]) < 0.3, corr
    sample = ds[0]
    assert sample["video"].shape == (8, 3, 32, 32) and sample["audio"].shape == (1, 32, 32)


def test_synthetic_av_modalities_alone_look_alike() -> None:
    """Per-modality statistics of real and fake videos agree: only their pairing differs."""
    stats: dict[int, list[list[float]]] = {0: [], 1: []}
    for vid in range(240):
        label, method = vid % 2, FAKE_METHODS[(vid // 2) % 3]
        frames, audio = make_video(np.random.default_rng([7, vid]), label, method, 8, 32, 25.0, 0.0)
        mouth = -frames[:, 19:27, 10:22].astype(np.float32).mean((1, 2, 3))
        loud = np.sqrt((audio.reshape(8, -1) ** 2).mean(1))
        stats[label].append([mouth.mean(), mouth.std(), loud.mean(), loud.std()])
    real, fake = np.array(stats[0]), np.array(stats[1])
    spread = np.concatenate([real, fake]).std(0)
    # 120 videos per class: the standard error of a mean difference is about 0.13 spreads
    assert (np.abs(real.mean(0) - fake.mean(0)) < 0.4 * spread).all(), (real.mean(0), fake.mean(0), spread)


def test_trim_leading_silence_moves_fake_clips_past_it(tmp_path: Path) -> None:
    common = dict(
        num_videos=12, frames_per_video=24, fake_leading_silence=0.3, n_mels=32, input_spec=InputSpec(32)
    )
    for trim in (False, True):
        dm = SyntheticAVDataModule(str(tmp_path), trim_leading_silence=trim, **common)
        dm.prepare_data()
        rows, meta = read_manifest(dm.root)
        starts = rows[rows["label"] == 1]["frame_idx"]
        assert meta["trim_leading_silence"] is trim
        # 0.3 s at 25 fps = 7.5 frames: clips start at frame 8 or later once trimmed
        assert (starts >= 8).all() if trim else (starts == 0).all()
        assert (rows[rows["label"] == 0]["frame_idx"] == 0).all()
