"""Where a detector runs: ``device=auto`` and the ONNX Runtime providers."""

from __future__ import annotations

import onnxruntime as ort
import pytest
import torch

from dfd.inference.detector import ModelInfo, OnnxDetector, resolve_device
from dfd.inference.export import export_onnx
from dfd.models.nets.mesonet import Meso4


def test_auto_is_the_gpu_only_when_torch_sees_one_and_bad_names_are_refused() -> None:
    assert resolve_device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_device("cuda:1") == "cuda:1"
    with pytest.raises(ValueError, match="device='gpu0' is not a torch device"):
        resolve_device("gpu0")


def test_an_onnx_detector_asked_for_cuda_falls_back_to_the_cpu_provider_it_has(tmp_path) -> None:
    net = Meso4().eval()
    export_onnx(net, net.input_spec, tmp_path / "m.onnx")
    detector = OnnxDetector(str(tmp_path / "m.onnx"), ModelInfo(net.input_spec), device="cuda")
    expected = (
        "CUDAExecutionProvider"
        if "CUDAExecutionProvider" in ort.get_available_providers()
        else "CPUExecutionProvider"
    )
    assert detector.session.get_providers()[0] == expected
