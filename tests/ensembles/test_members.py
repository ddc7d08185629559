"""Members score the same crops, each through its own input spec, once: outputs are cached."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from dfd.core.input_spec import InputSpec
from dfd.data.datamodule import FrameDataset
from dfd.data.transforms import build_eval_transform
from dfd.ensembles import members as members_module
from dfd.ensembles.members import Member, score_members
from dfd.inference.detector import ModelInfo, TorchDetector
from dfd.preprocessing.fingerprint import fingerprint
from dfd.preprocessing.manifest import write_manifest


class MeanPixel(nn.Module):
    """Fake logit = the mean of the input it receives; embedding = its per-channel means."""

    num_classes = 1

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=(2, 3))

    def forward_head(self, f: torch.Tensor) -> torch.Tensor:
        return f.mean(dim=1, keepdim=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))


def _member(name: str, spec: InputSpec) -> Member:
    return Member(name, Path(name), TorchDetector(MeanPixel(), ModelInfo(spec)), sha256=f"{name:0<64}")


@pytest.fixture
def crops(tmp_path: Path) -> FrameDataset:
    rng = np.random.default_rng(0)
    rows = []
    for k in range(10):
        image = rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)
        cv2.imwrite(str(tmp_path / f"{k}.png"), image)
        rows.append({"video_id": f"v{k // 2}", "frame_idx": k % 2, "crop_path": f"{k}.png", "method": "m",
                     "split": "val", "label": k % 2})  # fmt: skip
    spec = InputSpec(size=8)
    return FrameDataset(tmp_path, pd.DataFrame(rows), build_eval_transform(spec))


def test_each_member_scores_the_same_crops_through_its_own_size_and_normalisation(crops, tmp_path) -> None:
    small = _member("small", InputSpec(size=16, mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0)))
    other = _member("other", InputSpec(size=24, mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25)))
    out = score_members([small, other], crops, cache_dir=None, batch_size=4)
    for k in range(len(crops)):
        image = crops.load_image(k)
        for member in (small, other):
            spec = member.detector.info.input_spec
            expected = build_eval_transform(spec)(image=image)["image"].mean()
            assert out[member.name]["logits"][k] == pytest.approx(float(expected), abs=1e-5)
    # the two normalisations give different numbers for the same crop
    assert not np.allclose(out["small"]["logits"], out["other"]["logits"])
    assert out["other"]["features"].shape == (len(crops), 3)


def test_a_second_rule_reads_the_cache_and_runs_no_member(crops, tmp_path, monkeypatch) -> None:
    members = [_member("a", InputSpec(size=8)), _member("b", InputSpec(size=12))]
    first = score_members(members, crops, cache_dir=tmp_path / "cache")
    assert len(list((tmp_path / "cache").glob("*.safetensors"))) == 2

    def no_forward(*_args, **_kwargs):
        raise AssertionError("a cached member ran a forward pass")

    monkeypatch.setattr(members_module, "member_outputs", no_forward)
    again = score_members(members, crops, cache_dir=tmp_path / "cache")
    for name in ("a", "b"):
        assert np.array_equal(again[name]["logits"], first[name]["logits"])


def test_other_samples_or_another_checkpoint_miss_the_cache(crops, tmp_path) -> None:
    member = _member("a", InputSpec(size=8))
    score_members([member], crops, cache_dir=tmp_path / "cache")
    fewer = FrameDataset(tmp_path, pd.DataFrame({"video_id": ["v0"], "frame_idx": [0], "crop_path": ["0.png"],
                                                 "method": ["m"], "split": ["val"], "label": [0]}),
                         build_eval_transform(InputSpec(size=8)))  # fmt: skip
    score_members([member], fewer, cache_dir=tmp_path / "cache")
    retrained = Member("a", member.path, member.detector, sha256="f" * 64)
    score_members([retrained], crops, cache_dir=tmp_path / "cache")
    assert len(list((tmp_path / "cache").glob("*.safetensors"))) == 3


def test_crops_regenerated_in_place_under_a_new_manifest_miss_the_cache(crops, tmp_path, monkeypatch) -> None:
    """Same member, same crop paths: a changed manifest (crops made again) must be scored again."""
    member = _member("a", InputSpec(size=8))
    rows = crops.sample_table().assign(crop_path=[f"{k}.png" for k in range(len(crops))], x1=0.0)
    meta = {"detector": "facenet-pytorch MTCNN", "margin": 0.2, "crop_size": 40}
    write_manifest(tmp_path, rows, meta)
    first = score_members([member], crops, tmp_path / "cache", data_fingerprint=fingerprint(meta, tmp_path))
    # unchanged manifest: the cache answers
    calls = []
    real = members_module.member_outputs
    monkeypatch.setattr(members_module, "member_outputs", lambda *a: calls.append(1) or real(*a))
    score_members([member], crops, tmp_path / "cache", data_fingerprint=fingerprint(meta, tmp_path))
    assert calls == []
    # the crops are made again (other boxes, other pixels) under the same paths
    for k in range(len(crops)):
        cv2.imwrite(str(tmp_path / f"{k}.png"), np.full((40, 40, 3), 10 * k, dtype=np.uint8))
    write_manifest(tmp_path, rows.assign(x1=3.0), meta)
    again = score_members([member], crops, tmp_path / "cache", data_fingerprint=fingerprint(meta, tmp_path))
    assert calls, "the stale cached outputs were read"
    assert not np.allclose(again["a"]["logits"], first["a"]["logits"])
    assert len(list((tmp_path / "cache").glob("*.safetensors"))) == 2
