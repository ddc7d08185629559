"""Fusion rules: several detectors' fake logits on the same crops → one fake logit.

Every rule maps member logits ``z float[N, M]`` (``M`` members, the fake logit of each, as
:func:`~dfd.metrics.detection.fake_logit` gives it) to one fused fake logit ``float[N]``, so
the ensemble is calibrated (thresholds, temperature) and reported like a single model. Every
fit uses validation data only.

- ``mean``: the mean of the members' probabilities (``space=prob``) or of their logits.
- ``weighted``: non-negative weights summing to 1, found by Optuna's TPE on validation log-loss
  or AUC. The study starts from equal weights and from each member alone, so the result is
  never worse on validation than the best member or the plain mean.
- ``confidence``: per sample, each member weighs by its confidence: the margin ``|p - 0.5|`` or
  ``1 - entropy(p)``.
- ``stacking``: logistic regression on the member logits; its regularisation is chosen by
  k-fold cross-validation grouped by video (``StratifiedGroupKFold``: no video's frames sit on
  both sides of a fold), and the fused validation logits used for calibration are the
  out-of-fold ones, so calibration never sees in-sample predictions.
- ``attention``: a small gating network maps the member logits (and, with ``use_features``,
  each member's embedding reduced by PCA) to per-sample member weights; the fused logit is the
  weighted sum of member logits. Each fold trains with early stopping on a grouped inner split of
  its training part (never on its held-out videos, whose out-of-fold predictions feed
  calibration and the validation figures); the final net trains on all of validation for the
  median best epoch count.

Rules are stored as plain data (:meth:`Fusion.state`, JSON), so an exported ensemble holds no
pickle.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedGroupKFold
from torch import nn

from dfd.metrics.detection import log_loss

log = logging.getLogger(__name__)

EPS = 1e-7
SPACES = ("prob", "logit")


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -50, 50)))


def logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, EPS, 1 - EPS)
    return np.log(p) - np.log1p(-p)


def grouped_folds(
    y: np.ndarray, groups: Sequence[Any], k: int, seed: int = 0
) -> list[tuple[np.ndarray, np.ndarray]]:
    """``k`` (train, held-out) index pairs, stratified by label and grouped by video: a video's
    frames are all on one side. ``k`` is lowered, with a warning, when there are fewer videos
    of a class than folds."""
    groups = np.asarray([str(g) for g in groups])
    per_group = {g: int(y[groups == g].max()) for g in np.unique(groups)}
    smallest = min(sum(v == c for v in per_group.values()) for c in (0, 1))
    if smallest < 2:
        raise ValueError(
            f"cross-validation needs at least 2 validation videos of each class, got {smallest}: "
            "use a larger validation split"
        )
    if smallest < k:
        log.warning("only %d validation videos of one class: %d folds instead of %d", smallest, smallest, k)
        k = smallest
    splitter = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
    return [(tr, te) for tr, te in splitter.split(np.zeros(len(y)), y, groups)]


class Fusion(ABC):
    """A fusion rule; see the module docstring. ``fit`` returns the fused validation logits that
    calibration should use (out-of-fold for the cross-validated rules)."""

    name: ClassVar[str]
    #: whether :meth:`fuse` reads member embeddings
    needs_features: bool = False

    def fit(
        self, z: np.ndarray, y: np.ndarray, groups: Sequence[Any], features: list[np.ndarray] | None = None
    ) -> np.ndarray:
        return self.fuse(z, features)

    @abstractmethod
    def fuse(self, z: np.ndarray, features: list[np.ndarray] | None = None) -> np.ndarray:
        """The fused fake logit ``float[N]`` of member logits ``z float[N, M]``."""

    def weights(self, z: np.ndarray, features: list[np.ndarray] | None = None) -> np.ndarray:
        """Each member's weight per sample ``float[N, M]`` (rows sum to 1 where weights apply)."""
        return np.full(z.shape, 1.0 / z.shape[1])

    @abstractmethod
    def params(self) -> dict[str, Any]:
        """The rule's settings (its config)."""

    def fitted(self) -> dict[str, Any]:
        """What fitting found, as plain data."""
        return {}

    def load_fitted(self, fitted: dict[str, Any]) -> None:  # noqa: B027 (rules without a fit keep nothing)
        """Restore :meth:`fitted`."""

    def state(self) -> dict[str, Any]:
        """Plain data that rebuilds the fitted rule (:func:`fusion_from_state`)."""
        return {"rule": self.name, "params": self.params(), "fitted": self.fitted()}


