"""``dfd.ensemble``'s member loading: what it refuses before any data is read."""

from __future__ import annotations

from pathlib import Path

import pytest
from torch import nn

from dfd.core.input_spec import InputSpec
from dfd.ensembles import tasks
from dfd.inference.detector import ModelInfo, TorchDetector


def test_a_clip_model_is_refused_as_a_member(monkeypatch, tmp_path: Path) -> None:
    def fake_load(path, *args, **kwargs):
        clip_len = 4 if Path(path).name == "clips" else None
        return TorchDetector(nn.Identity(), ModelInfo(InputSpec(32), clip_len=clip_len))

    monkeypatch.setattr(tasks, "load_detector", fake_load)
    for name in ("frames", "clips"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "dfd_model.json").write_text("{}")
    with pytest.raises(ValueError, match="scores clips of 4 frames: an ensemble fuses frame models"):
        tasks.load_members([str(tmp_path / "frames"), str(tmp_path / "clips")], None, "cpu", 8, False)
