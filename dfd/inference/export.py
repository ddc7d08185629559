"""A self-describing model folder, and loading it back without dfd's training code or pickle.

:func:`export_model` writes, for an image detector:

- ``model.onnx``: the net with a dynamic batch dimension (input ``image`` float32[B, 3, S, S],
  normalised; output ``logits`` float32[B, C]); exported only after ONNX Runtime reproduces the
  eager net within :data:`PARITY_ATOL`. A clip model (a temporal net, ``net.clip_len`` = T) reads
  ``clip`` float32[B, T, 3, S, S] instead (dynamic B, fixed T; each crop normalised as a frame
  model's), and ``input_spec`` says ``clip_len: T`` and the layout ``NTCHW``;
- ``model.safetensors``: the net's weights;
- ``dfd_model.json``: the net (class and arguments) to rebuild it, the input spec with the full
  preprocessing contract (OpenCV ``INTER_LINEAR`` resize, RGB, value scale, mean and std), the
  calibration (thresholds per aggregation, temperature), the preprocessing fingerprint, the
  training data (the run's name, the checkpoint relative to it, the training config's sha256:
  no path of the exporting machine) and validation metrics, the versions of dfd, torch and onnx,
  and the sha256 of ``model.onnx`` and ``model.safetensors``;
- ``MODEL_CARD.md``: intended use, training data, metrics, calibration, known limits, and the
  folder's digest.

Every file is written readable by all (``0o666`` less the umask: 0644 under the usual 022).

The folder's **digest** (:func:`folder_digest`, ``sha256:<64 hex>``) is the sha256 of the
``sha256sum``-style listing ``"<sha256 of file>  <path relative to the folder>\n"`` of every
file under the folder, sorted by path (bytes of UTF-8), except the top-level ``MODEL_CARD.md``,
which is written last and carries the digest (it is documentation: nothing reads it). It covers
``dfd_model.json`` and any file added to the folder. In a shell::

    cd <folder> && find . -type f ! -path ./MODEL_CARD.md -printf '%P\0' | LC_ALL=C sort -z \
        | xargs -0 sha256sum | sha256sum

``dfd.export`` prints it; ``dfd.predict``/``dfd.serve`` ``digest=sha256:<hex>`` refuse a folder
whose digest differs, naming the file that changed where the checksums in ``dfd_model.json`` tell.

:func:`load_exported` checks the pinned digest, then every checksum, refuses symbolic links and
``files`` entries that are not plain names inside the folder, validates ``dfd_model.json``
against its schema (types and ranges of every key it reads) and against the ONNX graph (input
name and shape, output), each refusal one line naming the file and key. It then runs
``model.onnx`` with ONNX Runtime (the default) or rebuilds the net from its class and arguments
and reads ``model.safetensors`` (``backend="torch"``). Neither unpickles anything, and only nets
under ``dfd.models.nets`` can be named as the class.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import json
import math
import os
import re
import warnings
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from dfd.core.digest import file_sha256
from dfd.core.errors import DfdError
from dfd.core.input_spec import InputSpec
from dfd.inference.detector import Detector, ModelInfo, OnnxDetector, TorchDetector
from dfd.metrics.calibration import Calibration
from dfd.metrics.detection import AGGREGATIONS, ConfidentStrategy
from dfd.models.nets import NETS
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
#: Largest ``input_spec.size`` a folder may state (px): face-crop nets read far less, and a crafted
#: size would make OpenCV allocate gigabytes per crop.
MAX_INPUT_SIZE = 1024
#: Largest ``input_spec.clip_len`` a folder may state (crops per clip): temporal nets read 4 to 32.
MAX_CLIP_LEN = 256
#: ``input_spec.layout`` of a clip model's input: the frame contract's NCHW per crop, T crops per clip.
CLIP_LAYOUT = "NTCHW"
#: How dfd turns an RGB uint8 crop into the net's input (``build_eval_transform``: albumentations'
#: ``Resize``, which is OpenCV's, then ``Normalize``), written into ``input_spec`` so a client
#: with ONNX Runtime and NumPy reproduces the scores (README, "Exported model folders").
PREPROCESSING_CONTRACT = {
    "resize": {"library": "opencv", "function": "cv2.resize", "interpolation": "INTER_LINEAR"},
    "channel_order": "RGB",
    "layout": "NCHW",
    "dtype": "float32",
    "max_pixel_value": 255.0,
    "normalize": "(pixel / max_pixel_value - mean) / std",
}
#: Bounds of the preprocessing fingerprint's sizes a folder may state (px, and the margin's share
#: of the face box): ``dfd.predict`` crops with them, so a crafted ``crop_size: 100000`` would
#: allocate 30 GB per face. Frame counts are bounded where videos are decoded.
PREPROCESSING_BOUNDS = {
    "crop_size": (1, 2048),
    "detect_max_side": (1, 8192),
    "margin": (0, 10),
    "align_scale": (0, 10),
    "clip_stride": (1, 1024),  # a clip model's clips take every clip_stride-th crop of a track
    "keyframe_every": (1, 1 << 20),  # whole-frame detection every this many sampled frames
}
DIGEST_PATTERN = re.compile(r"sha256:[0-9a-f]{64}")
#: Largest JSON file read from a folder (bytes): dfd's own are kilobytes.
MAX_JSON_BYTES = 64 << 20


class ExportError(DfdError, RuntimeError):
    """The net cannot be exported, and why."""


class TamperedModel(DfdError, RuntimeError, ValueError):
    """A file of an exported model folder is missing or differs from its recorded checksum, or the
    folder's digest is not the pinned one (a ``ValueError`` too: a refusal of the folder given,
    not a bug)."""


class InvalidModel(DfdError, ValueError):
    """A model folder's JSON is malformed, breaks its schema, or disagrees with its ONNX graph."""


