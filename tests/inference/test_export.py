"""Exported model folders: ONNX Runtime agrees with eager torch for every image net of the zoo, the
folder describes itself, loads without pickle, and refuses tampered files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from dfd.data.transforms import InputSpec
from dfd.inference.export import (
    PARITY_ATOL,
    ExportError,
    TamperedModel,
    export_model,
    load_exported,
    read_description,
)
from dfd.models.nets.audio_cnn import AudioCNN
from tests.models.nets.test_package import ZOO

IMAGE_NETS = [cls for cls in ZOO if cls.__name__ not in ("AVFF", "AudioCNN")]
#: Small test sizes; the hybrid with a ViT-Ti so its ONNX file stays small (the class is the same).
KWARGS = {cls: {**ZOO[cls][0], **({"vit_name": "vit_tiny_patch16_224"} if cls.__name__ == "HybridViTCNN" else {})}
          for cls in IMAGE_NETS}  # fmt: skip


def _crops(size: int, n: int = 5) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.integers(0, 256, (size + 7, size + 3, 3), dtype=np.uint8) for _ in range(n)]


@pytest.mark.slow
@pytest.mark.parametrize("cls", IMAGE_NETS, ids=lambda c: c.__name__)
def test_onnx_runtime_agrees_with_torch_for_every_image_net(cls, tmp_path: Path) -> None:
    torch.manual_seed(0)
    net = cls(**KWARGS[cls]).eval()
    spec = {"target": f"{cls.__module__}.{cls.__name__}", "kwargs": KWARGS[cls]}
    out = export_model(net, spec, tmp_path / "m")
    description = read_description(out)
    assert description["onnx"]["max_abs_deviation_from_torch"] <= PARITY_ATOL
    crops = _crops(net.input_spec.size)
    onnx_scores = load_exported(out, "onnx", batch_size=3).score(crops)  # batches of 3 and 2: dynamic batch
    torch_scores = load_exported(out, "torch").score(crops)  # rebuilt from dfd_model.json + safetensors
    with torch.inference_mode():
        eager = load_exported(out, "torch")
        eager_logits = net(torch.from_numpy(eager.prepare(crops))).numpy()
    assert onnx_scores.shape == (5,)
    assert np.abs(onnx_scores - torch_scores).max() < 1e-4
    assert np.abs(eager.logits(eager.prepare(crops)) - eager_logits).max() < 1e-5


def test_the_folder_describes_itself_and_refuses_tampering(tmp_path: Path) -> None:
    from dfd.models.nets.mesonet import Meso4

    net = Meso4(input_size=64)
    out = export_model(net, {"target": "dfd.models.nets.mesonet.Meso4", "kwargs": {"input_size": 64}}, tmp_path / "m",
                       preprocessing={"detector": "facenet-pytorch MTCNN", "margin": 0.2, "crop_size": 96},
                       training={"data": "ffpp", "metrics": {"val/auc": 0.97}}, name="meso test")  # fmt: skip
    d = json.loads((out / "dfd_model.json").read_text())
    assert d["net"] == {
        "target": "dfd.models.nets.mesonet.Meso4",
        "kwargs": {"input_size": 64, "pretrained": False},
    }
    assert d["input_spec"] == {"size": 64, "mean": [0.0, 0.0, 0.0], "std": [1.0, 1.0, 1.0]}
    assert d["preprocessing"]["margin"] == 0.2
    assert d["versions"]["torch"] == torch.__version__.split("+")[0]  # no local tag (+cu130)
    assert set(d["files"]) == {"model.onnx", "model.safetensors", "MODEL_CARD.md"}
    card = (out / "MODEL_CARD.md").read_text()
    assert "## Intended use" in card and "val/auc | 0.9700" in card and "## Known limits" in card
    weights = out / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF  # one flipped bit in the last weight
    weights.write_bytes(bytes(data))
    with pytest.raises(TamperedModel, match="model.safetensors differs from the file that was exported"):
        load_exported(out, "torch")
    (out / "model.onnx").unlink()
    with pytest.raises(TamperedModel, match="model.onnx is missing"):
        load_exported(out)


def test_a_net_that_cannot_export_says_why(tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="AudioCNN reads no face crops"):
        export_model(AudioCNN(), {"target": "dfd.models.nets.audio_cnn.AudioCNN"}, tmp_path)

    class Spectral(torch.nn.Module):
        """A net using an operator ONNX has no export for (singular values)."""

        input_spec = InputSpec(8)

        def forward(self, x):
            return torch.linalg.svdvals(x.mean(dim=1)).sum(dim=1, keepdim=True)

    with pytest.raises(ExportError, match="Spectral cannot be exported to ONNX"):
        export_model(Spectral(), {"target": "dfd.models.nets.mesonet.Meso4"}, tmp_path / "s")

    class Noisy(torch.nn.Module):
        """Exports, but ONNX Runtime's random numbers are not torch's: the parity check refuses it."""

        input_spec = InputSpec(8)

        def forward(self, x):
            return (x + torch.rand_like(x)).mean(dim=(1, 2, 3))[:, None]

    with pytest.raises(ExportError, match="differ from eager torch's by"):
        export_model(Noisy(), {"target": "dfd.models.nets.mesonet.Meso4"}, tmp_path / "n")
    assert not (tmp_path / "n" / "dfd_model.json").exists() and not (tmp_path / "n" / "model.onnx").exists()


def test_only_dfd_nets_can_be_rebuilt(tmp_path: Path) -> None:
    from dfd.inference.export import build_net

    with pytest.raises(ValueError, match="not a dfd net"):
        build_net({"target": "os.system", "kwargs": {}})
