"""Embedded synthetic face-crop dataset: the default ``data=synthetic``.

Face-crop-like images are generated deterministically from a seed and cached under
``${paths.data_dir}/synthetic/<tag>/`` in dfd's own manifest format, so they flow through
exactly the same :class:`~dfd.data.datamodule.FaceCropDataModule` as real preprocessed crops.

Fakes carry the artefacts typical of face swaps (Li et al., "Face X-ray", CVPR 2020;
Afchar et al., "MesoNet", WIFS 2018): the inner face comes from another identity, is
resampled (down- then up-scaled, losing the skin texture), shifted in colour, and blended
into the target frame through a mask whose boundary is sometimes feathered and sometimes hard.
Severity is drawn per video, so some fakes are subtle: the task is learnable, not trivial.

``methods`` splits those cues between manipulation methods, as FF++'s methods differ: ``swap``
(the default, all cues: method ``synthetic_swap``), ``colour`` (the target's own inner face
colour-shifted, its texture intact: ``synthetic_colour``) and ``texture`` (the target's own inner
face resampled, its colour intact: ``synthetic_texture``). Fake videos take the methods in turn.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from dfd.core.input_spec import InputSpec
from dfd.data.datamodule import FaceCropDataModule
from dfd.preprocessing.manifest import STATUS_OK, build_atomically, cache_tag, manifest_exists, write_manifest
from dfd.raw.splits import random_splits

#: Bumped whenever generation changes, so cached datasets of older versions are not reused.
GENERATOR_VERSION = 1


@dataclass(frozen=True)
class Identity:
    """Appearance parameters of one synthetic person."""

    skin: np.ndarray  # BGR, 0..255
    background: np.ndarray
    hair: np.ndarray
    face_axes: tuple[float, float]  # fraction of image size
    eye_dy: float
    texture_seed: int


def _identity(rng: np.random.Generator) -> Identity:
    tone = rng.uniform(0.35, 0.95)
    skin = np.array([150 * tone + 30, 175 * tone + 35, 220 * tone + 30]) * rng.uniform(0.9, 1.05, 3)
    return Identity(
        skin=np.clip(skin, 0, 255),
        background=rng.uniform(20, 235, 3),
        hair=rng.uniform(10, 120, 3),
        face_axes=(rng.uniform(0.27, 0.33), rng.uniform(0.36, 0.42)),
        eye_dy=rng.uniform(0.08, 0.13),
        texture_seed=int(rng.integers(0, 2**31 - 1)),
    )


def _similar(ident: Identity, rng: np.random.Generator) -> Identity:
    """A source identity resembling ``ident``: swap pipelines pick look-alike pairs."""
    return Identity(
        skin=np.clip(ident.skin + rng.normal(0, 12, 3), 0, 255),
        background=ident.background,
        hair=ident.hair,
        face_axes=ident.face_axes,
        eye_dy=float(np.clip(ident.eye_dy + rng.normal(0, 0.01), 0.07, 0.14)),
        texture_seed=int(rng.integers(0, 2**31 - 1)),
    )


@lru_cache(maxsize=64)
def _texture(seed: int, size: int) -> np.ndarray:
    """Fine skin texture (pores): high-frequency noise that resampling destroys."""
    rng = np.random.default_rng(seed)
    noise = rng.normal(0.0, 1.0, (size, size)).astype(np.float32)
    return cv2.GaussianBlur(noise, (0, 0), 0.6) * 9.0


def _render(ident: Identity, size: int, rng: np.random.Generator) -> tuple[np.ndarray, tuple[int, int]]:
    """Render one frame of ``ident`` with per-frame pose jitter; returns image and face centre."""
    img = np.empty((size, size, 3), np.float32)
    img[:] = ident.background
    # a soft vertical gradient so backgrounds are not flat
    img *= np.linspace(0.85, 1.1, size, dtype=np.float32)[:, None, None]
    cx = int(size * (0.5 + rng.uniform(-0.04, 0.04)))
    cy = int(size * (0.52 + rng.uniform(-0.04, 0.04)))
    ax = int(size * ident.face_axes[0] * rng.uniform(0.96, 1.04))
    ay = int(size * ident.face_axes[1] * rng.uniform(0.96, 1.04))
    angle = rng.uniform(-8, 8)
    cv2.ellipse(
        img, (cx, cy - ay // 3), (int(ax * 1.1), int(ay * 0.9)), angle, 180, 360, ident.hair.tolist(), -1
    )
    face = np.zeros((size, size), np.float32)
    cv2.ellipse(face, (cx, cy), (ax, ay), angle, 0, 360, 1.0, -1)
    shade = ident.skin * rng.uniform(0.9, 1.1)
    img = img * (1 - face[..., None]) + face[..., None] * shade
    img += (_texture(ident.texture_seed, size) * face)[..., None]
    eye_y = int(cy - ay * ident.eye_dy * 2.2)
    for dx in (-1, 1):
        ex = int(cx + dx * ax * 0.42)
        cv2.ellipse(img, (ex, eye_y), (max(2, ax // 5), max(1, ay // 10)), angle, 0, 360, (235, 235, 235), -1)
        cv2.circle(img, (ex, eye_y), max(1, ax // 11), (40, 30, 20), -1)
    cv2.line(
        img, (cx, eye_y + ay // 8), (cx - ax // 10, cy + ay // 6), (shade * 0.8).tolist(), max(1, size // 64)
    )
    mouth_open = rng.uniform(0.02, 0.12)
    cv2.ellipse(
        img, (cx, int(cy + ay * 0.5)), (ax // 3, max(1, int(ay * mouth_open))), 0, 0, 360, (60, 60, 150), -1
    )
    return img, (cx, cy)


#: Generator method → the ``method`` its fakes carry in the manifest.
METHODS = {"swap": "synthetic_swap", "colour": "synthetic_colour", "texture": "synthetic_texture"}


def _swap(
    target: np.ndarray,
    source: np.ndarray,
    centre: tuple[int, int],
    rng: np.random.Generator,
    method: str = "swap",
) -> np.ndarray:
    """Blend the inner face of ``source`` into ``target``: resampled and colour-shifted (``swap``),
    colour-shifted only (``colour``) or resampled only (``texture``)."""
    size = target.shape[0]
    severity = rng.uniform(0.0, 1.0)  # 0 = subtle, 1 = obvious
    factor = 0.9 - 0.4 * severity  # resampling scale of the generated face
    if method == "texture":
        factor = 0.6 - 0.25 * severity  # the only cue: resample hard enough to erase the pores
    if method == "colour":
        resampled = source.copy()
    else:
        small = cv2.resize(source, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)
        resampled = cv2.resize(small, (size, size), interpolation=cv2.INTER_LINEAR)
    shift = rng.normal(0.0, 2.0 + 8.0 * severity, 3).astype(np.float32)
    if method == "colour":  # the colour shift is this method's only cue: never negligible, and away
        # from the nearer end of the range, so clipping never flattens the texture it must keep
        away = np.where(source.reshape(-1, 3).mean(axis=0) > 128, -1.0, 1.0)
        shift = (away * (15.0 + 20.0 * severity) * rng.uniform(0.6, 1.0, 3)).astype(np.float32)
    if method != "texture":
        resampled = resampled + shift
    mask = np.zeros((size, size), np.float32)
    cx, cy = centre
    axes = (int(size * rng.uniform(0.2, 0.25)), int(size * rng.uniform(0.25, 0.31)))
    cv2.ellipse(mask, (cx, cy + size // 40), axes, 0, 0, 360, 1.0, -1)
    feather = rng.uniform(0.5, 4.0 - 2.5 * severity)  # px; small = visible seam
    if method == "colour":
        feather = min(feather, 1.5)  # the shifted patch shows against the untouched face around it
    mask = cv2.GaussianBlur(mask, (0, 0), feather)[..., None]
    return target * (1 - mask) + resampled * mask


def generate_synthetic(
    root: str | Path,
    num_videos: int = 120,
    frames_per_video: int = 8,
    crop_size: int = 96,
    fake_fraction: float = 0.5,
    val_fraction: float = 0.2,
    test_fraction: float = 0.2,
    seed: int = 0,
    methods: tuple[str, ...] | list[str] = ("swap",),
) -> Path:
    """Write the synthetic dataset (PNG crops + manifest) to ``root`` atomically; return ``root``.

    Splits are made by video, so no video's frames cross splits. Fake videos take ``methods``
    (keys of :data:`METHODS`) in turn.
    """
    methods = list(methods)
    unknown = [m for m in methods if m not in METHODS]
    if unknown or not methods:
        raise ValueError(f"data.methods={methods}: expected a non-empty list of {list(METHODS)}")
    root = Path(root)
    rng = np.random.default_rng(seed)
    with build_atomically(root) as tmp:
        (tmp / "crops").mkdir()
        split_of = random_splits(rng, num_videos, val_fraction, test_fraction)
        rows = []
        n_fakes = 0
        for vid in range(num_videos):
            vrng = np.random.default_rng([seed, vid])
            label = int(vrng.uniform() < fake_fraction)
            target = _identity(vrng)
            source = _similar(target, vrng)
            # some real videos are out of focus and all are compressed, so blur alone is no tell
            focus = vrng.uniform(0.3, 1.1) if vrng.uniform() < 0.3 else 0.0
            quality = int(vrng.integers(70, 96))
            video_id = f"{vid:05d}"
            method = methods[n_fakes % len(methods)]
            n_fakes += label
            for f in range(frames_per_video):
                frng = np.random.default_rng([seed, vid, f])
                img, centre = _render(target, crop_size, frng)
                if label:
                    # swap: another identity's face; colour and texture alter the target's own face, so
                    # each carries its one cue and nothing else
                    src = (
                        _render(source, crop_size, np.random.default_rng([seed, vid, f, 1]))[0]
                        if method == "swap"
                        else img
                    )
                    img = _swap(img, src, centre, np.random.default_rng([seed, vid, 7]), method)
                if focus:
                    img = cv2.GaussianBlur(img, (0, 0), focus)
                img += frng.normal(0, 2.0, img.shape).astype(np.float32)  # sensor noise on every frame
                img = np.clip(img, 0, 255).astype(np.uint8)
                ok, jpeg = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality])
                rel = f"crops/{video_id}_{f:03d}.png"
                cv2.imwrite(str(tmp / rel), cv2.imdecode(jpeg, cv2.IMREAD_COLOR))
                rows.append(
                    {
                        "video_id": video_id,
                        "frame_idx": f,
                        "label": label,
                        "method": METHODS[method] if label else "real",
                        "split": split_of[vid],
                        "group": video_id,
                        "compression": "png",
                        "crop_path": rel,
                        "x1": 0,
                        "y1": 0,
                        "x2": crop_size,
                        "y2": crop_size,
                        "score": 1.0,
                        "status": STATUS_OK,
                    }
                )
        meta = {
            "dataset": "synthetic",
            "detector": "none (generated crops)",
            "num_videos": num_videos,
            "frames_per_video": frames_per_video,
            "crop_size": crop_size,
            "image_format": "png",
            "seed": seed,
            "methods": methods,
        }
        write_manifest(tmp, pd.DataFrame(rows), meta)
    return root


class SyntheticDataModule(FaceCropDataModule):
    """:class:`FaceCropDataModule` over the generated synthetic crops (made on first use)."""

    def __init__(
        self,
        root: str,
        num_videos: int = 120,
        frames_per_video: int = 8,
        crop_size: int = 96,
        fake_fraction: float = 0.5,
        seed: int = 0,
        methods: list[str] | None = None,
        input_spec: InputSpec | None = None,
        **kwargs,
    ) -> None:
        self.generator_args = dict(
            num_videos=num_videos,
            frames_per_video=frames_per_video,
            crop_size=crop_size,
            fake_fraction=fake_fraction,
            seed=seed,
        )
        if methods and list(methods) != ["swap"]:  # the default keeps the cache folder of earlier versions
            self.generator_args["methods"] = list(methods)
        tag = cache_tag(GENERATOR_VERSION, self.generator_args)
        cache = Path(root) / f"v{num_videos}_f{frames_per_video}_s{crop_size}_{tag}"
        super().__init__(root=str(cache), input_spec=input_spec, **kwargs)

    def verify(self) -> None:
        """Nothing to check: the data is generated in :meth:`prepare_data` when missing."""

    def prepare_data(self) -> None:
        if not manifest_exists(self.root):
            generate_synthetic(self.root, **self.generator_args)