def read_json(path: str | Path) -> dict[str, Any]:
    """A JSON object read from a file dfd may not have written; one-line errors that name the file,
    and the line and column of a syntax error."""
    path = Path(path)
    if path.stat().st_size > MAX_JSON_BYTES:
        raise InvalidModel(
            f"{path}: {path.stat().st_size} bytes: expected a JSON file of at most {MAX_JSON_BYTES}"
        )
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as err:
        raise InvalidModel(f"{path}: not UTF-8 text (byte {err.start}): expected JSON") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise InvalidModel(
            f"{path}: invalid JSON at line {err.lineno}, column {err.colno}: {err.msg}"
        ) from None
    except RecursionError:
        raise InvalidModel(f"{path}: invalid JSON: nested too deeply") from None
    if not isinstance(data, dict):
        raise InvalidModel(f"{path}: expected a JSON object, got {type(data).__name__}")
    return data


def versions() -> dict[str, str]:
    """Versions of the packages that made (and can read) the export."""
    out = {}
    for name in ("dfd", "torch", "onnx", "onnxruntime", "timm", "safetensors"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def readable(path: Path) -> None:
    """Give ``path`` the mode a plain new file gets (``0o666`` less the umask): some writers
    (safetensors) create 0600 files, which others on a shared filesystem cannot read."""
    mask = os.umask(0)
    os.umask(mask)
    os.chmod(path, 0o666 & ~mask)


def folder_files(folder: str | Path) -> list[str]:
    """Every file under ``folder`` as a path relative to it (``/``-separated), sorted as the digest
    lists them, without the top-level ``MODEL_CARD.md``. Refuses symbolic links and special files."""
    folder = Path(folder)
    out = []
    for root, dirs, files in os.walk(folder):
        for name in sorted(dirs + files):
            path = Path(root) / name
            if path.is_symlink():
                raise TamperedModel(
                    f"{path} is a symbolic link: an exported folder holds plain files only; copy the folder "
                    "again with links dereferenced, or re-export it"
                )
            if any(c in name for c in "\n\r\\"):  # the listing is line-based (sha256sum escapes these)
                raise TamperedModel(f"{path!r}: a file name with a line break or backslash is not dfd's")
            if name in files and not path.is_file():
                raise TamperedModel(
                    f"{path} is not a regular file: an exported folder holds plain files only"
                )
        out += [(Path(root) / name).relative_to(folder).as_posix() for name in files]
    return sorted((f for f in out if f != CARD_FILE), key=lambda f: f.encode("utf-8", "surrogateescape"))


def folder_digest(folder: str | Path) -> str:
    """The folder's digest, ``sha256:<64 hex>`` (see the module docstring for its canonical form)."""
    folder = Path(folder)
    listing = "".join(f"{file_sha256(folder / rel)}  {rel}\n" for rel in folder_files(folder))
    return "sha256:" + hashlib.sha256(listing.encode("utf-8", "surrogateescape")).hexdigest()


def parse_digest(value: Any, key: str = "digest") -> str:
    """A pinned digest as ``sha256:<64 lowercase hex>``; ``ValueError`` naming ``key`` otherwise."""
    text = str(value).strip().lower()
    if not DIGEST_PATTERN.fullmatch(text):
        raise ValueError(
            f"{key}={value}: expected sha256:<64 hex digits>, the line dfd.export prints as 'digest: ...' "
            "(and MODEL_CARD.md repeats)"
        )
    return text


def check_digest(folder: Path, pinned: Any, json_name: str, what: str) -> None:
    """Refuse ``folder`` unless its digest is ``pinned``, naming the file that changed where the
    checksums of ``json_name`` tell: a listed file, a file that was not exported, else the JSON."""
    pinned = parse_digest(pinned)
    actual = folder_digest(folder)
    if actual == pinned:
        return
    head = f"{folder}: its digest {actual} is not the pinned digest={pinned}"
    try:
        description = read_json(folder / json_name)
        verify_files(folder, description, what)
    except TamperedModel as err:
        raise TamperedModel(f"{head}: {err}") from None
    except (OSError, ValueError):
        raise TamperedModel(f"{head}: {json_name} changed (it no longer reads as the exported one)") from None
    listed = {*description.get("files", {}), json_name}
    extra = [f for f in folder_files(folder) if f not in listed]
    if extra:
        raise TamperedModel(
            f"{head}: {extra[0]} was added ({len(extra)} file(s) that {json_name} does not list); remove them "
            "or fetch the folder again from its source"
        )
    raise TamperedModel(
        f"{head}: every file {json_name} lists still matches its checksum, so {json_name} itself changed "
        "(or the pin names another export); fetch the folder again from its source"
    )


def clip_len_of(net: nn.Module) -> int | None:
    """T for a clip net (its ``clip_len``: it reads ``[B, T, 3, S, S]``), None for a frame net."""
    value = getattr(net, "clip_len", None)
    return int(value) if value else None


def export_onnx(net: nn.Module, spec: InputSpec, path: Path, opset: int = 17) -> float:
    """Write ``net`` as ONNX with a dynamic batch; return ONNX Runtime's largest deviation from eager
    torch on two random images (a clip net: two random clips of its ``clip_len``, input ``clip``).
    Raises :class:`ExportError` with the reason when it cannot."""
    import onnxruntime as ort

    net = net.eval()
    clip_len = clip_len_of(net)
    shape = (2, *([clip_len] if clip_len else []), 3, spec.size, spec.size)
    example = torch.randn(*shape, generator=torch.Generator().manual_seed(0))
    name = "clip" if clip_len else "image"
    try:
        with warnings.catch_warnings():
            # shape checks in forward (a clip net's T) trace as constants; the parity check below runs
            # another batch size than the traced one, so a graph that depends on a traced shape is refused
            warnings.simplefilter("ignore", torch.jit.TracerWarning)
            torch.onnx.export(
                net, (example[:1],), str(path), input_names=[name], output_names=["logits"],
                dynamic_axes={name: {0: "batch"}, "logits": {0: "batch"}}, opset_version=opset, dynamo=False,
            )  # fmt: skip
    except Exception as err:  # the exporter raises many types; all mean "this net cannot be exported"
        raise ExportError(
            f"{type(net).__name__} cannot be exported to ONNX: {type(err).__name__}: {err}"
        ) from err
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    with torch.inference_mode():
        eager = net(example).float().numpy()
    onnx_out = session.run(None, {name: example.numpy()})[0]
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
    published: dict[str, Any] | None = None,
) -> Path:
    """Write the model folder (see the module docstring) and return it.

    ``net_spec`` is ``{"target": "dfd.models.nets.<module>.<Class>", "kwargs": {...}}``, what
    rebuilds the net (with ``pretrained=False``); ``training`` describes the training run (data,
    validation metrics, checkpoint); ``cross_dataset`` is this model's row of a cross-dataset
    table (``{dataset: {metric: value}}``), a known limit for the model card; ``published`` describes
    a checkpoint someone else trained and released (:mod:`dfd.published.importing`: source, paper,
    licence, their reported numbers, input contract), which the card sets apart from dfd's figures.
    """
    spec = getattr(net, "input_spec", None)
    if not isinstance(spec, InputSpec):
        raise ExportError(
            f"{type(net).__name__} reads no face crops (input_spec is {spec!r}): export covers face-crop "
            "detectors, one crop (or one clip of crops) in and one fake logit out; audio-visual nets read "
            "audio too"
        )
    if not net_spec.get("target", "").startswith("dfd.models.nets."):
        raise ExportError(f"net target {net_spec.get('target')!r} is not a dfd net (dfd.models.nets.*)")
    from safetensors.torch import save_model

    if callable(getattr(net, "merged", None)):  # adapters folded into plain weights (FoundationNet)
        net, kwargs = net.merged(dict(net_spec.get("kwargs", {})))
        net_spec = {**net_spec, "kwargs": kwargs}
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    deviation = export_onnx(net, spec, out / ONNX_FILE, opset)
    save_model(net, str(out / WEIGHTS_FILE))
    num_classes = int(getattr(net, "num_classes", 1))
    clip_len = clip_len_of(net)
    clip = {"clip_len": clip_len, "layout": CLIP_LAYOUT} if clip_len else {}
    description = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "name": name,
        "net": {"target": net_spec["target"], "kwargs": {**net_spec.get("kwargs", {}), "pretrained": False}},
        "input_spec": {
            "size": spec.size, "mean": list(spec.mean), "std": list(spec.std),
            **PREPROCESSING_CONTRACT,
            "resize": {**PREPROCESSING_CONTRACT["resize"], "to": [spec.size, spec.size]},
            **clip,
        },
        "num_classes": num_classes,
        "onnx": {
            "opset": opset,
            "input": "clip" if clip_len else "image",
            "output": "logits",
            # the fake probability dfd.predict scores (dfd.metrics.detection.fake_logit)
            "score": "sigmoid(logits[:, 0])" if num_classes == 1 else "sigmoid(logits[:, 1] - logits[:, 0])",
            "max_abs_deviation_from_torch": deviation,
        },
        "calibration": calibration.to_dict() if calibration else None,
        "preprocessing": preprocessing,
        "training": training or {},
        "cross_dataset": cross_dataset or {},
        "versions": versions(),
    }  # fmt: skip
    if published is not None:
        description["published"] = published
    seal_folder(out, description, MODEL_JSON, files=(ONNX_FILE, WEIGHTS_FILE))
    return out


