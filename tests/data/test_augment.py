"""Augmentation presets: every transform keeps shape and dtype, DCT noise touches only its bands,
MixUp and CutMix give convex targets, presets compose, and only training data is augmented."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dfd.core.input_spec import InputSpec
from dfd.data.augment import (
    DCT_BANDS,
    BatchMix,
    DCTNoise,
    augment_pipeline,
    band_mask,
    block_dct,
    block_idct,
    build_batch_mix,
    check_augment,
)
from dfd.data.dct import dct_matrix
from dfd.data.transforms import build_train_transform
from tests.conftest import compose_config

RNG = np.random.default_rng(0)
IMAGE = RNG.integers(0, 256, (70, 90, 3), dtype=np.uint8)  # not a multiple of 8: edge pixels


@pytest.mark.parametrize(
    "augment",
    [
        {"base": "none"},
        {"base": "default"},
        {"base": "strong", "strength": 3.0},
        {"base": "none", "gridmask": {"ratio": 0.5, "p": 1.0}},
        {"base": "none", "dct_noise": {"bands": ["high"], "std": 5.0, "p": 1.0}},
    ],
    ids=["none", "default", "strong", "gridmask", "dct_noise"],
)
def test_each_transform_keeps_shape_and_dtype(augment):
    for op in augment_pipeline(64, augment):  # one by one, at probability 1
        op.p = 1.0
        out = (
            op(image=IMAGE)["image"] if op.__class__.__name__ not in ("Resize", "RandomResizedCrop") else None
        )
        if out is not None:
            assert out.shape == IMAGE.shape and out.dtype == np.uint8, type(op).__name__
    full = build_train_transform(InputSpec(64), augment)
    out = full(image=IMAGE)["image"]
    assert out.shape == (64, 64, 3) and out.dtype == np.float32


def test_the_block_dct_is_orthonormal_and_inverts():
    d = dct_matrix()
    assert np.allclose(d @ d.T, np.eye(8))
    x = RNG.normal(size=(16, 24, 3))
    assert np.allclose(block_idct(block_dct(x, d), d), x)


def test_dct_noise_changes_only_the_chosen_bands():
    image = RNG.uniform(0, 255, (64, 72, 3)).astype(np.float32)
    noise = DCTNoise(bands=["mid"], std=6.0, p=1.0)
    noise.set_random_seed(1)
    out = noise(image=image)["image"]
    assert out.dtype == np.float32 and out.shape == image.shape
    d = dct_matrix()
    change = block_dct(out.astype(np.float64), d) - block_dct(image.astype(np.float64), d)
    mask = band_mask(["mid"])
    assert np.abs(change[..., ~mask]).max() < 1e-3  # the DC, low and high coefficients are untouched
    assert change[..., mask].std() == pytest.approx(6.0, rel=0.05)  # the mid band got std 6
    total = np.add.outer(np.arange(8), np.arange(8))
    assert mask.sum() == ((total >= 3) & (total <= 7)).sum() == 30  # diagonals u+v = 3..7: 4+5+6+7+8


def test_dct_noise_on_uint8_moves_the_chosen_bands_far_more_than_the_others():
    noise = DCTNoise(bands=[[8, 14]], std=8.0, p=1.0)
    noise.set_random_seed(2)
    out = noise(image=IMAGE)["image"]
    assert out.dtype == np.uint8
    assert np.array_equal(out[64:], IMAGE[64:]) and np.array_equal(
        out[:, 88:], IMAGE[:, 88:]
    )  # partial blocks kept
    d = dct_matrix()
    change = block_dct(out.astype(float), d) - block_dct(IMAGE.astype(float), d)
    mask = band_mask([[8, 14]])
    # uint8 rounding adds ~0.3 everywhere; the chosen band moves by ~8 (clipping at 0 and 255 eats a little)
    assert change[..., mask].std() > 6.0 and change[..., ~mask].std() < 1.0


def test_dct_noise_names_a_bad_band():
    with pytest.raises(ValueError, match="'middle'"):
        DCTNoise(bands=["middle"])
    with pytest.raises(ValueError, match=r"\[3, 20\]"):
        band_mask([[3, 20]])
    assert set(DCT_BANDS) == {"dc", "low", "mid", "high"}


def _batch(n: int = 8) -> dict:
    torch.manual_seed(0)
    return {"image": torch.rand(n, 3, 16, 16), "label": torch.tensor([0.0, 1.0] * (n // 2) + [1.0] * (n % 2))}


def test_mixup_targets_are_convex_combinations_of_the_pair_and_match_the_images():
    np.random.seed(3)
    batch = _batch()
    x, y = batch["image"].clone(), batch["label"].clone()
    out = BatchMix(mixup_alpha=0.4, mode="batch")(batch)
    t = out["label"]
    lo, hi = torch.minimum(y, y.flip(0)), torch.maximum(y, y.flip(0))
    assert ((t >= lo - 1e-6) & (t <= hi + 1e-6)).all()
    # pairs (real, fake) give lam or 1 - lam; one lam for the batch, which also mixed the pixels
    lam = float(t[1]) if y[1] == 1 else 1 - float(t[1])
    assert 0 < lam < 1 and lam != 0.5
    assert torch.allclose(out["image"], lam * x + (1 - lam) * x.flip(0), atol=1e-6)
    assert torch.allclose(t, lam * y + (1 - lam) * y.flip(0), atol=1e-6)


def test_cutmix_targets_are_the_pasted_area_share():
    np.random.seed(4)
    batch = _batch()
    x, y = batch["image"].clone(), batch["label"].clone()
    out = BatchMix(cutmix_alpha=1.0, mode="batch")(batch)
    pasted = (out["image"] != x).any(dim=1)[0].float().mean()  # share of sample 0's pixels replaced
    lam = 1 - float(pasted)
    assert torch.allclose(out["label"], lam * y + (1 - lam) * y.flip(0), atol=1e-6)


def test_an_odd_batch_mixes_all_but_its_last_sample():
    np.random.seed(5)
    batch = _batch(7)
    last = batch["image"][-1].clone()
    out = BatchMix(mixup_alpha=1.0)(batch)
    assert out["label"].shape == (7,) and out["label"][-1] == 1.0 and torch.equal(out["image"][-1], last)


def test_presets_compose_through_hydra():
    cfg = compose_config("train", ["augment=[strong,gridmask,dct_noise,mixup,cutmix]"])
    augment = check_augment(cfg.augment)
    assert augment["base"] == "strong" and augment["gridmask"]["ratio"] == 0.4
    assert augment["dct_noise"]["bands"] == ["mid", "high"]
    assert augment["batch_mix"]["mixup_alpha"] == 0.4 and augment["batch_mix"]["cutmix_alpha"] == 1.0
    assert check_augment(compose_config("train", ["augment=mixup"]).augment)["base"] == "default"
    assert check_augment(compose_config("train", ["augment=[none,mixup]"]).augment)["base"] == "none"
    assert compose_config("train", []).data.augment.base == "default"  # every data config reads it
    names = [type(op).__name__ for op in augment_pipeline(32, augment)]
    assert names[-2:] == ["DCTNoise", "GridDropout"] and "Rotate" in names and "Downscale" in names
    mix = build_batch_mix(augment)
    assert mix.mixup.mixup_alpha == 0.4 and mix.mixup.cutmix_alpha == 1.0 and mix.mixup.switch_prob == 0.5


def test_bad_configs_are_named():
    with pytest.raises(ValueError, match="'heavy'"):
        check_augment({"base": "heavy"})
    with pytest.raises(ValueError, match=r"\['mixup'\]"):
        check_augment({"mixup": {"alpha": 1}})
    with pytest.raises(ValueError, match="mixup_alpha or cutmix_alpha"):
        BatchMix(prob=1.0)
    assert check_augment(None)["base"] == "default" and check_augment(False)["base"] == "none"
