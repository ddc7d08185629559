"""Exported model folders: ONNX Runtime agrees with eager torch for every image and clip net of the
zoo, the folder describes itself, loads without pickle, and refuses tampered files."""

from __future__ import annotations

import inspect
import json
import os
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from dfd.core.input_spec import InputSpec
from dfd.inference.export import (
    PARITY_ATOL,
    ExportError,
    TamperedModel,
    export_model,
    load_exported,
    read_description,
)
from dfd.models.nets.audio_cnn import AudioCNN
from dfd.models.nets.base import Net
from tests.models.nets.test_package import ZOO, small
from tests.tiny_detector import TEMPORAL_HEAD, TINY_CLIP, tiny_clip_net

#: Every registered net that reads one batch of face crops (Net's own example_inputs), the
#: exportable ones, at its small_config.
IMAGE_NETS = [cls for cls in ZOO if cls.example_inputs is Net.example_inputs]
#: Every registered clip net (a temporal net: it takes a ``clip_len``), exported with a time axis.
CLIP_NETS = [cls for cls in ZOO if "clip_len" in inspect.signature(cls.__init__).parameters]


def _crops(size: int, n: int = 5) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.integers(0, 256, (size + 7, size + 3, 3), dtype=np.uint8) for _ in range(n)]


def _clips(size: int, clip_len: int, n: int = 5) -> np.ndarray:
    """``n`` clips of random RGB uint8 crops, ``[n, clip_len, H, W, 3]``."""
    return np.random.default_rng(0).integers(0, 256, (n, clip_len, size + 7, size + 3, 3), dtype=np.uint8)


@pytest.mark.slow
@pytest.mark.parametrize("cls", IMAGE_NETS + CLIP_NETS, ids=lambda c: c.__name__)
def test_onnx_runtime_agrees_with_torch_for_every_image_and_clip_net(cls, tmp_path: Path) -> None:
    torch.manual_seed(0)
    net = small(cls).eval()
    spec = {"target": f"{cls.__module__}.{cls.__name__}", "kwargs": cls.small_config}
    out = export_model(net, spec, tmp_path / "m")
    description = read_description(out)
    assert description["onnx"]["max_abs_deviation_from_torch"] <= PARITY_ATOL
    clip_len = getattr(net, "clip_len", None)
    assert description["input_spec"].get("clip_len") == clip_len
    assert description["onnx"]["input"] == ("clip" if clip_len else "image")
    size = net.input_spec.size
    inputs = _clips(size, clip_len) if clip_len else _crops(size)
    score = "score_clips" if clip_len else "score"
    onnx_detector = load_exported(out, "onnx", batch_size=3 * (clip_len or 1))
    onnx_scores = getattr(onnx_detector, score)(inputs)  # batches of 3 and 2: dynamic batch
    torch_scores = getattr(load_exported(out, "torch"), score)(inputs)  # rebuilt from json + safetensors
    eager = load_exported(out, "torch")
    prepared = eager.prepare_clips(inputs) if clip_len else eager.prepare(inputs)
    with torch.inference_mode():
        eager_logits = net(torch.from_numpy(prepared)).numpy()
    assert onnx_scores.shape == (5,)
    assert np.abs(onnx_scores - torch_scores).max() < 1e-4
    assert np.abs(eager.logits(prepared) - eager_logits).max() < 1e-5


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
    assert {k: d["input_spec"][k] for k in ("size", "mean", "std")} == {
        "size": 64, "mean": [0.0, 0.0, 0.0], "std": [1.0, 1.0, 1.0]
    }  # fmt: skip
    assert d["input_spec"]["resize"] == {
        "library": "opencv", "function": "cv2.resize", "interpolation": "INTER_LINEAR", "to": [64, 64]
    }  # fmt: skip
    assert d["preprocessing"]["margin"] == 0.2
    assert d["versions"]["torch"] == torch.__version__.split("+")[0]  # no local tag (+cu130)
    # the card carries the folder's digest, so no checksum covers it: it is documentation
    assert set(d["files"]) == {"model.onnx", "model.safetensors"}
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
    from dfd.models.nets import NETS

    # only the registry: not os.system, not a function a net module imports (timm_net imports
    # create_timm_model), not a helper layer defined beside a net, not a module that does not exist
    for target in ("os.system", "dfd.models.nets.timm_net.create_timm_model",
                   "dfd.models.nets.mesonet.InceptionLayer", "dfd.models.nets.nothing.Here"):  # fmt: skip
        with pytest.raises(ValueError, match="is not one of dfd's nets"):
            build_net({"target": target, "kwargs": {}})
    meso4 = "dfd.models.nets.mesonet.Meso4"
    assert (
        meso4 in NETS and type(build_net({"target": meso4, "kwargs": {"input_size": 64}})).__name__ == "Meso4"
    )


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> Path:
    """A Meso4 (64 px) folder with a calibration; tests edit copies of it (:func:`_copy`)."""
    from dfd.metrics.calibration import Calibration
    from dfd.models.nets.mesonet import Meso4

    torch.manual_seed(0)
    cal = Calibration(thresholds={"f1": 0.4, "youden": 0.5, "precision": 0.7})
    return export_model(Meso4(input_size=64).eval(), {"target": "dfd.models.nets.mesonet.Meso4",
                        "kwargs": {"input_size": 64}}, tmp_path_factory.mktemp("exported") / "m",
                        calibration=cal)  # fmt: skip


