"""Loading torch files without running code from them: plain data loads, a crafted pickle is refused."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from dfd.core.safe_load import UnsafeCheckpoint, load_torch_file


class Payload:
    """What a malicious .pth holds: unpickling it runs a command."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def crafted(tmp_path: Path) -> tuple[Path, Path]:
    marker = tmp_path / "pwned"
    path = tmp_path / "weights.pth"
    torch.save({"state_dict": {"w": torch.zeros(1)}, "trap": Payload(marker)}, path)
    return path, marker


def test_a_crafted_pickle_is_refused_not_run(tmp_path):
    path, marker = crafted(tmp_path)
    with pytest.raises(UnsafeCheckpoint, match=r"could run code .* add model.allow_pickle=true") as refused:
        load_torch_file(path, opt_in="model.allow_pickle=true")
    assert not marker.exists()
    assert "GLOBAL posix.system" in str(refused.value)  # what the file asks for, named
    assert "add_safe_globals" not in str(refused.value)  # torch's advice is for the file's author


def test_plain_data_loads_and_the_opt_in_unpickles(tmp_path):
    torch.save({"state_dict": {"w": torch.ones(2)}, "epoch": 3, "names": ["a", "b"]}, tmp_path / "plain.pth")
    assert load_torch_file(tmp_path / "plain.pth")["epoch"] == 3
    path, marker = crafted(tmp_path)
    load_torch_file(path, allow_pickle=True)  # the user said they trust it
    assert marker.exists()
