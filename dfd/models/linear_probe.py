"""Linear probe on frozen-backbone embeddings, optionally with SMOTE oversampling.

The backbone is frozen; its penultimate features (the input of its last ``nn.Linear``, the
classifier) are extracted once, and a logistic regression is fitted on them with
scikit-learn. SMOTE (Chawla et al., "SMOTE: Synthetic Minority Over-sampling Technique",
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

__all__ = ["ProbeResult", "classifier_layer", "evaluate_probe", "extract_embeddings", "fit_linear_probe"]


def classifier_layer(net: nn.Module) -> nn.Linear:
    """The last ``nn.Linear`` registered in ``net``: its input is the embedding we probe."""
    linears = [m for m in net.modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise ValueError(
            f"{type(net).__name__} has no nn.Linear classifier whose input could serve as embedding"
        )
    return linears[-1]


@torch.no_grad()
def extract_embeddings(
    net: nn.Module,
    batches: Iterable[Mapping[str, torch.Tensor]],
    device: str | torch.device = "cpu",
    progress: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Run the frozen ``net`` over ``batches`` (dicts with ``image`` and ``label``) and return
    the classifier inputs ``X`` float32[N, D] and the labels ``y`` int64[N]."""
    net = net.eval().to(device)
    captured: list[torch.Tensor] = []
    handle = classifier_layer(net).register_forward_hook(
        lambda _module, inputs, _output: captured.append(inputs[0].flatten(1).float().cpu())
    )
    labels: list[torch.Tensor] = []
    try:
        for batch in tqdm(batches, desc="embeddings", disable=not progress):
            net(batch["image"].to(device))
            labels.append(torch.as_tensor(batch["label"]).long().cpu())
    finally:
        handle.remove()
    if not captured:
        raise ValueError("no batches to embed: the split is empty")
    return torch.cat(captured).numpy(), torch.cat(labels).numpy()


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