def _copy(folder: Path, tmp_path: Path) -> Path:
    import shutil

    return Path(shutil.copytree(folder, tmp_path / "copy"))


def _edit(folder: Path, edit) -> None:
    """Edit ``dfd_model.json`` in place, checksums untouched (what a tamperer can do)."""
    d = json.loads((folder / "dfd_model.json").read_text())
    edit(d)
    (folder / "dfd_model.json").write_text(json.dumps(d))


def test_the_digest_covers_every_file_but_the_card_and_is_written_in_it(exported: Path) -> None:
    import hashlib
    import shutil
    import subprocess

    from dfd.inference.export import folder_digest

    digest = folder_digest(exported)
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", digest)
    assert f"digest: `{digest}`" in (exported / "MODEL_CARD.md").read_text()
    listing = "".join(
        f"{hashlib.sha256((exported / f).read_bytes()).hexdigest()}  {f}\n"
        for f in sorted(["dfd_model.json", "model.onnx", "model.safetensors"])
    )
    assert digest == "sha256:" + hashlib.sha256(listing.encode()).hexdigest()
    if shutil.which("sha256sum") and shutil.which("find"):  # the shell recipe of the docs
        shell = subprocess.run(
            "find . -type f ! -path ./MODEL_CARD.md -printf '%P\\0' | LC_ALL=C sort -z | xargs -0 sha256sum"
            " | sha256sum", shell=True, cwd=exported, capture_output=True, text=True, check=True,
        )  # fmt: skip
        assert "sha256:" + shell.stdout.split()[0] == digest


def test_a_pinned_digest_refuses_any_change_naming_the_file(exported: Path, tmp_path: Path) -> None:
    from dfd.inference.export import folder_digest

    digest = folder_digest(exported)
    assert load_exported(exported, digest=digest.upper().replace("SHA256", "sha256")).info.calibration
    folder = _copy(exported, tmp_path)
    # thresholds at 0 (every input "fake") are schema-valid, and only the pin refuses them
    _edit(folder, lambda d: d["calibration"]["thresholds"].update(f1=0.0, youden=0.0, precision=0.0))
    assert load_exported(folder).info.calibration.thresholds["f1"] == 0.0
    with pytest.raises(TamperedModel, match="is not the pinned digest.*dfd_model.json itself changed"):
        load_exported(folder, digest=digest)
    folder = _copy(exported, tmp_path / "b")
    (folder / "notes.txt").write_text("added")
    with pytest.raises(TamperedModel, match="notes.txt was added"):
        load_exported(folder, digest=digest)
    (folder / "notes.txt").unlink()
    (folder / "x\n0000  model.onnx").write_text("a name that would forge a line of the listing")
    with pytest.raises(TamperedModel, match="a file name with a line break"):
        load_exported(folder, digest=digest)
    (folder / "x\n0000  model.onnx").unlink()
    (folder / "MODEL_CARD.md").write_text("the card is documentation, outside the digest")
    assert load_exported(folder, digest=digest)
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-4] + b"\0\0\0\1")
    with pytest.raises(TamperedModel, match="pinned digest.*model.safetensors differs"):
        load_exported(folder, "torch", digest=digest)
    with pytest.raises(ValueError, match="digest=sha256:abc: expected sha256:<64 hex digits>"):
        load_exported(exported, digest="sha256:abc")


