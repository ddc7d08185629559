"""A self-describing model folder, and loading it back without dfd's training code or pickle.

:func:`export_model` writes, for an image detector:

- ``model.onnx``: the net with a dynamic batch dimension (input ``image`` float32[B, 3, S, S],
  normalised; output ``logits`` float32[B, C]); exported only after ONNX Runtime reproduces the
  eager net within :data:`PARITY_ATOL`;
- ``model.safetensors``: the net's weights;
- ``dfd_model.json``: the net (class and arguments) to rebuild it, the input spec, the calibration
  (thresholds per aggregation, temperature), the preprocessing fingerprint, the training data
  and validation metrics, the versions of dfd, torch and onnx, and the sha256 of every file;
- ``MODEL_CARD.md``: intended use, training data, metrics, calibration and known limits.

:func:`load_exported` verifies every checksum first and refuses a folder whose files changed;
it then runs ``model.onnx`` with ONNX Runtime (the default) or rebuilds the net from its class
and arguments and reads ``model.safetensors`` (``backend="torch"``). Neither unpickles anything,
and only nets under ``dfd.models.nets`` can be named as the class.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from dfd.data.transforms import InputSpec
from dfd.errors import DfdError
from dfd.inference.detector import Detector, ModelInfo, OnnxDetector, TorchDetector
from dfd.metrics.calibration import Calibration
from dfd.reports.model_card import model_card

FORMAT = "dfd-model"
FORMAT_VERSION = 1
MODEL_JSON = "dfd_model.json"
ONNX_FILE = "model.onnx"
WEIGHTS_FILE = "model.safetensors"
CARD_FILE = "MODEL_CARD.md"
#: Largest difference of ONNX Runtime's logits from eager torch's for an export to be written.
PARITY_ATOL = 1e-4
BACKENDS = ("onnx", "torch")


class ExportError(DfdError, RuntimeError):
    """The net cannot be exported, and why."""


class TamperedModel(DfdError, RuntimeError):
    """A file of an exported model folder is missing or differs from its recorded checksum."""


def sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def versions() -> dict[str, str]:
    """Versions of the packages that made (and can read) the export."""
    out = {}
    for name in ("dfd", "torch", "onnx", "onnxruntime", "timm", "safetensors"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def export_onnx(net: nn.Module, spec: InputSpec, path: Path, opset: int = 17) -> float:
    """Write ``net`` as ONNX with a dynamic batch; return ONNX Runtime's largest deviation from eager
    torch on two random images. Raises :class:`ExportError` with the reason when it cannot."""
    import onnxruntime as ort

    net = net.eval()
    example = torch.randn(2, 3, spec.size, spec.size, generator=torch.Generator().manual_seed(0))
    try:
        torch.onnx.export(
            net, (example[:1],), str(path), input_names=["image"], output_names=["logits"],
            dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}}, opset_version=opset, dynamo=False,
        )  # fmt: skip
    except Exception as err:  # the exporter raises many types; all mean "this net cannot be exported"
        raise ExportError(
            f"{type(net).__name__} cannot be exported to ONNX: {type(err).__name__}: {err}"
        ) from err
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    with torch.inference_mode():
        eager = net(example).float().numpy()
    onnx_out = session.run(None, {"image": example.numpy()})[0]
    deviation = float(np.abs(onnx_out - eager).max())
    if not deviation <= PARITY_ATOL:
        path.unlink(missing_ok=True)
        raise ExportError(
            f"{type(net).__name__} exported to ONNX, but ONNX Runtime's logits differ from eager torch's by "
            f"{deviation:.3g} (more than {PARITY_ATOL}); nothing was written"
        )
    return deviation


def export_model(
    net: nn.Module,
    net_spec: dict[str, Any],
    out_dir: str | Path,
    calibration: Calibration | None = None,
    preprocessing: dict[str, Any] | None = None,
    training: dict[str, Any] | None = None,
    cross_dataset: dict[str, Any] | None = None,
    name: str = "dfd model",
    opset: int = 17,
) -> Path:
    """Write the model folder (see the module docstring) and return it.

    ``net_spec`` is ``{"target": "dfd.models.nets.<module>.<Class>", "kwargs": {...}}``, what
    rebuilds the net (with ``pretrained=False``); ``training`` describes the training run (data,
    validation metrics, checkpoint); ``cross_dataset`` is this model's row of a cross-dataset
    table (``{dataset: {metric: value}}``), a known limit for the model card.
    """
    spec = getattr(net, "input_spec", None)
    if not isinstance(spec, InputSpec):
        raise ExportError(
            f"{type(net).__name__} reads no face crops (input_spec is {spec!r}): export covers frame "
            "detectors, one face crop in and one fake logit out; audio-visual nets read clips and audio"
        )
    if not net_spec.get("target", "").startswith("dfd.models.nets."):
        raise ExportError(f"net target {net_spec.get('target')!r} is not a dfd net (dfd.models.nets.*)")
    from safetensors.torch import save_model

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    deviation = export_onnx(net, spec, out / ONNX_FILE, opset)
    save_model(net, str(out / WEIGHTS_FILE))
    description = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "name": name,
        "net": {"target": net_spec["target"], "kwargs": {**net_spec.get("kwargs", {}), "pretrained": False}},
        "input_spec": {"size": spec.size, "mean": list(spec.mean), "std": list(spec.std)},
        "num_classes": int(getattr(net, "num_classes", 1)),
        "onnx": {
            "opset": opset,
            "input": "image",
            "output": "logits",
            "max_abs_deviation_from_torch": deviation,
        },
        "calibration": calibration.to_dict() if calibration else None,
        "preprocessing": preprocessing,
        "training": training or {},
        "cross_dataset": cross_dataset or {},
        "versions": versions(),
    }
    (out / CARD_FILE).write_text(model_card(description))
    description["files"] = {f: sha256(out / f) for f in (ONNX_FILE, WEIGHTS_FILE, CARD_FILE)}
    tmp = out / (MODEL_JSON + ".tmp")
    tmp.write_text(json.dumps(description, indent=2, sort_keys=True))
    os.replace(tmp, out / MODEL_JSON)
    return out


def read_description(model_dir: str | Path) -> dict[str, Any]:
    """``dfd_model.json`` of an exported folder, after verifying every file's checksum."""
    model_dir = Path(model_dir)
    path = model_dir / MODEL_JSON
    if not path.is_file():
        raise FileNotFoundError(
            f"{model_dir} is not an exported dfd model (no {MODEL_JSON}); make one with dfd.export"
        )
    description = json.loads(path.read_text())
    if description.get("format") != FORMAT:
        raise ValueError(f"{path} is not a {FORMAT} description (format: {description.get('format')!r})")
    verify_files(model_dir, description, "model")
    return description