def seal_folder(
    out: Path, description: dict[str, Any], json_name: str, files: Sequence[str] | None = None
) -> str:
    """The shared ending of an exported folder (a model's or an ensemble's): record the sha256 of
    ``files`` (by default every file in the folder but ``json_name``) as ``description["files"]``,
    write ``description`` to ``json_name`` atomically, then ``MODEL_CARD.md`` with the folder's
    digest, and make all of these readable (:func:`readable`). Returns the digest."""
    (out / CARD_FILE).unlink(missing_ok=True)  # a re-export's old card is not part of the new folder
    if files is None:
        files = [f for f in folder_files(out) if f != json_name]
    description["files"] = {f: file_sha256(out / f) for f in files}
    tmp = out / (json_name + ".tmp")
    tmp.write_text(json.dumps(description, indent=2, sort_keys=True))
    os.replace(tmp, out / json_name)
    digest = folder_digest(out)  # over every file but the card, which carries it
    (out / CARD_FILE).write_text(model_card(description, digest))
    for f in [*description["files"], json_name, CARD_FILE]:
        readable(out / f)
    return digest


def read_description(model_dir: str | Path, digest: str | None = None) -> dict[str, Any]:
    """``dfd_model.json`` of an exported folder, after checking the pinned ``digest`` (when given),
    every file's checksum and the schema (:func:`validate_description`)."""
    model_dir = Path(model_dir)
    path = model_dir / MODEL_JSON
    if not path.is_file() or path.is_symlink():
        raise FileNotFoundError(
            f"{model_dir} is not an exported dfd model (no {MODEL_JSON}); make one with dfd.export"
        )
    if digest is not None:
        check_digest(model_dir, digest, MODEL_JSON, "model")
    description = read_json(path)
    if description.get("format") != FORMAT:
        raise InvalidModel(f"{path}: format={description.get('format')!r}: expected {FORMAT!r}")
    check_files(path, description, required=(ONNX_FILE, WEIGHTS_FILE), nested=False)
    verify_files(model_dir, description, "model")
    validate_description(path, description)
    return description


