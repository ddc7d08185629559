"""Synthetic audio-visual clips, ``data=synthetic_av``: a task that needs both modalities.

Each video is a talking face and a voiced tone. A syllable envelope drives both: in a real
video the mouth opening of frame i equals the loudness of the audio at frame i. Fakes break
only that correspondence, in the ways audio-visual deepfakes do (cf. FakeAVCeleb's
RealVideo-FakeAudio and FakeVideo-RealAudio categories; Khalid et al., NeurIPS 2021 D&B):

* ``shift``: the audio is shifted in time against the video (lip-sync offset);
* ``swap``: the audio comes from another utterance and another voice;
* ``face``: the face is reenacted: its mouth follows another utterance, the audio is real.

Every face and every audio track on its own is drawn from the same distribution for real and
fake videos, so neither modality alone separates the classes (an audio-zeroed or video-only
detector sits at chance) while their correspondence does. Optionally fakes start with
``fake_leading_silence`` seconds of silence to reproduce FakeAVCeleb's shortcut, which
``trim_leading_silence`` removes when clips are cut.

Clips are written in dfd's clip format (:mod:`dfd.preprocessing.clips`) and cached under
``${paths.data_dir}/synthetic_av/<tag>/``; :class:`SyntheticAVDataModule` reads them with the
same :class:`~dfd.data.av_datamodule.AVClipDataModule` as preprocessed real datasets.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pandas as pd
from tqdm import tqdm

from dfd.data.av_datamodule import AVClipDataModule
from dfd.preprocessing.clips import cut_clips
from dfd.preprocessing.manifest import build_atomically, cache_tag, manifest_exists, write_manifest
from dfd.raw.audio import SAMPLE_RATE
from dfd.raw.splits import random_splits

FAKE_METHODS = ("shift", "swap", "face")
#: Bumped whenever generation changes, so cached datasets of older versions are not reused.
GENERATOR_VERSION = 3
_SUPERSAMPLE = 4  # faces are drawn 4x larger and downscaled: sub-pixel mouth openings


def envelope(rng: np.random.Generator, num_frames: int) -> np.ndarray:
    """Per-frame syllable loudness in [0, 1]: each frame is voiced or quiet, with some jitter.

    Frames are independent, so a lip-sync offset of two or more frames decorrelates mouth
    and sound almost completely, as with real speech at the scale of syllables.
    """
    voiced = rng.uniform(size=num_frames) < 0.5
    return np.clip(np.where(voiced, 0.85, 0.1) + rng.uniform(-0.1, 0.1, num_frames), 0.0, 1.0)


def voice(
    rng: np.random.Generator,
    env: np.ndarray,
    fps: float,
    sample_rate: int = SAMPLE_RATE,
    silence_s: float = 0.0,
) -> np.ndarray:
    """A harmonic tone (random pitch and timbre) whose amplitude follows ``env`` frame by frame."""
    n = int(round(len(env) / fps * sample_rate))
    t = np.arange(n) / sample_rate
    f0 = rng.uniform(150.0, 180.0) * (1.0 + 0.03 * np.sin(2 * np.pi * rng.uniform(0.5, 2.0) * t))
    phase = 2 * np.pi * np.cumsum(f0) / sample_rate
    weights = rng.uniform(0.6, 1.0, 4)
    tone = sum(w * np.sin((k + 1) * phase) for k, w in enumerate(weights)) / weights.sum()
    centres = (np.arange(len(env)) + 0.5) / fps
    amp = 0.05 + 0.9 * np.interp(t, centres, env)
    audio = 0.5 * amp * tone + rng.normal(0.0, 0.004, n)
    if silence_s > 0:
        audio[: int(silence_s * sample_rate)] = rng.normal(0.0, 1e-4, min(n, int(silence_s * sample_rate)))
    return audio.astype(np.float32)


def render_face(rng: np.random.Generator, openings: np.ndarray, size: int) -> np.ndarray:
    """RGB uint8 frames [T, size, size, 3] of one identity whose mouth opens by ``openings``."""
    s = size * _SUPERSAMPLE
    skin = rng.uniform(170, 210, 3)
    background = rng.uniform(60, 110, 3)
    eye = rng.uniform(0.30, 0.40)
    axes = (int(s * rng.uniform(0.30, 0.36)), int(s * rng.uniform(0.38, 0.44)))
    mouth_w = int(s * rng.uniform(0.14, 0.2))
    frames = []
    for opening in openings:
        img = np.empty((s, s, 3), np.float32)
        img[:] = background
        cx = int(s * (0.5 + rng.uniform(-0.015, 0.015)))  # head jitter, about ±0.5 px
        cy = int(s * (0.5 + rng.uniform(-0.015, 0.015)))
        cv2.ellipse(img, (cx, cy), axes, 0, 0, 360, skin.tolist(), -1)
        for dx in (-1, 1):
            cv2.circle(
                img,
                (int(cx + dx * axes[0] * 0.4), int(cy - axes[1] * eye)),
                max(2, s // 24),
                (30, 30, 30),
                -1,
            )
        mouth_h = max(1, int(s * (0.01 + 0.13 * opening)))
        cv2.ellipse(img, (cx, int(cy + axes[1] * 0.45)), (mouth_w, mouth_h), 0, 0, 360, (40, 10, 15), -1)
        small = cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA)
        small += rng.normal(0.0, 2.0, small.shape)
        frames.append(np.clip(small, 0, 255).astype(np.uint8))
    return np.stack(frames)


def make_video(
    rng: np.random.Generator,
    label: int,
    method: str,
    num_frames: int,
    size: int,
    fps: float,
    silence_s: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Frames [T, H, W, 3] and the 16 kHz audio of one synthetic video."""
    env = envelope(rng, num_frames)
    other = envelope(rng, num_frames)  # drawn for every video, so reals and fakes use the rng alike
    mouth, sound = env, env
    if label and method == "shift":
        sound = np.roll(env, int(rng.integers(2, max(3, num_frames - 1))))
    elif label and method == "swap":
        sound = other
    elif label and method == "face":
        mouth = other
    frames = render_face(rng, mouth, size)
    audio = voice(rng, sound, fps, silence_s=silence_s if label else 0.0)
    return frames, audio