def verify_files(model_dir: Path, description: dict[str, Any], what: str) -> None:
    """Check every file an exported folder's description lists against its sha256; raise
    :class:`TamperedModel` naming the first one missing or changed (``what``: model, ensemble)."""
    for name, digest in description.get("files", {}).items():
        file = model_dir / name
        if not file.is_file():
            raise TamperedModel(f"{file} is missing from the exported {what} {model_dir}")
        if sha256(file) != digest:
            raise TamperedModel(
                f"{file} differs from the file that was exported (sha256 mismatch): refusing to load the "
                f"{what}; re-export it, or fetch the folder again from its source"
            )


def model_info(description: dict[str, Any]) -> ModelInfo:
    """The :class:`ModelInfo` an exported folder describes."""
    spec = description["input_spec"]
    cal = description.get("calibration")
    return ModelInfo(
        input_spec=InputSpec(int(spec["size"]), tuple(spec["mean"]), tuple(spec["std"])),
        calibration=Calibration.from_dict(cal) if cal else None,
        preprocessing=description.get("preprocessing"),
        name=description.get("name", "dfd model"),
        extra={"training": description.get("training", {})},
    )


def build_net(net_spec: dict[str, Any]) -> nn.Module:
    """The net an exported folder names, built without weights; only ``dfd.models.nets`` classes."""
    target = net_spec["target"]
    if not target.startswith("dfd.models.nets."):
        raise ValueError(f"net target {target!r} is not a dfd net (dfd.models.nets.*): refusing to build it")
    module, _, cls = target.rpartition(".")
    return getattr(importlib.import_module(module), cls)(
        **{**net_spec.get("kwargs", {}), "pretrained": False}
    )


def load_exported(
    model_dir: str | Path, backend: str = "onnx", batch_size: int = 32, device: str = "cpu"
) -> Detector:
    """A :class:`Detector` for an exported folder; checksums verified, nothing unpickled."""
    if backend not in BACKENDS:
        raise ValueError(f"backend={backend!r}: expected one of {list(BACKENDS)}")
    model_dir = Path(model_dir)
    description = read_description(model_dir)
    info = model_info(description)
    if backend == "onnx":
        return OnnxDetector(str(model_dir / ONNX_FILE), info, batch_size, device=device)
    from safetensors.torch import load_model

    net = build_net(description["net"])
    load_model(net, str(model_dir / WEIGHTS_FILE))
    return TorchDetector(net, info, batch_size, device)
