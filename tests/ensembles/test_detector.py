"""An ensemble scores crops like one detector; its exported folder loads back to the same scores,
without pickle, and refuses an edited file."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch

from dfd.ensembles.detector import (
    ENSEMBLE_JSON,
    EnsembleDetector,
    is_ensemble_folder,
    load_ensemble,
    write_ensemble_folder,
)
from dfd.ensembles.fusion import AttentionFusion, WeightedFusion, sigmoid
from dfd.inference.detector import ModelInfo, TorchDetector
from dfd.inference.export import TamperedModel, export_model
from dfd.metrics.calibration import Calibration
from dfd.models.nets.mesonet import Meso4, MesoInception4

CROPS = [np.random.default_rng(k).integers(0, 256, (70, 70, 3), dtype=np.uint8) for k in range(5)]


@pytest.fixture(scope="module")
def members(tmp_path_factory) -> tuple[Path, list[TorchDetector]]:
    """Two exported members with different nets and input sizes, and the same nets in memory."""
    out = tmp_path_factory.mktemp("ensemble") / "exported"
    detectors = []
    for k, (cls, size) in enumerate(((Meso4, 64), (MesoInception4, 48))):
        torch.manual_seed(k)
        net = cls(input_size=size).eval()
        target = f"{cls.__module__}.{cls.__name__}"
        export_model(net, {"target": target, "kwargs": {"input_size": size}}, out / "members" / f"{k:02d}_m{k}",
                     name=f"m{k}")  # fmt: skip
        detectors.append(TorchDetector(net, ModelInfo(net.input_spec)))
    return out, detectors


def _fitted_weighted() -> WeightedFusion:
    fusion = WeightedFusion()
    fusion.load_fitted({"weights": [0.3, 0.7]})
    return fusion


def test_an_ensemble_score_is_the_fused_member_logits(members) -> None:
    _, detectors = members
    fusion = _fitted_weighted()
    ensemble = EnsembleDetector(
        [("m0", detectors[0]), ("m1", detectors[1])], fusion, ModelInfo(detectors[0].info.input_spec)
    )
    z, feats = ensemble.member_logits(CROPS)
    assert z.shape == (5, 2) and feats is None
    expected = sigmoid(
        np.log(0.3 * sigmoid(z[:, 0]) + 0.7 * sigmoid(z[:, 1]))
        - np.log1p(-(0.3 * sigmoid(z[:, 0]) + 0.7 * sigmoid(z[:, 1])))
    )
    assert np.allclose(ensemble.score(CROPS), expected, atol=1e-6)
    assert np.allclose(z[:, 0], detectors[0].logits(detectors[0].prepare(CROPS))[:, 0], atol=1e-6)


def test_the_exported_folder_gives_the_in_memory_scores_and_checks_every_file(members) -> None:
    out, detectors = members
    fusion = _fitted_weighted()
    cal = Calibration(thresholds={"f1": 0.4, "youden": 0.45, "precision": 0.6})
    write_ensemble_folder(out, [("m0", out / "members/00_m0"), ("m1", out / "members/01_m1")], fusion, cal,
                          {"margin": 0.2}, {"data": "synthetic"}, [0.3, 0.7], name="two mesos")  # fmt: skip
    assert is_ensemble_folder(out)
    description = json.loads((out / ENSEMBLE_JSON).read_text())
    assert {
        "members/00_m0/model.onnx",
        "members/01_m1/model.safetensors",
        "members/00_m0/MODEL_CARD.md",
    } <= set(description["files"])
    assert "| m1 | MesoInception4 | 48 px | 0.7000 |" in (out / "MODEL_CARD.md").read_text()
    in_memory = EnsembleDetector(
        [("m0", detectors[0]), ("m1", detectors[1])], fusion, ModelInfo(detectors[0].info.input_spec)
    )
    for backend in ("onnx", "torch"):
        loaded = load_ensemble(out, backend)
        assert loaded.info.calibration.thresholds["f1"] == 0.4 and loaded.info.name == "two mesos"
        assert np.abs(loaded.score(CROPS) - in_memory.score(CROPS)).max() < 1e-4
    onnx_file = out / "members/01_m1/model.onnx"
    original = onnx_file.read_bytes()
    try:
        onnx_file.write_bytes(original[:-10] + b"0123456789")
        with pytest.raises(TamperedModel, match="01_m1/model.onnx differs"):
            load_ensemble(out)
    finally:
        onnx_file.write_bytes(original)


def test_a_rule_reading_embeddings_runs_its_members_in_torch(members, tmp_path) -> None:
    import shutil

    out, detectors = members
    rng = np.random.default_rng(0)
    z = rng.normal(size=(40, 2))
    y = np.array([0, 1] * 20)
    features = [
        rng.normal(size=(40, detectors[0].net.num_features)),
        rng.normal(size=(40, detectors[1].net.num_features)),
    ]
    fusion = AttentionFusion(use_features=True, feature_dim=2, max_epochs=5, k=2)
    fusion.fit(z, y, [f"v{i}" for i in range(40)], features)
    folder = tmp_path / "att"
    shutil.copytree(out / "members", folder / "members")
    write_ensemble_folder(folder, [("m0", folder / "members/00_m0"), ("m1", folder / "members/01_m1")], fusion,
                          None, None, {}, [0.5, 0.5], name="attention")  # fmt: skip
    loaded = load_ensemble(folder, "onnx")
    assert all(isinstance(d, TorchDetector) for _, d in loaded.members)
    assert loaded.score(CROPS).shape == (5,)


@dataclass
class _Face:
    box: tuple[int, int, int, int]
    score: float = 0.99


class _TwoFaces:
    """A stand-in for the MTCNN cropper: two fixed faces per image, cropped by slicing."""

    min_score = 0.9

    def can_detect(self, height: int, width: int) -> bool:
        return True

    def detect_all(self, frames: np.ndarray) -> list[list[_Face]]:
        return [[_Face((0, 0, 70, 70)), _Face((30, 30, 100, 100))] for _ in frames]

    def crop(self, image: np.ndarray, face: _Face) -> np.ndarray:
        x1, y1, x2, y2 = face.box
        return image[y1:y2, x1:x2]


def test_an_exported_ensemble_reports_its_members_agreement_and_flags_low_agreement(
    members, tmp_path
) -> None:
    """The agreement threshold travels in dfd_ensemble.json, and predictions of the loaded folder get
    per-input agreement (each member at its own threshold: 0.5 here, as they have no calibration;
    the ensemble at its own) and low_agreement; a single model's rows have neither column."""
    import shutil

    from PIL import Image

    from dfd.inference.predictor import COLUMNS, PredictOptions, Predictor

    out, detectors = members
    folder = tmp_path / "agree"
    shutil.copytree(out / "members", folder / "members")
    # the random members put every crop a little above 0.5 (fake at 0.5); the fused probability
    # is fake at youden 0.4, real at f1 0.9
    cuts = {"f1": 0.9, "youden": 0.4, "precision": 0.95}
    cal = Calibration(thresholds=cuts, video_thresholds={"mean": cuts})
    write_ensemble_folder(folder, [("m0", folder / "members/00_m0"), ("m1", folder / "members/01_m1")],
                          _fitted_weighted(), cal, None, {}, [0.3, 0.7], name="two mesos",
                          agreement_threshold=0.6)  # fmt: skip
    assert json.loads((folder / ENSEMBLE_JSON).read_text())["agreement_threshold"] == 0.6
    loaded = load_ensemble(folder, "onnx")
    assert loaded.agreement_threshold == 0.6
    z, _ = loaded.member_logits(CROPS)
    assert (sigmoid(z) > 0.5).all()  # the premise: both members say fake on every crop
    for choice, expected in (("youden", 1.0), ("f1", 0.0)):
        probs, agree = loaded.score_with_agreement(CROPS, choice)
        assert np.array_equal(probs, loaded.score(CROPS)) and np.all(agree == expected)

    image = tmp_path / "two.png"
    Image.fromarray(np.random.default_rng(9).integers(0, 256, (100, 100, 3), dtype=np.uint8)).save(image)
    for choice, agreement, low in (("youden", 1.0, 0), ("f1", 0.0, 1)):
        predictor = Predictor(loaded, _TwoFaces(), PredictOptions(threshold=choice))  # type: ignore[arg-type]
        prediction = predictor.predict(image)
        assert predictor.columns == (*COLUMNS, "agreement", "low_agreement")
        assert list(prediction.row) == list(predictor.columns)
        assert prediction.row["agreement"] == agreement and prediction.row["low_agreement"] == low
        assert [f["agreement"] for f in prediction.frames] == [agreement, agreement]
        # an input that was not scored has the columns, empty
        missing = predictor.predict(tmp_path / "absent.png").row
        assert missing["status"] == "missing" and missing["agreement"] is None
    single = Predictor(detectors[0], _TwoFaces())  # type: ignore[arg-type]
    assert single.columns == COLUMNS and "agreement" not in single.predict(image).row