def check_files(path: Path, description: dict[str, Any], required: tuple[str, ...], nested: bool) -> None:
    """``files`` of a folder's JSON ``path``: ``{name: sha256}`` naming every file in ``required``,
    each a plain name inside the folder (``nested``: a relative path below it, no ``..``)."""
    files = description.get("files")
    if not isinstance(files, dict):
        raise InvalidModel(f"{path}: files={files!r}: expected a mapping of file name to sha256")
    for name, digest in files.items():
        parts = name.split("/")
        if (
            not name or "\\" in name or "\0" in name or name.startswith("/") or ":" in parts[0]
            or any(part in ("", ".", "..") for part in parts) or (len(parts) > 1 and not nested)
        ):  # fmt: skip
            raise InvalidModel(
                f"{path}: files has the entry {name!r}: expected a plain file name inside the folder "
                + ("(a relative path without '..')" if nested else "(no '/', '..' or absolute path)")
            )
        if not isinstance(digest, str) or not re.fullmatch(r"[0-9a-f]{64}", digest):
            raise InvalidModel(f"{path}: files[{name!r}]={digest!r}: expected a sha256 (64 lowercase hex)")
    missing = [f for f in required if f not in files]
    if missing:
        raise InvalidModel(
            f"{path}: files lists no checksum for {', '.join(missing)}: every file dfd loads must be "
            "checksummed; re-export the folder with dfd.export"
        )