def test_files_must_be_plain_names_inside_the_folder_and_list_the_model(
    exported: Path, tmp_path: Path
) -> None:
    from dfd.core.digest import file_sha256
    from dfd.inference.export import InvalidModel

    folder = _copy(exported, tmp_path)
    outside = tmp_path / "secret"
    outside.write_text("not the model's")
    _edit(folder, lambda d: d["files"].update({"../../secret": file_sha256(outside)}))
    with pytest.raises(InvalidModel, match=r"files has the entry '../../secret': expected a plain file name"):
        load_exported(folder)
    _edit(folder, lambda d: d.update(files={}))  # another model.onnx swapped in, its checksum dropped
    with pytest.raises(InvalidModel, match="files lists no checksum for model.onnx, model.safetensors"):
        load_exported(folder)
    folder = _copy(exported, tmp_path / "link")
    (folder / "model.onnx").rename(tmp_path / "elsewhere.onnx")
    (folder / "model.onnx").symlink_to(tmp_path / "elsewhere.onnx")
    with pytest.raises(TamperedModel, match="model.onnx is a symbolic link"):
        load_exported(folder)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d["input_spec"].update(size=32),
         r"dfd_model.json: input_spec.size=32 does not match model.onnx's input image batchx3x64x64"),
        (lambda d: d["input_spec"].update(size=100000), r"dfd_model.json: input_spec.size=100000: expected an integer from 1 to 1024"),
        (lambda d: d["input_spec"].update(std=[1, 0, 1]), r"input_spec.std=\[1, 0, 1\]: expected 3 finite numbers"),
        (lambda d: d["input_spec"]["resize"].update(interpolation="INTER_AREA"), r"input_spec.resize=.*how dfd preprocesses"),
        (lambda d: d.update(calibration="f1"), r"dfd_model.json: calibration='f1': expected a mapping"),
        (lambda d: d["calibration"].update(thresholds={"f1": "x"}), r"calibration.thresholds.f1='x': expected a probability"),
        (lambda d: d["calibration"].update(thresholds={"f1": 1.5}), r"calibration.thresholds.f1=1.5: expected a probability"),
        (lambda d: d["calibration"].update(temperature=-1), r"calibration.temperature=-1: expected a positive number"),
        (lambda d: d["calibration"].update(evil=1), r"calibration.evil=1: expected no such key"),
        (lambda d: d["onnx"].update(input="pixels"), r"onnx.input='pixels' does not match model.onnx's inputs \['image'\]"),
        (lambda d: d["onnx"].update(output="probs"), r"onnx.output='probs' does not match model.onnx's outputs \['logits'\]"),
        (lambda d: d.update(num_classes=2), r"num_classes=2 does not match model.onnx's output logits batchx1"),
        (lambda d: d["net"].update(target="torch.load"), r"net.target='torch.load': expected a dfd net"),
        (lambda d: d.update(preprocessing={"crop_size": 100000}), r"preprocessing.crop_size=100000: expected a number from 1 to 2048"),
    ],
    ids=["size_vs_graph", "huge_size", "zero_std", "resize", "calibration_string", "threshold_string",
         "threshold_range", "temperature", "unknown_key", "input_name", "output_name", "classes", "target", "crop_size"],
)  # fmt: skip
def test_the_description_is_validated_against_its_schema_and_the_graph(
    exported, tmp_path, edit, message
) -> None:
    from dfd.inference.export import InvalidModel

    folder = _copy(exported, tmp_path)
    _edit(folder, edit)
    for backend in ("onnx", "torch"):
        with pytest.raises(InvalidModel, match=message) as err:
            load_exported(folder, backend)
        assert "\n" not in str(err.value)


def test_json_errors_name_the_file_line_and_column(exported: Path, tmp_path: Path) -> None:
    from dfd.inference.export import InvalidModel

    folder = _copy(exported, tmp_path)
    (folder / "dfd_model.json").write_text('{\n  "format": "dfd-model",\n  "name": oops\n}')
    with pytest.raises(
        InvalidModel, match=r"copy/dfd_model.json: invalid JSON at line 3, column 11: Expecting value"
    ):
        load_exported(folder)
    (folder / "dfd_model.json").write_text("[1, 2]")
    with pytest.raises(InvalidModel, match="dfd_model.json: expected a JSON object, got list"):
        load_exported(folder)


