"""Linear probe: embeddings are the nets' forward_features; SMOTE raises minority recall on 1:10 data."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from dfd.models.linear_probe import evaluate_probe, extract_embeddings, fit_linear_probe


class _TinyNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.backbone = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.fc = nn.Linear(4, 1)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.backbone(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.forward_features(x))


def test_embeddings_are_the_forward_features() -> None:
    torch.manual_seed(0)
    net = _TinyNet()
    images = torch.randn(6, 3, 8, 8)
    batches = [
        {"image": images[:4], "label": torch.tensor([0, 1, 1, 0])},
        {"image": images[4:], "label": torch.tensor([1, 0])},
    ]
    x, y = extract_embeddings(net, batches, progress=False)
    assert x.shape == (6, 4)
    np.testing.assert_allclose(x, net.backbone(images).detach().numpy(), rtol=1e-5, atol=1e-6)
    assert y.tolist() == [0, 1, 1, 0, 1, 0]


def _gaussians(n_real: int, n_fake: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = np.concatenate([rng.normal(0.0, 1.0, (n_real, 8)), rng.normal(0.6, 1.0, (n_fake, 8))])
    return x.astype(np.float32), np.array([0] * n_real + [1] * n_fake)


def test_smote_raises_minority_recall_on_imbalanced_embeddings() -> None:
    pytest.importorskip("imblearn")
    # fakes are the 1:10 minority here, overlapping clusters
    x_train, y_train = _gaussians(1000, 100, seed=0)
    x_test, y_test = _gaussians(1000, 1000, seed=1)
    plain = evaluate_probe(fit_linear_probe(x_train, y_train, smote=False), x_test, y_test)
    smote = evaluate_probe(fit_linear_probe(x_train, y_train, smote=True, seed=0), x_test, y_test)
    # at threshold 0.5 the plain probe hardly ever says "fake"; SMOTE moves the boundary
    assert plain.recall_fake < 0.4
    assert smote.recall_fake > plain.recall_fake + 0.3
    assert smote.balanced_accuracy > plain.balanced_accuracy + 0.05
    # ...while the ranking (AUC) barely changes: SMOTE adds no information
    assert abs(smote.auc - plain.auc) < 0.02


def test_smote_resamples_only_the_training_fit() -> None:
    pytest.importorskip("imblearn")
    x, y = _gaussians(300, 30, seed=2)
    pipe = fit_linear_probe(x, y, smote=True, seed=0)
    x_res, y_res = pipe.named_steps["smote"].fit_resample(pipe.named_steps["scale"].transform(x), y)
    assert np.bincount(y_res).tolist() == [300, 300]
    assert pipe.predict_proba(x).shape == (330, 2)  # predict sees the original samples only


def test_smote_needs_enough_minority_samples() -> None:
    pytest.importorskip("imblearn")
    x, y = _gaussians(50, 4, seed=0)
    with pytest.raises(ValueError, match="k_neighbors"):
        fit_linear_probe(x, y, smote=True, k_neighbors=5)