class MeanFusion(Fusion):
    name = "mean"

    def __init__(self, space: str = "prob") -> None:
        if space not in SPACES:
            raise ValueError(f"ensemble.space={space!r}: expected one of {list(SPACES)}")
        self.space = space

    def fuse(self, z: np.ndarray, features: list[np.ndarray] | None = None) -> np.ndarray:
        return logit(sigmoid(z).mean(axis=1)) if self.space == "prob" else z.mean(axis=1)

    def params(self) -> dict[str, Any]:
        return {"space": self.space}


def _weighted(z: np.ndarray, w: np.ndarray, space: str) -> np.ndarray:
    """Fused logit of member logits ``z [N, M]`` under weights ``w`` (``[M]`` or ``[N, M]``)."""
    if space == "prob":
        return logit((sigmoid(z) * w).sum(axis=1))
    return (z * w).sum(axis=1)


class WeightedFusion(Fusion):
    name = "weighted"

    def __init__(
        self,
        space: str = "prob",
        objective: str = "log_loss",
        n_trials: int = 200,
        seed: int = 0,
        storage: str | None = None,
        study_name: str | None = None,
    ) -> None:
        if space not in SPACES:
            raise ValueError(f"ensemble.space={space!r}: expected one of {list(SPACES)}")
        if objective not in ("log_loss", "auc"):
            raise ValueError(f"ensemble.objective={objective!r}: expected log_loss or auc")
        self.space, self.objective, self.n_trials, self.seed = space, objective, n_trials, seed
        self.storage, self.study_name = storage, study_name
        self.w: np.ndarray | None = None
        self.best_value: float | None = None

    def fit(
        self, z: np.ndarray, y: np.ndarray, groups: Sequence[Any], features: list[np.ndarray] | None = None
    ) -> np.ndarray:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        m = z.shape[1]

        def weights_of(params: dict[str, float]) -> np.ndarray:
            u = np.array([params[f"w{i}"] for i in range(m)])
            return u / u.sum() if u.sum() > 0 else np.full(m, 1.0 / m)

        def objective(trial: optuna.Trial) -> float:
            w = weights_of({f"w{i}": trial.suggest_float(f"w{i}", 0.0, 1.0) for i in range(m)})
            fused = _weighted(z, w, self.space)
            return (
                log_loss(sigmoid(fused), y)
                if self.objective == "log_loss"
                else float(roc_auc_score(y, fused))
            )

        study = optuna.create_study(
            direction="minimize" if self.objective == "log_loss" else "maximize",
            sampler=optuna.samplers.TPESampler(seed=self.seed),
            storage=self.storage,
            study_name=self.study_name,
            load_if_exists=bool(self.storage and self.study_name),
        )
        if not study.trials:  # equal weights and each member alone: the search starts from the baselines
            study.enqueue_trial({f"w{i}": 1.0 for i in range(m)})
            for j in range(m):
                study.enqueue_trial({f"w{i}": float(i == j) for i in range(m)})
        study.optimize(objective, n_trials=self.n_trials, show_progress_bar=False)
        self.w = weights_of(study.best_params)
        self.best_value = float(study.best_value)
        return self.fuse(z)

    def fuse(self, z: np.ndarray, features: list[np.ndarray] | None = None) -> np.ndarray:
        if self.w is None:
            raise RuntimeError("the weighted rule is not fitted: fit it on validation outputs first")
        return _weighted(z, self.w, self.space)

    def weights(self, z: np.ndarray, features: list[np.ndarray] | None = None) -> np.ndarray:
        assert self.w is not None
        return np.broadcast_to(self.w, z.shape).copy()

    def params(self) -> dict[str, Any]:
        return {
            "space": self.space,
            "objective": self.objective,
            "n_trials": self.n_trials,
            "seed": self.seed,
        }

    def fitted(self) -> dict[str, Any]:
        return {"weights": None if self.w is None else self.w.tolist(), "best_value": self.best_value}

    def load_fitted(self, fitted: dict[str, Any]) -> None:
        self.w = np.asarray(fitted["weights"], dtype=np.float64)
        self.best_value = fitted.get("best_value")