def test_the_onnx_graph_is_checked_for_external_data_files_does_not_list(
    exported: Path, tmp_path: Path
) -> None:
    import onnx

    from dfd.core.digest import file_sha256
    from dfd.inference.export import InvalidModel

    folder = _copy(exported, tmp_path)
    model = onnx.load(str(folder / "model.onnx"))
    onnx.save(model, str(folder / "model.onnx"), save_as_external_data=True, location="weights.bin",
              size_threshold=0)  # fmt: skip
    _edit(folder, lambda d: d["files"].update({"model.onnx": file_sha256(folder / "model.onnx")}))
    with pytest.raises(InvalidModel, match="reads external data 'weights.bin' that files does not checksum"):
        load_exported(folder)
    _edit(folder, lambda d: d["files"].update({"weights.bin": file_sha256(folder / "weights.bin")}))
    assert load_exported(folder).score(_crops(64, 2)).shape == (2,)


def test_exported_files_are_readable_by_all_and_name_no_path_of_this_machine(tmp_path: Path) -> None:
    from omegaconf import OmegaConf

    from dfd.artifacts.exporting import training_record
    from dfd.models.nets.mesonet import Meso4

    run = tmp_path / "outputs" / "train" / "runs" / "2026-12-01_meso"
    (run / "checkpoints").mkdir(parents=True)
    (run / "config.yaml").write_text(f"data:\n  root: {tmp_path / 'data' / 'ffpp'}\n")
    torch.save({"epoch": 3}, run / "checkpoints" / "best.ckpt")
    (run / "metrics.json").write_text(json.dumps({"metrics": {"val/auc": 0.9}}))
    record = training_record(run / "checkpoints" / "best.ckpt", OmegaConf.load(run / "config.yaml"), False)
    mask = os.umask(0o022)
    try:
        out = export_model(Meso4(input_size=32), {"target": "dfd.models.nets.mesonet.Meso4",
                           "kwargs": {"input_size": 32}}, tmp_path / "model", training=record)  # fmt: skip
    finally:
        os.umask(mask)
    d = json.loads((out / "dfd_model.json").read_text())
    assert {k: d["training"][k] for k in ("data", "run", "checkpoint", "epoch")} == {
        "data": "ffpp", "run": "2026-12-01_meso", "checkpoint": "checkpoints/best.ckpt", "epoch": 3
    }  # fmt: skip
    assert re.fullmatch(r"[0-9a-f]{64}", d["training"]["config_sha256"])
    files = sorted(p for p in out.iterdir())
    assert [p.name for p in files] == ["MODEL_CARD.md", "dfd_model.json", "model.onnx", "model.safetensors"]
    assert {p.name: oct(p.stat().st_mode & 0o777) for p in files} == {p.name: "0o644" for p in files}
    for p in files:
        data = p.read_bytes()
        assert str(tmp_path).encode() not in data and str(Path.home()).encode() not in data, p.name


class _Linear(torch.nn.Module):
    """A fake logit linear in every input value: any resize or normalisation difference moves it."""

    input_spec = InputSpec(64)  # ImageNet mean and std

    def __init__(self) -> None:
        super().__init__()
        self.w = torch.nn.Parameter(
            torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(0)) / 64
        )

    def forward(self, x):
        return (x * self.w).sum(dim=(1, 2, 3))[:, None]


def test_the_readme_client_reproduces_the_crop_scores(tmp_path: Path) -> None:
    out = export_model(_Linear(), {"target": "dfd.models.nets.mesonet.Meso4", "kwargs": {}}, tmp_path / "m")
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    blocks = re.findall(r"```python\n(# score RGB uint8 face crops.*?)```", readme, re.S)
    assert len(blocks) == 1 and len(blocks[0].splitlines()) <= 25
    rng = np.random.default_rng(1)
    crops = [
        rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for h, w in ((64, 64), (97, 83), (200, 180), (31, 40))
    ]
    ramp = np.linspace(0, 255, 150, dtype=np.uint8)[:, None, None] + np.zeros((1, 150, 3), np.uint8)
    crops += [ramp, ramp[:, ::-1].copy()]
    ours = load_exported(out).score(crops)
    assert ours.std() > 0.05  # the crops score differently: agreement is no constant's
    namespace: dict = {}
    exec(compile(blocks[0], "README.md", "exec"), namespace)
    assert np.abs(namespace["score_crops"](str(out), crops) - ours).max() < 1e-5
    # the tolerance can fail: Pillow's bilinear resize instead of OpenCV's is off by far more
    pillow = blocks[0].replace(
        "cv2.resize(c, (size, size), interpolation=flag)",
        "np.asarray(__import__('PIL.Image').Image.fromarray(c).resize((size, size), 2))",
    )
    assert pillow != blocks[0]  # the line the replacement targets is in the block
    exec(compile(pillow, "README.md", "exec"), namespace)
    assert np.abs(namespace["score_crops"](str(out), crops) - ours).max() > 1e-4


