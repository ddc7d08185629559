"""Training augmentation presets (the ``augment=`` config group) and dfd's own transforms.

An augmentation config is a mapping with up to five keys; presets in ``conf/augment/`` each set
some of them, and a list of presets (``augment=[strong,gridmask,mixup]``) merges them in order:

- ``base``: the per-image pipeline, ``none`` (resize only), ``default`` (random resized crop, flip,
  then JPEG, blur, noise and colour jitter at probability 0.3 × ``strength``) or ``strong``
  (wider crops, rotation, downscale, and the photometric ones more often and harder);
- ``strength``: scales the probabilities of the photometric augmentations (0 keeps only the
  geometric ones);
- ``gridmask``: albumentations' ``GridDropout`` (GridMask, Chen et al. 2020) keyword arguments;
- ``dct_noise``: :class:`DCTNoise` keyword arguments (noise in chosen 8×8 block-DCT bands);
- ``batch_mix``: timm ``Mixup`` keyword arguments (``mixup_alpha``, ``cutmix_alpha``, ``prob``,
  ``switch_prob``); it mixes whole batches after they reach the device, see :class:`BatchMix`.

Every key is optional: a missing ``base`` is ``default``, so ``augment=mixup`` is today's
pipeline plus MixUp, and ``augment=[none,mixup]`` is MixUp alone.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")  # its import otherwise calls the network

import albumentations as A  # noqa: E402
import cv2  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from dfd.data.dct import dct_matrix  # noqa: E402

#: Per-image pipelines a config's ``base`` may name.
BASES = ("none", "default", "strong")
#: The keys an augmentation config may have.
KEYS = ("base", "strength", "gridmask", "dct_noise", "batch_mix")

#: Named DCT bands as inclusive ranges of ``u + v`` (0 is the DC coefficient, 14 the highest).
DCT_BANDS = {"dc": (0, 0), "low": (1, 2), "mid": (3, 7), "high": (8, 14)}


def band_mask(bands: Sequence[str | Sequence[int]], n: int = 8) -> np.ndarray:
    """``bool[n, n]``: the coefficients ``(u, v)`` whose ``u + v`` lies in one of ``bands``.

    A band is a name of :data:`DCT_BANDS` or an inclusive ``[lo, hi]`` range of ``u + v``."""
    total = np.add.outer(np.arange(n), np.arange(n))
    mask = np.zeros((n, n), dtype=bool)
    for band in bands:
        if isinstance(band, str):
            if band not in DCT_BANDS:
                raise ValueError(
                    f"dct_noise band {band!r}: expected one of {list(DCT_BANDS)} or a [lo, hi] range"
                )
            lo, hi = DCT_BANDS[band]
        else:
            lo, hi = (int(v) for v in band)
        if not 0 <= lo <= hi <= 2 * (n - 1):
            raise ValueError(f"dct_noise band [{lo}, {hi}]: u + v runs from 0 to {2 * (n - 1)}")
        mask |= (total >= lo) & (total <= hi)
    return mask


def block_dct(image: np.ndarray, d: np.ndarray) -> np.ndarray:
    """The 8×8 block DCT of the whole blocks of an ``[H, W, C]`` float image: ``[H/8, W/8, C, 8, 8]``."""
    n = d.shape[0]
    h, w, c = (image.shape[0] // n) * n, (image.shape[1] // n) * n, image.shape[2]
    blocks = image[:h, :w].reshape(h // n, n, w // n, n, c).transpose(0, 2, 4, 1, 3)
    return d @ blocks @ d.T


def block_idct(coeffs: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Inverse of :func:`block_dct`: ``[H/8, W/8, C, 8, 8]`` → ``[H, W, C]``."""
    hb, wb, c, n, _ = coeffs.shape
    blocks = d.T @ coeffs @ d
    return blocks.transpose(0, 3, 1, 4, 2).reshape(hb * n, wb * n, c)