class ConfidenceFusion(Fusion):
    name = "confidence"

    def __init__(self, measure: str = "margin") -> None:
        if measure not in ("margin", "entropy"):
            raise ValueError(f"ensemble.measure={measure!r}: expected margin or entropy")
        self.measure = measure

    def weights(self, z: np.ndarray, features: list[np.ndarray] | None = None) -> np.ndarray:
        p = np.clip(sigmoid(z), EPS, 1 - EPS)
        if self.measure == "margin":
            c = np.abs(p - 0.5)
        else:
            c = 1.0 + (p * np.log2(p) + (1 - p) * np.log2(1 - p))  # 1 - entropy in bits
        total = c.sum(axis=1, keepdims=True)
        uniform = np.full(z.shape, 1.0 / z.shape[1])
        return np.where(total > 1e-12, c / np.maximum(total, 1e-12), uniform)

    def fuse(self, z: np.ndarray, features: list[np.ndarray] | None = None) -> np.ndarray:
        return logit((sigmoid(z) * self.weights(z)).sum(axis=1))

    def params(self) -> dict[str, Any]:
        return {"measure": self.measure}


class StackingFusion(Fusion):
    name = "stacking"

    def __init__(
        self, k: int = 5, c_grid: Sequence[float] = (0.01, 0.1, 1.0, 10.0, 100.0), seed: int = 0
    ) -> None:
        self.k, self.c_grid, self.seed = k, [float(c) for c in c_grid], seed
        self.coef: np.ndarray | None = None
        self.intercept = 0.0
        self.c: float | None = None
        self.folds: list[tuple[np.ndarray, np.ndarray]] = []
        self.cv_log_loss: dict[float, float] = {}

    @staticmethod
    def _x(z: np.ndarray) -> np.ndarray:
        return np.clip(z, -20, 20)

    def fit(
        self, z: np.ndarray, y: np.ndarray, groups: Sequence[Any], features: list[np.ndarray] | None = None
    ) -> np.ndarray:
        x = self._x(z)
        self.folds = grouped_folds(y, groups, self.k, self.seed)
        oof_by_c = {}
        for c in self.c_grid:
            oof = np.zeros(len(y))
            for tr, te in self.folds:
                model = LogisticRegression(C=c, max_iter=2000).fit(x[tr], y[tr])
                oof[te] = model.decision_function(x[te])
            oof_by_c[c] = oof
            self.cv_log_loss[c] = log_loss(sigmoid(oof), y)
        self.c = min(self.cv_log_loss, key=self.cv_log_loss.__getitem__)
        final = LogisticRegression(C=self.c, max_iter=2000).fit(x, y)
        self.coef, self.intercept = final.coef_[0].astype(np.float64), float(final.intercept_[0])
        return oof_by_c[self.c]

    def fuse(self, z: np.ndarray, features: list[np.ndarray] | None = None) -> np.ndarray:
        if self.coef is None:
            raise RuntimeError("the stacking rule is not fitted: fit it on validation outputs first")
        return self._x(z) @ self.coef + self.intercept

    def weights(self, z: np.ndarray, features: list[np.ndarray] | None = None) -> np.ndarray:
        """The meta-learner's coefficients, as shares of their absolute sum."""
        assert self.coef is not None
        share = np.abs(self.coef) / max(np.abs(self.coef).sum(), 1e-12)
        return np.broadcast_to(share, z.shape).copy()

    def params(self) -> dict[str, Any]:
        return {"k": self.k, "c_grid": self.c_grid, "seed": self.seed}

    def fitted(self) -> dict[str, Any]:
        return {
            "coef": None if self.coef is None else self.coef.tolist(),
            "intercept": self.intercept,
            "c": self.c,
            "cv_log_loss": {str(c): v for c, v in self.cv_log_loss.items()},
        }

    def load_fitted(self, fitted: dict[str, Any]) -> None:
        self.coef = np.asarray(fitted["coef"], dtype=np.float64)
        self.intercept = float(fitted["intercept"])
        self.c = fitted.get("c")


class _Gate(nn.Module):
    def __init__(self, n_in: int, n_members: int, hidden: int) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(n_in, hidden), nn.Tanh(), nn.Linear(hidden, n_members))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.net(x), dim=1)


