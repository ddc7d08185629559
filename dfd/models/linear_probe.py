"""Linear probe on frozen-backbone embeddings, optionally with SMOTE oversampling.

The backbone is frozen; its features (``net.forward_features``, the input of the net's head:
every net in :mod:`dfd.models.nets` has one) are extracted once, and a logistic regression is
fitted on them with scikit-learn. SMOTE (Chawla et al., "SMOTE: Synthetic Minority Over-sampling Technique",
JAIR 2002), from imbalanced-learn, can first synthesise minority samples by interpolating
between minority neighbours in that embedding space.

When SMOTE helps, and when it does not (see also ``docs/imbalance.md``):

- It only makes sense on features where interpolation is meaningful: embeddings, never raw
  pixels (a blend of two face crops is not a plausible face).
- It helps a low-capacity classifier (this linear probe) when the minority class is small in
  absolute terms (tens to a few hundred samples) and the ratio is severe (> ~5:1): the decision
  boundary moves toward the majority and minority recall at the default threshold improves.
- It adds no information. Threshold-free metrics (AUC, AP) usually change little; class
  weighting or threshold tuning often give the same effect more cheaply.
- It is not used for end-to-end training: there the weighted sampler and the loss do the job.

Nothing here imports Hydra; ``python -m dfd.linear_probe`` is the configured entry point.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, balanced_accuracy_score, f1_score, roc_auc_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from torch import nn
from tqdm.auto import tqdm

__all__ = ["ProbeResult", "evaluate_probe", "extract_embeddings", "fit_linear_probe"]


@torch.no_grad()
def extract_embeddings(
    net: nn.Module,
    batches: Iterable[Mapping[str, torch.Tensor]],
    device: str | torch.device = "cpu",
    progress: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Run the frozen ``net`` over ``batches`` (dicts with ``image`` and ``label``) and return
    its features ``X`` float32[N, D] (``net.forward_features``) and the labels ``y`` int64[N]."""
    if not callable(getattr(net, "forward_features", None)):
        raise TypeError(
            f"{type(net).__name__} has no forward_features: every dfd net needs one (see dfd.models.nets)"
        )
    net = net.eval().to(device)
    features: list[torch.Tensor] = []
    labels: list[torch.Tensor] = []
    for batch in tqdm(batches, desc="embeddings", disable=not progress):
        features.append(net.forward_features(batch["image"].to(device)).flatten(1).float().cpu())
        labels.append(torch.as_tensor(batch["label"]).long().cpu())
    if not features:
        raise ValueError("no batches to embed: the split is empty")
    return torch.cat(features).numpy(), torch.cat(labels).numpy()


def fit_linear_probe(
    x: np.ndarray,
    y: np.ndarray,
    smote: bool = False,
    k_neighbors: int = 5,
    c: float = 1.0,
    seed: int = 0,
) -> Pipeline:
    """Standardise, optionally SMOTE-oversample the minority class to 1:1, fit a logistic regression.

    SMOTE runs only when fitting (imbalanced-learn's pipeline skips samplers at predict time),
    so validation and test embeddings are never resampled.
    """
    steps: list[tuple[str, object]] = [("scale", StandardScaler())]
    if smote:
        try:
            from imblearn.over_sampling import SMOTE
            from imblearn.pipeline import Pipeline as ImbPipeline
        except ImportError as err:
            raise ImportError("SMOTE needs imbalanced-learn: pip install -e '.[smote]'") from err
        minority = int(np.bincount(y).min())
        if minority <= k_neighbors:
            raise ValueError(
                f"SMOTE with k_neighbors={k_neighbors} needs more than {k_neighbors} minority samples, "
                f"the training split has {minority}; lower probe.k_neighbors or set probe.smote=false"
            )
        steps.append(("smote", SMOTE(k_neighbors=k_neighbors, random_state=seed)))
        pipeline: Pipeline = ImbPipeline(steps + [("clf", LogisticRegression(C=c, max_iter=2000))])
    else:
        pipeline = Pipeline(steps + [("clf", LogisticRegression(C=c, max_iter=2000))])
    return pipeline.fit(x, y)


@dataclass(frozen=True)
class ProbeResult:
    """Threshold-free (auc, ap) and 0.5-threshold (balanced accuracy, fake recall, f1) metrics."""

    auc: float
    ap: float
    balanced_accuracy: float
    recall_fake: float
    recall_real: float
    f1: float


def evaluate_probe(pipeline: Pipeline, x: np.ndarray, y: np.ndarray) -> ProbeResult:
    """Score a fitted probe on held-out embeddings (label 1 = fake is the positive class)."""
    prob = pipeline.predict_proba(x)[:, 1]
    pred = (prob >= 0.5).astype(np.int64)
    return ProbeResult(
        auc=float(roc_auc_score(y, prob)),
        ap=float(average_precision_score(y, prob)),
        balanced_accuracy=float(balanced_accuracy_score(y, pred)),
        recall_fake=float((pred[y == 1] == 1).mean()),
        recall_real=float((pred[y == 0] == 0).mean()),
        f1=float(f1_score(y, pred)),
    )