def test_a_folder_exported_before_the_contract_keys_still_loads(exported: Path, tmp_path: Path) -> None:
    """Older folders: no preprocessing contract in input_spec, no onnx.score, the card checksummed."""
    from dfd.core.digest import file_sha256

    folder = _copy(exported, tmp_path)

    def older(d: dict) -> None:
        d["input_spec"] = {k: d["input_spec"][k] for k in ("size", "mean", "std")}
        d["onnx"].pop("score")
        d["files"]["MODEL_CARD.md"] = file_sha256(folder / "MODEL_CARD.md")

    _edit(folder, older)
    crops = _crops(64, 3)
    assert np.array_equal(load_exported(folder).score(crops), load_exported(exported).score(crops))
    (folder / "MODEL_CARD.md").write_text("edited")  # listed, so still checked
    with pytest.raises(TamperedModel, match="MODEL_CARD.md differs from the file that was exported"):
        load_exported(folder)


def test_sealing_a_folder_lists_every_file_but_its_json_and_card_and_the_card_carries_the_digest(
    tmp_path: Path,
) -> None:
    """The shared ending of the model and ensemble writers (:func:`seal_folder`), on plain files."""
    from dfd.core.digest import file_sha256
    from dfd.inference.export import folder_digest, seal_folder

    out = tmp_path / "folder"
    (out / "members" / "a").mkdir(parents=True)
    (out / "members" / "a" / "w.bin").write_bytes(b"weights")
    (out / "x.onnx").write_bytes(b"graph")
    (out / "MODEL_CARD.md").write_text("an old card")  # a re-export's: not part of the new folder
    description = {
        "name": "sealed",
        "net": {"target": "dfd.models.nets.mesonet.Meso4"},
        "input_spec": {"size": 32},
    }
    (out / "x.onnx").chmod(0o600)  # as safetensors writes: only its owner could read it
    (out / "members" / "a" / "w.bin").chmod(0o600)
    mask = os.umask(0o022)
    try:
        digest = seal_folder(out, description, "d.json")
    finally:
        os.umask(mask)
    assert description["files"] == {
        "members/a/w.bin": file_sha256(out / "members" / "a" / "w.bin"),
        "x.onnx": file_sha256(out / "x.onnx"),
    }
    assert json.loads((out / "d.json").read_text()) == description
    assert not (out / "d.json.tmp").exists()
    assert digest == folder_digest(out) and digest in (out / "MODEL_CARD.md").read_text()
    assert "an old card" not in (out / "MODEL_CARD.md").read_text()
    modes = {p.relative_to(out).as_posix(): p.stat().st_mode & 0o777 for p in out.rglob("*") if p.is_file()}
    assert modes == dict.fromkeys(["members/a/w.bin", "x.onnx", "d.json", "MODEL_CARD.md"], 0o644)
    only = seal_folder(out, {**description, "files": {}}, "d.json", files=["x.onnx"])
    assert json.loads((out / "d.json").read_text())["files"] == {"x.onnx": file_sha256(out / "x.onnx")}
    assert only == folder_digest(out)


def test_the_localisation_head_is_exported_and_rebuilt_from_the_nets_arguments(tmp_path: Path) -> None:
    from dfd.models.nets.mesonet import Meso4

    torch.manual_seed(0)
    net = Meso4(input_size=64, localization=True).eval()
    kwargs = {"input_size": 64, "localization": True}
    out = export_model(net, {"target": "dfd.models.nets.mesonet.Meso4", "kwargs": kwargs}, tmp_path / "m")
    assert json.loads((out / "dfd_model.json").read_text())["net"]["kwargs"]["localization"] is True
    loaded = load_exported(out, "torch").net
    assert loaded.localization
    head = {k: v for k, v in net.state_dict().items() if k.startswith("mask_head.")}
    assert set(head) == {"mask_head.conv.weight", "mask_head.conv.bias"}
    assert all(torch.equal(loaded.state_dict()[k], v) for k, v in head.items())
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(loaded.forward_with_mask(x)[1], net.forward_with_mask(x)[1], atol=1e-6)


