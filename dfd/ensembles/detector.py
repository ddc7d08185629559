"""An ensemble that scores face crops like a single detector, and its exported folder.

:class:`EnsembleDetector` runs each member on the same crops (each with its own transform),
fuses the members' fake logits with the fitted rule and returns the fused fake probability, so
:class:`~dfd.inference.predictor.Predictor` (``dfd.predict``, ``dfd.serve``) runs it like one
model, with the ensemble's own calibration. It also gives each crop's agreement (the share of
members on the ensemble's side, each member at its own calibrated threshold), which
``dfd.predict`` reports with ``low_agreement`` under the run's ``agreement_threshold``.

An exported ensemble is one folder:

- ``members/<k>_<name>/``: each member as a ``dfd.export`` folder (ONNX, safetensors, its own
  ``dfd_model.json``, card);
- ``dfd_ensemble.json``: the members (folder, name, net, input size), the fitted fusion rule as
  plain data, the ensemble's calibration, the ``agreement_threshold``, the preprocessing
  fingerprint, the validation and test figures, the versions, and the sha256 of every file in
  the folder, members' included;
- ``MODEL_CARD.md``, with the folder's digest (:func:`dfd.inference.export.folder_digest`: every
  file but this top-level card, members' cards included).

:func:`load_ensemble` checks the pinned digest (when given), every checksum, the schema of
``dfd_ensemble.json`` (member folders inside ``members/``, each member's files checksummed, the
calibration) and loads the members without unpickling. Members
run in ONNX Runtime by default; a rule that reads member embeddings (``attention`` with
``use_features``) runs them in torch from their safetensors, since their ONNX graphs output
logits only.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dfd.ensembles.fusion import Fusion, agreement, fusion_from_state, sigmoid
from dfd.inference.detector import Detector, ModelInfo, TorchDetector
from dfd.inference.export import (
    MODEL_JSON,
    ONNX_FILE,
    WEIGHTS_FILE,
    InvalidModel,
    check_calibration,
    check_digest,
    check_files,
    check_preprocessing,
    load_exported,
    read_description,
    read_json,
    seal_folder,
    verify_files,
    versions,
)
from dfd.metrics.calibration import Calibration, resolve_threshold
from dfd.metrics.detection import fake_logit

FORMAT = "dfd-ensemble"
FORMAT_VERSION = 1
ENSEMBLE_JSON = "dfd_ensemble.json"
MEMBERS_DIR = "members"
#: ``agreement_threshold`` of folders exported before it was written (``conf/ensemble.yaml``'s default)
DEFAULT_AGREEMENT_THRESHOLD = 0.75

log = logging.getLogger(__name__)


class EnsembleDetector(Detector):
    """Members' fake logits on the same crops → the fitted fusion rule → one fake probability."""

    def __init__(
        self,
        members: Sequence[tuple[str, Detector]],
        fusion: Fusion,
        info: ModelInfo,
        batch_size: int = 32,
        agreement_threshold: float = DEFAULT_AGREEMENT_THRESHOLD,
    ):
        super().__init__(info, batch_size)
        self.members = list(members)
        self.fusion = fusion
        self.agreement_threshold = agreement_threshold
        if fusion.needs_features and not all(isinstance(d, TorchDetector) for _, d in self.members):
            raise ValueError(f"the {fusion.name} rule reads member embeddings: its members must run in torch")

    def logits(self, images: np.ndarray) -> np.ndarray:
        raise TypeError("an ensemble scores face crops (score), not one net's prepared input")

    def member_logits(self, crops: Sequence[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray] | None]:
        """Member fake logits ``float[N, M]`` and, when the rule reads them, their embeddings."""
        zs, feats = [], []
        for _, det in self.members:
            x = det.prepare(crops)
            if self.fusion.needs_features:
                assert isinstance(det, TorchDetector)
                logits, f = det.logits_and_features(x)
                feats.append(f)
            else:
                logits = det.logits(x)
            zs.append(fake_logit(torch.from_numpy(logits)).numpy())
        return np.stack(zs, axis=1).astype(np.float64), (feats if self.fusion.needs_features else None)

    def score(self, crops: Sequence[np.ndarray]) -> np.ndarray:
        return self._score(crops)[0]

    def score_with_agreement(
        self, crops: Sequence[np.ndarray], threshold: str | float = "f1"
    ) -> tuple[np.ndarray, np.ndarray]:
        """Fused fake probabilities and each crop's agreement ``float[N]``: the share of members
        on the ensemble's side, each member at its own calibrated ``threshold`` and the ensemble
        at its own (0.5 for one without calibration), as ``dfd.ensemble`` measures it."""
        probs, member_probs = self._score(crops)
        if len(crops) == 0:
            return probs, np.zeros(0, dtype=np.float32)
        cuts = [_frame_threshold(threshold, d.info.calibration) for _, d in self.members]
        agree = agreement(member_probs, cuts, probs, _frame_threshold(threshold, self.info.calibration))
        return probs, agree.astype(np.float32)

    def _score(self, crops: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Fused probabilities ``float[N]`` and member probabilities ``float[N, M]``, one pass."""
        if len(crops) == 0:
            return np.zeros(0, dtype=np.float32), np.zeros((0, len(self.members)))
        out, members = [], []
        for start in range(0, len(crops), self.batch_size):
            z, feats = self.member_logits(crops[start : start + self.batch_size])
            out.append(sigmoid(self.fusion.fuse(z, feats)).astype(np.float32))
            members.append(sigmoid(z))
        return np.concatenate(out), np.concatenate(members)


def _frame_threshold(choice: str | float, calibration: Calibration | None) -> float:
    return resolve_threshold(choice, calibration, "frame") if calibration is not None else 0.5


def write_ensemble_folder(
    out_dir: str | Path,
    member_dirs: Sequence[tuple[str, Path]],
    fusion: Fusion,
    calibration: Calibration | None,
    preprocessing: dict[str, Any] | None,
    training: dict[str, Any],
    weights: Sequence[float],
    name: str,
    agreement_threshold: float = DEFAULT_AGREEMENT_THRESHOLD,
) -> Path:
    """Write ``dfd_ensemble.json`` and ``MODEL_CARD.md`` beside the members already exported under
    ``out_dir/members/`` (see the module docstring); return the folder."""
    out = Path(out_dir)
    members = []
    for (member_name, folder), weight in zip(member_dirs, weights, strict=True):
        description = read_description(folder)
        members.append({
            "name": member_name,
            "dir": str(Path(folder).relative_to(out)),
            "net": description["net"]["target"].rsplit(".", 1)[-1],
            "input_size": description["input_spec"]["size"],
            "weight": float(weight),
        })  # fmt: skip
    description = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "name": name,
        "members": members,
        "fusion": fusion.state(),
        "calibration": calibration.to_dict() if calibration else None,
        # samples with fewer members on the ensemble's side are flagged low_agreement
        "agreement_threshold": float(agreement_threshold),
        "preprocessing": preprocessing,
        "training": training,
        "versions": versions(),
    }
    seal_folder(out, description, ENSEMBLE_JSON)  # every file, members' included, checksummed
    return out


def read_ensemble_description(model_dir: str | Path, digest: str | None = None) -> dict[str, Any]:
    """``dfd_ensemble.json`` after checking the pinned ``digest`` (when given), the checksum of every
    file it lists and its schema."""
    model_dir = Path(model_dir)
    path = model_dir / ENSEMBLE_JSON
    if digest is not None:
        check_digest(model_dir, digest, ENSEMBLE_JSON, "ensemble")
    description = read_json(path)
    if description.get("format") != FORMAT:
        raise InvalidModel(f"{path}: format={description.get('format')!r}: expected {FORMAT!r}")
    members = description.get("members")
    if not isinstance(members, list) or not members or not all(isinstance(m, dict) for m in members):
        raise InvalidModel(f"{path}: members={members!r}: expected a list of member folders")
    dirs = []
    for k, m in enumerate(members):
        folder = m.get("dir")
        parts = folder.split("/") if isinstance(folder, str) else []
        if len(parts) != 2 or parts[0] != MEMBERS_DIR or parts[1] in ("", ".", "..") or "\\" in folder:
            raise InvalidModel(
                f"{path}: members[{k}].dir={folder!r}: expected {MEMBERS_DIR}/<name>, inside the folder"
            )
        if not isinstance(m.get("name"), str):
            raise InvalidModel(f"{path}: members[{k}].name={m.get('name')!r}: expected a string")
        dirs.append(folder)
    required = tuple(f"{d}/{f}" for d in dirs for f in (MODEL_JSON, ONNX_FILE, WEIGHTS_FILE))
    check_files(path, description, required=required, nested=True)
    verify_files(model_dir, description, "ensemble")
    check_calibration(path, description.get("calibration"))
    check_preprocessing(path, description.get("preprocessing"))
    if not isinstance(description.get("fusion"), dict):
        raise InvalidModel(
            f"{path}: fusion={description.get('fusion')!r}: expected the fitted rule (rule, params, fitted)"
        )
    threshold = description.get("agreement_threshold", DEFAULT_AGREEMENT_THRESHOLD)
    if isinstance(threshold, bool) or not isinstance(threshold, int | float) or not 0 <= threshold <= 1:
        raise InvalidModel(f"{path}: agreement_threshold={threshold!r}: expected a share in [0, 1]")
    return description


def is_ensemble_folder(path: str | Path) -> bool:
    return (Path(path) / ENSEMBLE_JSON).is_file()


def load_ensemble(
    model_dir: str | Path,
    backend: str = "onnx",
    batch_size: int = 32,
    device: str = "cpu",
    digest: str | None = None,
) -> EnsembleDetector:
    """The :class:`EnsembleDetector` of an exported ensemble folder (the pinned ``digest``, when
    given, and checksums verified first)."""
    model_dir = Path(model_dir)
    d = read_ensemble_description(model_dir, digest)
    try:
        fusion = fusion_from_state(d["fusion"])
    except (KeyError, TypeError, ValueError, IndexError) as err:
        raise InvalidModel(
            f"{model_dir / ENSEMBLE_JSON}: fusion is not a fitted rule dfd can rebuild ({type(err).__name__}: {err})"
        ) from None
    if fusion.needs_features and backend != "torch":
        log.info("the %s rule reads member embeddings: members run in torch (safetensors)", fusion.name)
        backend = "torch"
    members = [
        (m["name"], load_exported(model_dir / m["dir"], backend, batch_size, device)) for m in d["members"]
    ]
    cal = d.get("calibration")
    info = ModelInfo(
        input_spec=members[0][1].info.input_spec,
        calibration=Calibration.from_dict(cal) if cal else None,
        preprocessing=d.get("preprocessing"),
        name=d.get("name", "dfd ensemble"),
        extra={"training": d.get("training", {}), "members": d["members"]},
    )
    threshold = d.get("agreement_threshold", DEFAULT_AGREEMENT_THRESHOLD)
    return EnsembleDetector(members, fusion, info, batch_size, agreement_threshold=float(threshold))