def verify_files(model_dir: Path, description: dict[str, Any], what: str) -> None:
    """Check every file an exported folder's description lists against its sha256; raise
    :class:`TamperedModel` naming the first one missing or changed (``what``: model, ensemble)."""
    root = model_dir.resolve()
    for name, digest in description.get("files", {}).items():
        file = model_dir / name
        step = model_dir
        for part in Path(name).parts:
            step = step / part
            if step.is_symlink():
                raise TamperedModel(
                    f"{step} is a symbolic link: an exported {what} folder holds plain files only"
                )
        if root not in file.resolve().parents:
            raise TamperedModel(f"{file} is outside the exported {what} {model_dir}: refusing to read it")
        if not file.is_file():
            raise TamperedModel(f"{file} is missing from the exported {what} {model_dir}")
        if file_sha256(file) != digest:
            raise TamperedModel(
                f"{file} differs from the file that was exported (sha256 mismatch): refusing to load the "
                f"{what}; re-export it, or fetch the folder again from its source"
            )


def _number(value: Any, low: float = -math.inf, high: float = math.inf) -> bool:
    return (
        isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
        and low <= value <= high
    )  # fmt: skip


def _fail(path: Path, key: str, value: Any, expected: str) -> InvalidModel:
    shown = repr(value)
    return InvalidModel(
        f"{path}: {key}={shown[:80] + '…' if len(shown) > 80 else shown}: expected {expected}"
    )