@pytest.fixture(scope="module")
def clip_exported(tmp_path_factory) -> Path:
    """A clip model's folder (:data:`TINY_CLIP`); tests edit copies of it (:func:`_copy`)."""
    net = tiny_clip_net()
    return export_model(
        net, {"target": TEMPORAL_HEAD, "kwargs": TINY_CLIP}, tmp_path_factory.mktemp("clip") / "m"
    )


def test_a_clip_models_folder_reads_clips_with_a_time_axis_and_scores_them_as_torch(
    clip_exported: Path,
) -> None:
    import onnx

    d = read_description(clip_exported)
    assert d["input_spec"]["clip_len"] == 4 and d["input_spec"]["layout"] == "NTCHW"
    assert d["onnx"]["input"] == "clip" and d["onnx"]["max_abs_deviation_from_torch"] <= PARITY_ATOL
    (graph_input,) = onnx.load(str(clip_exported / "model.onnx")).graph.input
    dims = [x.dim_value or x.dim_param for x in graph_input.type.tensor_type.shape.dim]
    assert graph_input.name == "clip" and dims == ["batch", 4, 3, 32, 32]  # dynamic N, fixed T
    clips = _clips(32, 4, n=3)
    onnx_detector, torch_detector = (
        load_exported(clip_exported, batch_size=8),
        load_exported(clip_exported, "torch"),
    )
    assert onnx_detector.clip_len == torch_detector.clip_len == 4
    onnx_scores = onnx_detector.score_clips(clips)  # batch_size counts crops: 2 clips, then 1
    assert np.abs(onnx_scores - torch_detector.score_clips(clips)).max() < 1e-4
    assert (
        "one fake logit per clip of 4 consecutive face crops" in (clip_exported / "MODEL_CARD.md").read_text()
    )


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d["input_spec"].update(clip_len=8),
         r"input_spec.clip_len=8 does not match model.onnx's input clip batchx4x3x32x32 \(expected float Nx8x3x32x32\)"),
        (lambda d: d["input_spec"].pop("clip_len"),
         r"input_spec.clip_len=None: expected crops per clip with input_spec.layout='NTCHW'"),
        (lambda d: [d["input_spec"].pop(k) for k in ("clip_len", "layout")],
         r"input_spec.clip_len is missing, but model.onnx's input clip batchx4x3x32x32 reads clips"),
        (lambda d: d["input_spec"].update(clip_len=0), r"input_spec.clip_len=0: expected an integer from 1 to 256"),
        (lambda d: d["input_spec"].update(clip_len=True), r"input_spec.clip_len=True: expected an integer"),
    ],
    ids=["clip_len_vs_graph", "no_clip_len", "no_clip_len_nor_layout", "zero", "bool"],
)  # fmt: skip
def test_a_clip_models_folder_is_validated_against_its_graph(clip_exported, tmp_path, edit, message) -> None:
    from dfd.inference.export import InvalidModel

    folder = _copy(clip_exported, tmp_path)
    _edit(folder, edit)
    with pytest.raises(InvalidModel, match=message) as err:
        load_exported(folder)
    assert "\n" not in str(err.value)


def test_a_frame_folder_claiming_clips_and_a_net_of_another_clip_len_are_refused(
    exported: Path, clip_exported: Path, tmp_path: Path
) -> None:
    from dfd.inference.export import InvalidModel

    folder = _copy(exported, tmp_path / "frame")
    _edit(folder, lambda d: d["input_spec"].update(clip_len=4, layout="NTCHW"))
    with pytest.raises(
        InvalidModel, match=r"input_spec.clip_len=4 does not match model.onnx's input image batchx3x64x64"
    ):
        load_exported(folder)
    folder = _copy(clip_exported, tmp_path / "clip")
    _edit(folder, lambda d: d["net"]["kwargs"].update(clip_len=8))  # the graph still reads 4
    assert load_exported(folder).clip_len == 4
    with pytest.raises(
        InvalidModel, match=r"input_spec.clip_len=4 does not match the net's clip_len 8 \(net.kwargs\)"
    ):
        load_exported(folder, "torch")