class AttentionFusion(Fusion):
    name = "attention"

    def __init__(
        self,
        hidden: int = 16,
        use_features: bool = False,
        feature_dim: int = 8,
        k: int = 5,
        max_epochs: int = 300,
        patience: int = 25,
        lr: float = 0.01,
        weight_decay: float = 1e-3,
        seed: int = 0,
    ) -> None:
        self.hidden, self.use_features, self.feature_dim, self.k = hidden, use_features, feature_dim, k
        self.max_epochs, self.patience, self.lr, self.weight_decay, self.seed = (
            max_epochs,
            patience,
            lr,
            weight_decay,
            seed,
        )
        self.needs_features = use_features
        self.gate: _Gate | None = None
        self.z_mean = self.z_std = None
        self.pca: list[tuple[np.ndarray, np.ndarray]] = []  # per member: (mean [F], components [F, d])
        self.folds: list[tuple[np.ndarray, np.ndarray]] = []
        self.epochs: int | None = None

    # -- inputs of the gate -----------------------------------------------------------------
    def _fit_inputs(self, z: np.ndarray, features: list[np.ndarray] | None) -> None:
        self.z_mean, self.z_std = z.mean(axis=0), z.std(axis=0) + 1e-6
        self.pca = []
        if self.use_features:
            if not features:
                raise ValueError("ensemble.use_features=true needs member features; score members with torch")
            for f in features:
                mean = f.mean(axis=0)
                _, s, vt = np.linalg.svd(f - mean, full_matrices=False)
                comps = vt[: self.feature_dim].T / (
                    s[: self.feature_dim] / np.sqrt(max(len(f) - 1, 1)) + 1e-6
                )
                self.pca.append((mean, comps))

    def _inputs(self, z: np.ndarray, features: list[np.ndarray] | None) -> torch.Tensor:
        parts = [(z - self.z_mean) / self.z_std]
        if self.use_features:
            if not features:
                raise ValueError("this attention rule reads member features, and none were given")
            parts += [(f - mean) @ comps for f, (mean, comps) in zip(features, self.pca, strict=True)]
        return torch.from_numpy(np.concatenate(parts, axis=1).astype(np.float32))

    # -- training ---------------------------------------------------------------------------
    def _train(
        self, x: torch.Tensor, z: torch.Tensor, y: torch.Tensor, epochs: int, held: tuple | None = None
    ):
        torch.manual_seed(self.seed)
        gate = _Gate(x.shape[1], z.shape[1], self.hidden)
        opt = torch.optim.Adam(gate.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        loss_fn = nn.BCEWithLogitsLoss()
        best, best_epoch, best_state = float("inf"), 0, None
        for epoch in range(1, epochs + 1):
            opt.zero_grad()
            loss = loss_fn((gate(x) * z).sum(dim=1), y)
            loss.backward()
            opt.step()
            if held is not None:
                hx, hz, hy = held
                with torch.no_grad():
                    held_loss = float(loss_fn((gate(hx) * hz).sum(dim=1), hy))
                if held_loss < best - 1e-6:
                    best, best_epoch = held_loss, epoch
                    best_state = {k: v.clone() for k, v in gate.state_dict().items()}
                elif epoch - best_epoch >= self.patience:
                    break
        if best_state is not None:
            gate.load_state_dict(best_state)
        return gate.eval(), best_epoch or epochs

    def fit(
        self, z: np.ndarray, y: np.ndarray, groups: Sequence[Any], features: list[np.ndarray] | None = None
    ) -> np.ndarray:
        self._fit_inputs(z, features)
        x = self._inputs(z, features)
        zt, yt = (
            torch.from_numpy(np.clip(z, -20, 20).astype(np.float32)),
            torch.from_numpy(y.astype(np.float32)),
        )
        groups = np.asarray([str(g) for g in groups])
        self.folds = grouped_folds(y, groups, self.k, self.seed)
        oof, best_epochs = np.zeros(len(y)), []
        for tr, te in self.folds:
            fit_part, stop_part = self._stopping_split(tr, y, groups)
            held = (x[stop_part], zt[stop_part], yt[stop_part]) if len(stop_part) else None
            gate, epoch = self._train(x[fit_part], zt[fit_part], yt[fit_part], self.max_epochs, held)
            with torch.no_grad():
                oof[te] = (gate(x[te]) * zt[te]).sum(dim=1).numpy()
            best_epochs.append(epoch)
        self.epochs = int(np.median(best_epochs))
        self.gate, _ = self._train(x, zt, yt, self.epochs)
        return oof

    def _stopping_split(
        self, tr: np.ndarray, y: np.ndarray, groups: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """A fold's training indices split by video into (fit, early stopping): one fold of a
        grouped k-fold split of the training part. Stopping on the fold's held-out videos would
        make its out-of-fold predictions optimistic. Too few videos for an inner split: no early
        stopping (``max_epochs``), with a warning."""
        try:
            inner_tr, inner_stop = grouped_folds(y[tr], groups[tr], self.k, self.seed + 1)[0]
        except ValueError:
            log.warning(
                "too few videos in a fold's training part for an early-stopping split: it trains "
                "max_epochs=%d epochs (ensemble.max_epochs)",
                self.max_epochs,
            )
            return tr, tr[:0]
        return tr[inner_tr], tr[inner_stop]

    def weights(self, z: np.ndarray, features: list[np.ndarray] | None = None) -> np.ndarray:
        if self.gate is None:
            raise RuntimeError("the attention rule is not fitted: fit it on validation outputs first")
        with torch.no_grad():
            return self.gate(self._inputs(z, features)).numpy().astype(np.float64)

    def fuse(self, z: np.ndarray, features: list[np.ndarray] | None = None) -> np.ndarray:
        return (self.weights(z, features) * np.clip(z, -20, 20)).sum(axis=1)

    def params(self) -> dict[str, Any]:
        return {"hidden": self.hidden, "use_features": self.use_features, "feature_dim": self.feature_dim,
                "k": self.k, "max_epochs": self.max_epochs, "patience": self.patience, "lr": self.lr,
                "weight_decay": self.weight_decay, "seed": self.seed}  # fmt: skip

    def fitted(self) -> dict[str, Any]:
        if self.gate is None:
            return {}
        return {
            "epochs": self.epochs,
            "z_mean": self.z_mean.tolist(),
            "z_std": self.z_std.tolist(),
            "pca": [{"mean": m.tolist(), "components": c.tolist()} for m, c in self.pca],
            "gate": {k: v.tolist() for k, v in self.gate.state_dict().items()},
            "n_members": int(len(self.z_mean)),
        }

    def load_fitted(self, fitted: dict[str, Any]) -> None:
        self.epochs = fitted["epochs"]
        self.z_mean, self.z_std = np.asarray(fitted["z_mean"]), np.asarray(fitted["z_std"])
        self.pca = [(np.asarray(p["mean"]), np.asarray(p["components"])) for p in fitted["pca"]]
        state = {k: torch.tensor(v, dtype=torch.float32) for k, v in fitted["gate"].items()}
        n_in = state["net.0.weight"].shape[1]
        self.gate = _Gate(n_in, int(fitted["n_members"]), self.hidden)
        self.gate.load_state_dict(state)
        self.gate.eval()


RULES: dict[str, type[Fusion]] = {
    r.name: r for r in (MeanFusion, WeightedFusion, ConfidenceFusion, StackingFusion, AttentionFusion)
}


def make_fusion(rule: str, **params: Any) -> Fusion:
    """A fusion rule by name (``conf/ensemble/<rule>.yaml``)."""
    if rule not in RULES:
        raise ValueError(f"method={rule!r}: expected one of {sorted(RULES)}")
    return RULES[rule](**params)


def fusion_from_state(state: dict[str, Any]) -> Fusion:
    """The fitted rule :meth:`Fusion.state` describes."""
    fusion = make_fusion(state["rule"], **state.get("params", {}))
    if state.get("fitted"):
        fusion.load_fitted(state["fitted"])
    return fusion


def agreement(
    member_probs: np.ndarray, member_thresholds: Sequence[float], fused_probs: np.ndarray, threshold: float
) -> np.ndarray:
    """The share of members on the ensemble's side of each sample ``float[N]``: each member decides at
    its own threshold, the ensemble at ``threshold``."""
    members_fake = member_probs > np.asarray(member_thresholds)[None, :]
    ensemble_fake = (fused_probs > threshold)[:, None]
    return (members_fake == ensemble_fake).mean(axis=1)