def check_calibration(path: Path, cal: Any, key: str = "calibration") -> None:
    """The ``calibration`` of a folder's JSON: the keys and value ranges :class:`Calibration` reads."""
    if cal is None:
        return
    if not isinstance(cal, dict):
        raise _fail(path, key, cal, "a mapping (thresholds, temperature, …) or null")
    fields = {f.name for f in dataclasses.fields(Calibration)}
    for name in cal:
        if name not in fields:
            raise _fail(path, f"{key}.{name}", cal[name], f"no such key (known: {', '.join(sorted(fields))})")
    thresholds = cal.get("thresholds")
    if not isinstance(thresholds, dict) or not thresholds:
        raise _fail(
            path, f"{key}.thresholds", thresholds, "a mapping of choice (f1, youden, …) to a probability"
        )
    tables = {f"{key}.thresholds": thresholds}
    video = cal.get("video_thresholds", {})
    if not isinstance(video, dict):
        raise _fail(path, f"{key}.video_thresholds", video, "a mapping of aggregation to thresholds")
    if all(isinstance(v, dict) for v in video.values()):
        for agg, table in video.items():
            if agg not in AGGREGATIONS:
                raise _fail(path, f"{key}.video_thresholds", agg, f"an aggregation of {list(AGGREGATIONS)}")
            tables[f"{key}.video_thresholds.{agg}"] = table
    else:  # dfd 0.1: one flat table
        tables[f"{key}.video_thresholds"] = video
    for where, table in tables.items():
        for choice, value in table.items():
            if not _number(value, 0.0, 1.0):
                raise _fail(path, f"{where}.{choice}", value, "a probability in [0, 1]")
    if "temperature" in cal and not _number(cal["temperature"], 1e-6):
        raise _fail(path, f"{key}.temperature", cal["temperature"], "a positive number")
    if "precision_target" in cal and not _number(cal["precision_target"], 0.0, 1.0):
        raise _fail(path, f"{key}.precision_target", cal["precision_target"], "a number in [0, 1]")
    if cal.get("video_aggregation", "mean") not in AGGREGATIONS:
        raise _fail(
            path, f"{key}.video_aggregation", cal["video_aggregation"], f"one of {list(AGGREGATIONS)}"
        )
    for name in ("precision_reached", "temperature_fitted"):
        if name in cal and not isinstance(cal[name], bool):
            raise _fail(path, f"{key}.{name}", cal[name], "true or false")
    if not isinstance(cal.get("temperature_note", ""), str):
        raise _fail(path, f"{key}.temperature_note", cal["temperature_note"], "a string")
    if cal.get("epoch") is not None and not (
        isinstance(cal["epoch"], int) and not isinstance(cal["epoch"], bool)
    ):
        raise _fail(path, f"{key}.epoch", cal["epoch"], "an integer or null")
    if not isinstance(cal.get("val", {}), dict):
        raise _fail(path, f"{key}.val", cal["val"], "a mapping of diagnostic to number")
    confident = cal.get("confident", {})
    strategy = {f.name for f in dataclasses.fields(ConfidentStrategy)}
    if not isinstance(confident, dict):
        raise _fail(path, f"{key}.confident", confident, f"a mapping of {sorted(strategy)} to numbers")
    for name, value in confident.items():
        if name not in strategy or not _number(value):
            raise _fail(path, f"{key}.confident.{name}", value, f"a number for one of {sorted(strategy)}")


def check_preprocessing(path: Path, pre: Any, key: str = "preprocessing") -> None:
    """The preprocessing fingerprint of a folder's JSON: a mapping whose sizes are in
    :data:`PREPROCESSING_BOUNDS` (null where a setting was not recorded)."""
    if pre is None:
        return
    if not isinstance(pre, dict):
        raise _fail(path, key, pre, "a mapping (the training crops' settings) or null")
    for name, (low, high) in PREPROCESSING_BOUNDS.items():
        value = pre.get(name)
        if value is not None and not _number(value, low, high):
            raise _fail(path, f"{key}.{name}", value, f"a number from {low} to {high}, or null")


