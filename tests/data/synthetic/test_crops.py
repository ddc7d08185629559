"""The embedded synthetic dataset: deterministic, split by video, learnable but not trivial."""

from __future__ import annotations

import hashlib
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import torch
from torchmetrics.functional.classification import binary_auroc

from dfd.data.synthetic.crops import SyntheticDataModule, generate_synthetic
from dfd.models.nets.mesonet import Meso4
from dfd.preprocessing.manifest import read_manifest


def _digest(root: Path) -> str:
    h = hashlib.sha256()
    for p in sorted((root / "crops").glob("*.png")):
        h.update(p.read_bytes())
    return h.hexdigest()


def test_generation_is_deterministic_and_split_by_video(tmp_path: Path) -> None:
    a = generate_synthetic(tmp_path / "a", num_videos=10, frames_per_video=3, crop_size=48, seed=3)
    b = generate_synthetic(tmp_path / "b", num_videos=10, frames_per_video=3, crop_size=48, seed=3)
    c = generate_synthetic(tmp_path / "c", num_videos=10, frames_per_video=3, crop_size=48, seed=4)
    assert _digest(a) == _digest(b) != _digest(c)
    rows, meta = read_manifest(a)
    assert len(rows) == 30 and meta["frames_per_video"] == 3
    assert rows.groupby("video_id")["split"].nunique().max() == 1  # no video crosses splits
    assert set(rows["split"]) == {"train", "val", "test"}
    assert rows.groupby("video_id")["label"].nunique().max() == 1


def _inner_detail(img: np.ndarray) -> float:
    """Laplacian energy in the centre of the face, where the swap pastes a resampled face."""
    gray = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY).astype(np.float32)
    h = gray.shape[0]
    centre = gray[int(h * 0.4) : int(h * 0.7), int(h * 0.35) : int(h * 0.65)]
    return float(cv2.Laplacian(centre, cv2.CV_32F).var())


def test_fakes_carry_resampling_artefacts(tmp_path: Path) -> None:
    root = generate_synthetic(tmp_path / "d", num_videos=40, frames_per_video=2, crop_size=96, seed=0)
    rows, _ = read_manifest(root)
    detail = rows.assign(d=[_inner_detail(cv2.imread(str(root / p))) for p in rows["crop_path"]])
    means = detail.groupby("label")["d"].mean()
    assert means[1] < 0.8 * means[0]  # fakes lost fine texture inside the face
    # ... but not every fake is obvious: the classes overlap on this one feature
    auc = binary_auroc(torch.tensor(-detail["d"].to_numpy()), torch.tensor(detail["label"].to_numpy()))
    assert 0.6 < float(auc) < 0.99


def test_untrained_model_scores_about_chance(data_dir: Path) -> None:
    dm = SyntheticDataModule(
        str(data_dir / "synthetic"),
        num_videos=24,
        frames_per_video=4,
        crop_size=64,
        input_spec=Meso4.input_spec,
        batch_size=16,
    )
    dm.prepare_data()
    dm.setup()
    batches = list(dm.val_dataloader())
    labels = torch.cat([b["label"].long() for b in batches])
    aucs = []
    for seed in range(5):  # several random initialisations: their mean AUC is chance
        torch.manual_seed(seed)
        net = Meso4().eval()
        with torch.no_grad():
            probs = torch.cat([torch.sigmoid(net(b["image"])[:, 0]) for b in batches])
        aucs.append(float(binary_auroc(probs, labels)))
    assert 0.3 < sum(aucs) / len(aucs) < 0.7, aucs
    counts = pd.Series(dm.datasets["train"].labels).value_counts()
    assert dm.class_counts("train") == {0: int(counts[0.0]), 1: int(counts[1.0])}


def _inner_colour_gap(img: np.ndarray) -> float:
    """Largest channel difference between the centre of the face and its cheeks' edge ring."""
    h = img.shape[0]
    centre = img[int(h * 0.45) : int(h * 0.6), int(h * 0.4) : int(h * 0.6)].reshape(-1, 3).mean(axis=0)
    ring = np.concatenate([img[int(h * 0.5) : int(h * 0.6), int(h * 0.22) : int(h * 0.27)].reshape(-1, 3),
                           img[int(h * 0.5) : int(h * 0.6), int(h * 0.73) : int(h * 0.78)].reshape(-1, 3)]).mean(axis=0)  # fmt: skip
    return float(np.abs(centre - ring).max())


def _skin_detail(img: np.ndarray) -> float:
    """Laplacian energy of a cheek patch (skin only: the pores, no eyes or nose)."""
    gray = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY).astype(np.float32)
    h = gray.shape[0]
    return float(
        cv2.Laplacian(gray[int(h * 0.52) : int(h * 0.62), int(h * 0.34) : int(h * 0.44)], cv2.CV_32F).var()
    )


def test_methods_split_the_cues_between_fakes(tmp_path: Path) -> None:
    """colour fakes keep their texture and change colour; texture fakes lose texture and keep colour."""
    root = generate_synthetic(
        tmp_path / "m", num_videos=200, frames_per_video=1, crop_size=96, methods=["colour", "texture"]
    )
    rows, meta = read_manifest(root)
    assert meta["methods"] == ["colour", "texture"]
    assert set(rows.loc[rows["label"] == 1, "method"]) == {"synthetic_colour", "synthetic_texture"}
    assert set(rows.loc[rows["label"] == 0, "method"]) == {"real"}
    images = [cv2.imread(str(root / p)) for p in rows["crop_path"]]
    rows = rows.assign(detail=[_skin_detail(i) for i in images], gap=[_inner_colour_gap(i) for i in images])
    by = rows.groupby("method")[["detail", "gap"]].median()
    assert by.loc["synthetic_texture", "detail"] < 0.3 * by.loc["real", "detail"]
    assert by.loc["synthetic_colour", "detail"] > 0.8 * by.loc["real", "detail"]
    assert by.loc["synthetic_colour", "gap"] > 2 * by.loc["real", "gap"]
    assert by.loc["synthetic_texture", "gap"] < 1.5 * by.loc["real", "gap"]


def test_unknown_methods_are_refused(tmp_path: Path) -> None:
    import pytest

    with pytest.raises(ValueError, match=r"data.methods=\['blur'\]"):
        generate_synthetic(tmp_path / "x", num_videos=4, methods=["blur"])