def _ensemble(members, folder: Path) -> Path:
    import shutil

    out, _ = members
    shutil.copytree(out / "members", folder / "members")
    return write_ensemble_folder(folder, [("m0", folder / "members/00_m0"), ("m1", folder / "members/01_m1")],
                                 _fitted_weighted(), None, None, {}, [0.3, 0.7], name="pinned")  # fmt: skip


def _edit(folder: Path, edit) -> None:
    d = json.loads((folder / ENSEMBLE_JSON).read_text())
    edit(d)
    (folder / ENSEMBLE_JSON).write_text(json.dumps(d))


def test_an_exported_ensemble_has_a_digest_that_pins_it_members_included(members, tmp_path) -> None:
    from dfd.inference.export import folder_digest

    folder = _ensemble(members, tmp_path / "e")
    digest = folder_digest(folder)
    assert f"digest: `{digest}`" in (folder / "MODEL_CARD.md").read_text()
    assert load_ensemble(folder, digest=digest).score(CROPS).shape == (5,)
    # a member's calibration edited, and its checksum in dfd_ensemble.json redone: schema-valid
    member_json = folder / "members/00_m0/dfd_model.json"
    d = json.loads(member_json.read_text())
    d["calibration"] = {"thresholds": {"f1": 0.0, "youden": 0.0, "precision": 0.0}}
    member_json.write_text(json.dumps(d))
    from dfd.core.digest import file_sha256

    _edit(folder, lambda e: e["files"].update({"members/00_m0/dfd_model.json": file_sha256(member_json)}))
    assert load_ensemble(folder).members[0][1].info.calibration.thresholds["f1"] == 0.0
    with pytest.raises(TamperedModel, match="is not the pinned digest.*dfd_ensemble.json itself changed"):
        load_ensemble(folder, digest=digest)
    folder = _ensemble(members, tmp_path / "f")
    (folder / "members/01_m1/extra.onnx").write_bytes(b"x")
    with pytest.raises(TamperedModel, match="members/01_m1/extra.onnx was added"):
        load_ensemble(folder, digest=digest)