def validate_description(path: Path, d: dict[str, Any]) -> None:
    """``dfd_model.json`` against its schema: every key dfd reads, its type and range. Raises
    :class:`InvalidModel` naming the file and key."""
    version = d.get("format_version")
    if not (isinstance(version, int) and not isinstance(version, bool) and 1 <= version <= FORMAT_VERSION):
        raise _fail(
            path, "format_version", version, f"1 to {FORMAT_VERSION} (a newer dfd wrote this folder?)"
        )
    if not isinstance(d.get("name", ""), str):
        raise _fail(path, "name", d["name"], "a string")
    net = d.get("net")
    if not isinstance(net, dict) or not isinstance(net.get("target"), str):
        raise _fail(path, "net", net, "a mapping with target (a dfd.models.nets class) and kwargs")
    if not net["target"].startswith("dfd.models.nets."):
        raise _fail(path, "net.target", net["target"], "a dfd net (dfd.models.nets.*)")
    if not isinstance(net.get("kwargs", {}), dict):
        raise _fail(path, "net.kwargs", net["kwargs"], "a mapping of argument to plain value")
    spec = d.get("input_spec")
    if not isinstance(spec, dict):
        raise _fail(path, "input_spec", spec, "a mapping with size, mean and std")
    size = spec.get("size")
    if not (isinstance(size, int) and not isinstance(size, bool) and 1 <= size <= MAX_INPUT_SIZE):
        raise _fail(path, "input_spec.size", size, f"an integer from 1 to {MAX_INPUT_SIZE} (px)")
    for name, low in (("mean", -math.inf), ("std", 1e-6)):
        values = spec.get(name)
        if not (isinstance(values, list) and len(values) == 3 and all(_number(v, low) for v in values)):
            raise _fail(
                path,
                f"input_spec.{name}",
                values,
                "3 finite numbers (RGB)" + (", positive" if low > 0 else ""),
            )
    clip_len = spec.get("clip_len")
    if clip_len is not None and not (
        isinstance(clip_len, int) and not isinstance(clip_len, bool) and 1 <= clip_len <= MAX_CLIP_LEN
    ):
        raise _fail(
            path, "input_spec.clip_len", clip_len,
            f"an integer from 1 to {MAX_CLIP_LEN} (crops per clip of a clip model), or no key (a frame model)",
        )  # fmt: skip
    if clip_len is None and spec.get("layout") == CLIP_LAYOUT:
        raise _fail(
            path, "input_spec.clip_len", None, f"crops per clip with input_spec.layout={CLIP_LAYOUT!r}"
        )
    contract = {**PREPROCESSING_CONTRACT, **({"layout": CLIP_LAYOUT} if clip_len else {})}
    for name, expected in contract.items():  # optional (older folders): dfd's own, if given
        given = spec.get(name, expected)
        if name == "resize" and isinstance(given, dict):
            given = {k: v for k, v in given.items() if k != "to"}
        if given != expected:
            raise _fail(path, f"input_spec.{name}", spec[name], f"{expected!r} (how dfd preprocesses)")
    classes = d.get("num_classes", 1)
    if classes not in (1, 2) or isinstance(classes, bool):
        raise _fail(path, "num_classes", classes, "1 (one fake logit) or 2 (real, fake)")
    onnx_spec = d.get("onnx")
    if not isinstance(onnx_spec, dict):
        raise _fail(path, "onnx", onnx_spec, "a mapping with input and output names")
    for name in ("input", "output"):
        if not isinstance(onnx_spec.get(name), str):
            raise _fail(path, f"onnx.{name}", onnx_spec.get(name), "the name of the graph's " + name)
    check_calibration(path, d.get("calibration"))
    check_preprocessing(path, d.get("preprocessing"))
    for name in ("training", "cross_dataset", "versions", "published"):
        if not isinstance(d.get(name, {}), dict):
            raise _fail(path, name, d[name], "a mapping")


def check_graph(model_dir: Path, d: dict[str, Any]) -> None:
    """``model.onnx`` against ``dfd_model.json``: one input ``float[N, 3, S, S]`` (a clip model's
    ``float[N, T, 3, S, S]``, ``T`` its ``input_spec.clip_len``) with ``S`` the ``input_spec.size``
    and the ``onnx.input`` name, one output ``float[N, C]`` named ``onnx.output``, and external data
    only from files the JSON checksums."""
    import onnx

    path, onnx_file = model_dir / MODEL_JSON, model_dir / ONNX_FILE
    try:
        graph = onnx.load(str(onnx_file), load_external_data=False).graph
    except Exception as err:  # protobuf's DecodeError and friends: not an ONNX file
        raise InvalidModel(f"{onnx_file}: not a readable ONNX model ({type(err).__name__})") from None
    initializers = {t.name for t in graph.initializer}
    inputs = [i for i in graph.input if i.name not in initializers]

    def dims(value_info: Any) -> list[Any]:
        return [
            x.dim_value if x.HasField("dim_value") else x.dim_param
            for x in value_info.type.tensor_type.shape.dim
        ]

    size, classes = d["input_spec"]["size"], d.get("num_classes", 1)
    shown = "x".join(str(x) for x in dims(inputs[0])) if len(inputs) == 1 else f"{len(inputs)} inputs"
    if len(inputs) != 1 or inputs[0].name != d["onnx"]["input"]:
        raise InvalidModel(
            f"{path}: onnx.input={d['onnx']['input']!r} does not match {ONNX_FILE}'s inputs "
            f"{[i.name for i in inputs]}"
        )
    shape = dims(inputs[0])
    clip_len = d["input_spec"].get("clip_len")
    if len(shape) == 5 and clip_len is None:
        raise InvalidModel(
            f"{path}: input_spec.clip_len is missing, but {ONNX_FILE}'s input {inputs[0].name} {shown} reads "
            "clips: a clip model's folder states its clip_len; re-export it with dfd.export"
        )
    if clip_len is not None and (len(shape) != 5 or shape[1] != clip_len):
        raise InvalidModel(
            f"{path}: input_spec.clip_len={clip_len} does not match {ONNX_FILE}'s input {inputs[0].name} "
            f"{shown} (expected float Nx{clip_len}x3x{size}x{size})"
        )
    expected = [*([clip_len] if clip_len is not None else []), 3, size, size]
    if inputs[0].type.tensor_type.elem_type != onnx.TensorProto.FLOAT or shape[1:] != expected:
        raise InvalidModel(
            f"{path}: input_spec.size={size} does not match {ONNX_FILE}'s input {inputs[0].name} {shown} "
            f"(expected float Nx{'x'.join(map(str, expected))})"
        )
    outputs = list(graph.output)
    if len(outputs) != 1 or outputs[0].name != d["onnx"]["output"]:
        raise InvalidModel(
            f"{path}: onnx.output={d['onnx']['output']!r} does not match {ONNX_FILE}'s outputs "
            f"{[o.name for o in outputs]}"
        )
    out_shape = dims(outputs[0])
    if len(out_shape) != 2 or (isinstance(out_shape[1], int) and out_shape[1] not in (0, classes)):
        raise InvalidModel(
            f"{path}: num_classes={classes} does not match {ONNX_FILE}'s output {outputs[0].name} "
            f"{'x'.join(map(str, out_shape))} (expected Nx{classes})"
        )
    for tensor in graph.initializer:
        if tensor.data_location == onnx.TensorProto.EXTERNAL:
            location = next((e.value for e in tensor.external_data if e.key == "location"), "")
            if location not in d["files"] or "/" in location:
                raise InvalidModel(
                    f"{path}: {ONNX_FILE} reads external data {location!r} that files does not checksum"
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
        clip_len=spec.get("clip_len"),
    )