def generate_synthetic_av(
    root: str | Path,
    num_videos: int = 320,
    frames_per_video: int = 16,
    clip_len: int = 8,
    clips_per_video: int = 1,
    crop_size: int = 32,
    fps: float = 25.0,
    fake_fraction: float = 0.5,
    fake_methods: tuple[str, ...] = FAKE_METHODS,
    fake_leading_silence: float = 0.0,
    trim_leading_silence: bool = False,
    val_fraction: float = 0.2,
    test_fraction: float = 0.2,
    seed: int = 0,
) -> Path:
    """Write the synthetic AV dataset in clip format to ``root`` atomically; return ``root``."""
    unknown = set(fake_methods) - set(FAKE_METHODS)
    if unknown or not fake_methods:
        raise ValueError(f"data.fake_methods={list(fake_methods)}: choose from {list(FAKE_METHODS)}")
    root = Path(root)
    rng = np.random.default_rng(seed)
    with build_atomically(root) as tmp:
        split_of = random_splits(rng, num_videos, val_fraction, test_fraction)
        rows: list[dict[str, Any]] = []
        for vid in tqdm(range(num_videos), desc="synthetic_av", leave=False):
            vrng = np.random.default_rng([seed, vid])
            label = int(vrng.uniform() < fake_fraction)
            method = str(vrng.choice(list(fake_methods))) if label else "real"
            frames, audio = make_video(
                vrng, label, method, frames_per_video, crop_size, fps, fake_leading_silence
            )
            video_id = f"{vid:05d}"
            row = {
                "label": label,
                "method": method,
                "split": split_of[vid],
                "group": video_id,
                "compression": "png",
                "x1": 0,
                "y1": 0,
                "x2": crop_size,
                "y2": crop_size,
                "score": 1.0,
            }
            rows += cut_clips(
                tmp, video_id, frames, audio, fps, clip_len, clips_per_video, trim_leading_silence, row
            )
        meta = {
            "dataset": "synthetic_av",
            "mode": "clip",
            "detector": "none (generated crops)",
            "clip_len": clip_len,
            "clips_per_video": clips_per_video,
            "fps": fps,
            "sample_rate": SAMPLE_RATE,
            "crop_size": crop_size,
            "image_format": "png",
            "num_videos": num_videos,
            "fake_methods": list(fake_methods),
            "trim_leading_silence": trim_leading_silence,
            "seed": seed,
        }
        write_manifest(tmp, pd.DataFrame(rows), meta)
    return root


class SyntheticAVDataModule(AVClipDataModule):
    """:class:`AVClipDataModule` over generated synthetic AV clips (made on first use).

    The generator arguments are those of :func:`generate_synthetic_av`; the rest go to
    :class:`AVClipDataModule`. The cache folder name hashes every generator argument.
    """

    def __init__(
        self,
        root: str,
        num_videos: int = 320,
        frames_per_video: int = 16,
        clip_len: int = 8,
        clips_per_video: int = 1,
        crop_size: int = 32,
        fps: float = 25.0,
        fake_fraction: float = 0.5,
        fake_methods: tuple[str, ...] | list[str] = FAKE_METHODS,
        fake_leading_silence: float = 0.0,
        trim_leading_silence: bool = False,
        seed: int = 0,
        **kwargs: Any,
    ) -> None:
        self.generator_args = dict(
            num_videos=num_videos,
            frames_per_video=frames_per_video,
            clip_len=clip_len,
            clips_per_video=clips_per_video,
            crop_size=crop_size,
            fps=fps,
            fake_fraction=fake_fraction,
            fake_methods=tuple(fake_methods),
            fake_leading_silence=fake_leading_silence,
            trim_leading_silence=trim_leading_silence,
            seed=seed,
        )
        tag = cache_tag(GENERATOR_VERSION, self.generator_args)
        cache = Path(root) / f"v{num_videos}_t{clip_len}_s{crop_size}_{tag}"
        super().__init__(root=str(cache), clip_len=clip_len, seed=seed, **kwargs)

    def verify(self) -> None:
        """Nothing to check: the clips are generated in :meth:`prepare_data` when missing."""

    def prepare_data(self) -> None:
        if not manifest_exists(self.root):
            generate_synthetic_av(self.root, **self.generator_args)