def test_an_ensemble_folder_lists_only_files_inside_it(members, tmp_path) -> None:
    from dfd.core.digest import file_sha256
    from dfd.inference.export import InvalidModel

    folder = _ensemble(members, tmp_path / "e")
    (tmp_path / "secret").write_text("outside")
    _edit(folder, lambda e: e["files"].update({"members/../../secret": file_sha256(tmp_path / "secret")}))
    with pytest.raises(
        InvalidModel, match="files has the entry 'members/../../secret': expected a plain file"
    ):
        load_ensemble(folder)
    folder = _ensemble(members, tmp_path / "f")
    _edit(folder, lambda e: e["members"][0].update(dir="../f/members/00_m0"))
    with pytest.raises(InvalidModel, match=r"members\[0\].dir='../f/members/00_m0': expected members/<name>"):
        load_ensemble(folder)
    folder = _ensemble(members, tmp_path / "g")
    _edit(folder, lambda e: e["files"].pop("members/01_m1/model.onnx"))
    with pytest.raises(InvalidModel, match="files lists no checksum for members/01_m1/model.onnx"):
        load_ensemble(folder)
    _edit(folder, lambda e: e.update(fusion={"rule": "weighted", "fitted": {"weights": "x"}}))
    (folder / ENSEMBLE_JSON).write_text((folder / ENSEMBLE_JSON).read_text()[:-1])
    with pytest.raises(InvalidModel, match=r"g/dfd_ensemble.json: invalid JSON at line 1, column \d+"):
        load_ensemble(folder)
    folder = _ensemble(members, tmp_path / "h")
    _edit(folder, lambda e: e.update(fusion={"rule": "weighted", "fitted": {"weights": "x"}}))
    with pytest.raises(InvalidModel, match="dfd_ensemble.json: fusion is not a fitted rule dfd can rebuild"):
        load_ensemble(folder)