def build_net(net_spec: dict[str, Any]) -> nn.Module:
    """The net an exported folder names, built without weights: only a class of dfd's registry
    (:data:`dfd.models.nets.NETS`), never a function, a helper layer or another module's name."""
    target = net_spec["target"]
    if target not in NETS:
        raise ValueError(
            f"net target {target!r} is not one of dfd's nets ({', '.join(NETS)}): refusing to build it"
        )
    module, _, name = target.rpartition(".")
    try:
        cls = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        raise ValueError(f"net target {target!r} names no dfd net") from None
    if not (isinstance(cls, type) and issubclass(cls, nn.Module) and cls.__module__ == module):
        raise ValueError(
            f"net target {target!r} is not a net class defined in {module}: refusing to build it"
        )
    return cls(**{**net_spec.get("kwargs", {}), "pretrained": False})


def load_exported(
    model_dir: str | Path,
    backend: str = "onnx",
    batch_size: int = 32,
    device: str = "cpu",
    digest: str | None = None,
) -> Detector:
    """A :class:`Detector` for an exported folder; the pinned ``digest`` (``sha256:<hex>``, when
    given) and every checksum verified, the JSON validated against its schema and the ONNX graph,
    nothing unpickled."""
    if backend not in BACKENDS:
        raise ValueError(f"backend={backend!r}: expected one of {list(BACKENDS)}")
    model_dir = Path(model_dir)
    description = read_description(model_dir, digest)
    check_graph(model_dir, description)
    info = model_info(description)
    if backend == "onnx":
        return OnnxDetector(str(model_dir / ONNX_FILE), info, batch_size, device=device)
    from safetensors.torch import load_model

    net = build_net(description["net"])
    declared = getattr(net, "input_spec", None)
    if declared is not None and declared.size != info.input_spec.size:
        raise InvalidModel(
            f"{model_dir / MODEL_JSON}: input_spec.size={info.input_spec.size} does not match the net's "
            f"input size {declared.size} (net.kwargs)"
        )
    if clip_len_of(net) != info.clip_len:
        raise InvalidModel(
            f"{model_dir / MODEL_JSON}: input_spec.clip_len={info.clip_len} does not match the net's "
            f"clip_len {clip_len_of(net)} (net.kwargs)"
        )
    load_model(net, str(model_dir / WEIGHTS_FILE))
    return TorchDetector(net, info, batch_size, device)