class DCTNoise(A.ImageOnlyTransform):
    """Gaussian noise added to chosen frequency bands of the image's 8×8 block DCT (JPEG's grid).

    Deepfake detectors lean on frequency artefacts; perturbing their bands keeps the picture
    and stops the net from keying on one band's exact values. The DCT is orthonormal, so ``std``
    is in pixel units (0–255 for uint8 images). Pixels outside whole 8×8 blocks are left as
    they are. uint8 images are rounded back to uint8; float images keep their values.

    Args:
        bands: names of :data:`DCT_BANDS` or inclusive ``[lo, hi]`` ranges of ``u + v``.
        std: noise standard deviation per coefficient, or a ``[lo, hi]`` range drawn per call (an image,
            or all the frames of a clip passed as ``images=``, which share one draw).
        p: probability of applying the transform.
    """

    def __init__(
        self,
        bands: Sequence[str | Sequence[int]] = ("mid", "high"),
        std: float | Sequence[float] = (2.0, 8.0),
        p: float = 0.5,
    ) -> None:
        super().__init__(p=p)
        self.bands = [b if isinstance(b, str) else [int(v) for v in b] for b in bands]
        self.mask = band_mask(self.bands)
        lo, hi = (float(std), float(std)) if np.isscalar(std) else (float(std[0]), float(std[1]))
        if not 0 <= lo <= hi:
            raise ValueError(f"dct_noise std must be >= 0 (a number or a [lo, hi] range), got {std}")
        self.std = (lo, hi)
        self.d = dct_matrix().astype(np.float32)

    def get_params_dependent_on_data(self, params: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
        # drawn once per call, not per image: every frame of a clip (``images=``) gets the same noise,
        # as albumentations' own GaussNoise does
        shape = params["shape"]
        hb, wb, c = shape[0] // 8, shape[1] // 8, shape[2] if len(shape) > 2 else 1
        std = self.random_generator.uniform(*self.std)
        noise = self.random_generator.normal(0.0, std, (hb, wb, c, 8, 8)).astype(np.float32)
        return {"noise": noise * self.mask}

    def apply(self, img: np.ndarray, noise: np.ndarray | None = None, **params: Any) -> np.ndarray:
        gray = img.ndim == 2
        x = (img[..., None] if gray else img).astype(np.float32)
        hb, wb = x.shape[0] // 8, x.shape[1] // 8
        if hb == 0 or wb == 0 or noise is None:
            return img
        # the DCT is linear: adding noise to the coefficients adds its inverse DCT to the pixels
        out = x.copy()
        out[: hb * 8, : wb * 8] += block_idct(noise, self.d)
        out = out[..., 0] if gray else out
        if img.dtype == np.uint8:
            return np.clip(np.rint(out), 0, 255).astype(np.uint8)
        return out.astype(img.dtype)

    def get_transform_init_args_names(self) -> tuple[str, ...]:
        return ("bands", "std")


def plain(value: Any) -> Any:
    """Mappings and sequences (OmegaConf's included) as dicts and lists, all the way down."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, str):
        return [plain(v) for v in value]
    return value


def check_augment(augment: Mapping[str, Any] | bool | None) -> dict[str, Any]:
    """An augmentation config as a plain dict with every key, naming what is wrong in it.

    ``None`` and ``True`` are the ``default`` preset, ``False`` is ``none`` (the AV data configs'
    old ``data.augment: true | false``)."""
    if augment is None or augment is True:
        augment = {}
    elif augment is False:
        augment = {"base": "none"}
    augment = plain(augment)
    unknown = sorted(set(augment) - set(KEYS))
    if unknown:
        raise ValueError(
            f"augment has unknown keys {unknown}; expected some of {list(KEYS)} (see conf/augment/)"
        )
    out = {"base": "default", "strength": 1.0, "gridmask": None, "dct_noise": None, "batch_mix": None}
    out.update({k: v for k, v in augment.items() if v is not None or k not in ("base", "strength")})
    if out["base"] not in BASES:
        raise ValueError(f"augment.base={out['base']!r}: expected one of {list(BASES)}")
    if not 0.0 <= float(out["strength"]) <= 3.0:
        raise ValueError(f"augment.strength={out['strength']}: expected a number in [0, 3]")
    return out


def base_pipeline(size: int, base: str, strength: float) -> list[A.BasicTransform]:
    """The geometric and photometric part of a preset, before noise, masks and normalisation."""
    if base == "none":
        return [A.Resize(size, size)]
    if base == "default":
        p = float(np.clip(0.3 * strength, 0.0, 1.0))
        return [
            A.RandomResizedCrop(size=(size, size), scale=(0.8, 1.0), ratio=(0.9, 1.1)),
            A.HorizontalFlip(p=0.5),
            A.ImageCompression(quality_range=(60, 100), p=p),
            A.GaussianBlur(blur_limit=(3, 5), p=p / 2),
            A.GaussNoise(std_range=(0.01, 0.04), p=p / 2),
            A.ColorJitter(brightness=0.2, contrast=0.2, saturation=0.2, hue=0.02, p=p),
        ]
    p = float(np.clip(0.5 * strength, 0.0, 1.0))
    return [
        A.RandomResizedCrop(size=(size, size), scale=(0.6, 1.0), ratio=(0.85, 1.15)),
        A.HorizontalFlip(p=0.5),
        A.Rotate(limit=15, border_mode=cv2.BORDER_REFLECT_101, p=p),
        A.Downscale(scale_range=(0.4, 0.9), p=p / 2),
        A.ImageCompression(quality_range=(30, 95), p=p),
        A.OneOf([A.GaussianBlur(blur_limit=(3, 7)), A.MotionBlur(blur_limit=(3, 7))], p=p / 2),
        A.GaussNoise(std_range=(0.02, 0.08), p=p / 2),
        A.ColorJitter(brightness=0.3, contrast=0.3, saturation=0.3, hue=0.05, p=p),
    ]


def augment_pipeline(
    size: int, augment: Mapping[str, Any] | bool | None, strength: float | None = None
) -> list:
    """The per-image training transforms of ``augment`` (without normalisation), in order:
    base pipeline, DCT noise, grid mask. ``strength`` overrides ``augment.strength``."""
    cfg = check_augment(augment)
    ops = base_pipeline(size, cfg["base"], float(cfg["strength"] if strength is None else strength))
    if cfg["dct_noise"]:
        ops.append(DCTNoise(**dict(cfg["dct_noise"])))
    if cfg["gridmask"]:
        grid = dict(cfg["gridmask"])
        if grid.get("unit_size_range") is not None:
            grid["unit_size_range"] = tuple(grid["unit_size_range"])
        ops.append(A.GridDropout(**grid))
    return ops


class BatchMix:
    """MixUp and CutMix of whole training batches through timm's ``Mixup``, for one fake logit.

    A batch dict's ``image`` ``[B, C, H, W]`` is mixed in place with the batch reversed, and its
    ``label`` becomes the soft target ``lam * y + (1 - lam) * y.flip(0)``: the share of fake in
    each mixed image. timm needs an even batch, so an odd batch's last sample stays as it is.
    Label smoothing is the loss's job (``loss.label_smoothing``), so none is added here.

    Args: timm ``Mixup`` keyword arguments: ``mixup_alpha``, ``cutmix_alpha``, ``cutmix_minmax``,
    ``prob``, ``switch_prob``, ``mode`` (``batch``, ``pair`` or ``elem``).
    """

    def __init__(self, **kwargs: Any) -> None:
        from timm.data import Mixup

        kwargs = {"mixup_alpha": 0.0, "cutmix_alpha": 0.0, **kwargs}
        if kwargs.get("cutmix_minmax") is not None:
            kwargs["cutmix_minmax"] = list(kwargs["cutmix_minmax"])
        if kwargs["mixup_alpha"] <= 0 and kwargs["cutmix_alpha"] <= 0 and kwargs.get("cutmix_minmax") is None:
            raise ValueError(f"augment.batch_mix={kwargs}: set mixup_alpha or cutmix_alpha above 0")
        self.kwargs = kwargs
        self.mixup = Mixup(**kwargs, label_smoothing=0.0, num_classes=2)

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        image, label = batch["image"], batch["label"]
        if image.ndim != 4:
            raise ValueError(
                f"augment.batch_mix mixes image batches [B, C, H, W]; this batch's image is {tuple(image.shape)} "
                "(clips are not mixed: drop mixup/cutmix from augment for audio-visual data)"
            )
        n = len(label) - len(label) % 2
        if n < 2:
            return batch
        mixed, target = self.mixup(image[:n], label[:n].long())
        image[:n] = mixed
        batch["label"] = torch.cat([target[:, 1].to(label.dtype), label[n:]])
        return batch

    def __repr__(self) -> str:
        return f"BatchMix({self.kwargs})"


def build_batch_mix(augment: Mapping[str, Any] | bool | None) -> BatchMix | None:
    """The :class:`BatchMix` of ``augment.batch_mix``, or ``None`` when it has none."""
    cfg = check_augment(augment)
    return BatchMix(**dict(cfg["batch_mix"])) if cfg["batch_mix"] else None
