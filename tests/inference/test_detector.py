"""Where a detector runs (``device=auto``, the ONNX Runtime providers), and what a clip model scores."""

from __future__ import annotations

import onnxruntime as ort
import pytest
import torch

from dfd.core.input_spec import InputSpec
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


def test_a_clip_detector_scores_clips_of_uint8_crops_each_prepared_as_a_crop() -> None:
    import numpy as np

    from dfd.inference.detector import TorchDetector
    from tests.tiny_detector import tiny_clip_net

    net = tiny_clip_net()
    clip_model = TorchDetector(net, ModelInfo(net.input_spec, name="tiny clip", clip_len=4), batch_size=8)
    clips = np.random.default_rng(0).integers(0, 256, (3, 4, 40, 36, 3), dtype=np.uint8)
    prepared = clip_model.prepare_clips(clips)
    assert prepared.shape == (3, 4, 3, 32, 32) and prepared.dtype == np.float32
    assert np.array_equal(prepared[2, 1], clip_model.prepare([clips[2, 1]])[0])  # the frame contract per crop
    with torch.inference_mode():
        expected = torch.sigmoid(net(torch.from_numpy(prepared))[:, 0]).numpy()
    scores = clip_model.score_clips(clips)  # batch_size 8 counts crops: clips 2 at a time
    assert np.abs(scores - expected).max() < 1e-6
    assert clip_model.score_clips([list(c) for c in clips]) == pytest.approx(
        scores, abs=1e-6
    )  # lists of crops
    assert clip_model.score_clips(np.zeros((0, 4, 8, 8, 3), np.uint8)).shape == (0,)
    with pytest.raises(ValueError, match="clip 1 has 3 crops: tiny clip scores clips of clip_len=4"):
        clip_model.score_clips([clips[0], clips[1, :3]])
    with pytest.raises(ValueError, match=r"tiny clip is a clip model \(clip_len=4\): it scores clips"):
        clip_model.score(list(clips[0]))
    frame_model = TorchDetector(Meso4(input_size=32).eval(), ModelInfo(InputSpec(32), name="meso"))
    with pytest.raises(ValueError, match="meso is a frame model: it scores single crops"):
        frame_model.score_clips(clips)
