"""Loading a run folder someone else wrote: nothing its ``config.yaml`` names runs, beyond dfd's own
module, net and loss classes built from plain values.

Each test plants a real pickle payload (``evil.pth``: unpickling it creates a marker file) where
issue #23 found that ``dfd.predict``, ``dfd.eval`` and ``dfd.export`` unpickled it (``loss:
{_target_: torch.load, f: evil.pth, weights_only: false}``) and in the other places a run's config
can name a ``_target_``, then runs the command's own code on the run and asserts the marker was
never created.
"""

from __future__ import annotations

import pathlib
from pathlib import Path

import pytest
import torch
import yaml
from PIL import Image

import dfd.models.nets as nets_pkg
from dfd.artifacts.runs import RUN_NETS, UnsafeRun, load_detector, load_model
from dfd.config.instantiate import TRUSTED_TARGETS, UntrustedTarget, instantiate
from tests.conftest import CONF, compose_config
from tests.fake_runs import make_model_run


class Payload:
    """Unpickling this creates ``marker``: what an attacker's ``evil.pth`` would do (run any code)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (pathlib.Path.touch, (pathlib.Path(self.marker),))


def torch_load(evil: Path) -> dict:
    """The config node that unpickles ``evil`` if anything instantiates it."""
    return {"_target_": "torch.load", "f": str(evil), "weights_only": False}


@pytest.fixture
def run(tmp_path: Path, monkeypatch) -> Path:
    """A Meso4 run folder at 64 px (``config.yaml`` as dfd.train writes it, and ``checkpoints/best.ckpt``)
    beside ``evil.pth``; ``run.parent / "marker"`` appears if the payload ever runs."""
    monkeypatch.delenv("DFD_TRUSTED_TARGETS", raising=False)  # other tests trust tests.*
    torch.save(Payload(tmp_path / "marker"), tmp_path / "evil.pth")
    run = tmp_path / "run"
    make_model_run(run)
    return run


def plant(run: Path, path: str, node: object) -> None:
    """Set the dotted key ``path`` of the run's config.yaml to ``node``."""
    config = yaml.safe_load((run / "config.yaml").read_text())
    *parents, last = path.split(".")
    here = config
    for key in parents:
        here = here.setdefault(key, {})
    here[last] = node
    (run / "config.yaml").write_text(yaml.safe_dump(config))


def test_the_payload_runs_when_unpickled(tmp_path: Path, run: Path) -> None:
    """The test's premise: ``evil.pth`` does create the marker when torch.load unpickles it."""
    torch.load(tmp_path / "evil.pth", weights_only=False)
    assert (tmp_path / "marker").exists()


# -- the loss, callbacks, optimizer and scheduler are never built -------------------------
IGNORED = ["loss", "callbacks.evil", "model.optimizer", "model.scheduler", "trainer.plugins", "logger.evil"]


@pytest.mark.parametrize("key", IGNORED)
def test_predict_loads_a_run_without_building_what_its_config_names(
    tmp_path: Path, run: Path, key: str
) -> None:
    plant(run, key, torch_load(tmp_path / "evil.pth"))
    detector = load_detector(
        run / "checkpoints" / "best.ckpt", device="cpu"
    )  # dfd.predict's and dfd.serve's load
    assert not (tmp_path / "marker").exists()
    scores = detector.net(torch.rand(2, 3, 64, 64))
    assert scores.shape == (2, 1)  # the net was built, from dfd's Meso4


def test_the_loss_is_chosen_by_name_among_dfds(tmp_path: Path, run: Path) -> None:
    from dfd.models.losses import BCELoss, FocalLoss

    plant(
        run, "loss", {"_target_": "dfd.models.losses.FocalLoss", "num_classes": 1, "alpha": 0.4, "gamma": 1.0}
    )
    model = load_model(run / "checkpoints" / "best.ckpt")
    assert isinstance(model.loss_fn, FocalLoss) and model.loss_fn.alpha == 0.4
    plant(run, "loss", torch_load(tmp_path / "evil.pth"))
    model = load_model(run / "checkpoints" / "best.ckpt")
    assert (
        type(model.loss_fn) is BCELoss and not (tmp_path / "marker").exists()
    )  # the default, never torch.load


# -- a payload in what is built refuses the run -------------------------------------------
REFUSED = {
    "model.net._target_": "torch.load",
    "model._target_": "torch.load",
    "model.net.dropout": "payload",
    "model.net._args_": "payload",
    "model._partial_": "payload",
    "model.net.input_size": "payload",
    "model.freeze_backbone": "payload",
    "loss.gamma": "payload",
}


@pytest.mark.parametrize("key", list(REFUSED))
def test_a_payload_in_the_module_or_net_refuses_the_run(tmp_path: Path, run: Path, key: str) -> None:
    if key == "loss.gamma":
        plant(run, "loss", {"_target_": "dfd.models.losses.FocalLoss", "num_classes": 1})
    value = REFUSED[key] if REFUSED[key] != "payload" else torch_load(tmp_path / "evil.pth")
    plant(run, key, value)
    with pytest.raises(
        UnsafeRun, match=rf"config.yaml: {key.rsplit('.', 1)[0] if value == 'torch.load' else key}"
    ):
        load_detector(run / "checkpoints" / "best.ckpt", device="cpu")
    assert not (tmp_path / "marker").exists()


def test_export_of_a_run_with_a_loss_payload(tmp_path: Path, run: Path) -> None:
    from dfd.artifacts.tasks import export

    plant(run, "loss", torch_load(tmp_path / "evil.pth"))
    plant(run, "callbacks.evil", torch_load(tmp_path / "evil.pth"))
    out = tmp_path / "exported"
    export(compose_config("export", [f"ckpt_path={run / 'checkpoints' / 'best.ckpt'}", f"out_dir={out}",
                                     f"paths.output_dir={tmp_path / 'unused'}", f"paths.root_dir={tmp_path}", f"paths.work_dir={tmp_path}", f"paths.log_dir={tmp_path}"]))  # fmt: skip
    assert (out / "model.onnx").is_file()
    assert not (tmp_path / "marker").exists()


def test_predict_of_a_run_with_a_loss_payload(tmp_path: Path, run: Path) -> None:
    from dfd.inference.tasks import predict

    plant(run, "loss", torch_load(tmp_path / "evil.pth"))
    image = tmp_path / "photo.png"
    Image.new("RGB", (96, 96), (128, 90, 60)).save(image)
    out = tmp_path / "predictions.csv"
    predict(
        compose_config(
            "predict",
            [f"ckpt_path={run / 'checkpoints' / 'best.ckpt'}", f"input={image}", f"output={out}", "device=cpu",
             "cropper.margin=0.2", "cropper.crop_size=64", f"paths.output_dir={tmp_path / 'unused'}", f"paths.root_dir={tmp_path}", f"paths.work_dir={tmp_path}", f"paths.log_dir={tmp_path}"],
        )
    )  # fmt: skip
    assert len(out.read_text().splitlines()) == 2  # the header and the photo's row
    assert not (tmp_path / "marker").exists()


@pytest.mark.parametrize("key", ["data._target_", "data.layout", "data.transform"])
def test_eval_refuses_a_run_whose_data_names_a_payload(tmp_path: Path, run: Path, key: str) -> None:
    """``dfd.eval`` (and ``dfd.compare``, ``dfd.robustness``, which load through it) reuse the run's data
    config when ``data`` is not given: it may name only a dfd DataModule and raw layouts."""
    from dfd.evaluation.scoring import load_for_eval

    plant(run, "loss", torch_load(tmp_path / "evil.pth"))
    plant(run, key, "torch.load" if key.endswith("_target_") else torch_load(tmp_path / "evil.pth"))
    cfg = compose_config(
        "eval",
        [
            f"ckpt_path={run / 'checkpoints' / 'best.ckpt'}",
            f"paths.output_dir={tmp_path}",
            f"paths.work_dir={tmp_path}",
            f"paths.log_dir={tmp_path}",
        ],
    )
    with pytest.raises(UnsafeRun, match="config.yaml: data"):
        load_for_eval(cfg, run / "checkpoints" / "best.ckpt")
    assert not (tmp_path / "marker").exists()


def test_eval_loads_a_run_with_a_loss_payload(tmp_path: Path, run: Path) -> None:
    from dfd.evaluation.scoring import load_for_eval
    from dfd.models.losses import BCELoss

    plant(run, "loss", torch_load(tmp_path / "evil.pth"))
    plant(run, "data.num_videos", 4)
    cfg = compose_config(
        "eval",
        [f"ckpt_path={run / 'checkpoints' / 'best.ckpt'}", f"paths.output_dir={tmp_path}",
         f"paths.work_dir={tmp_path}", f"paths.log_dir={tmp_path}"],
    )  # fmt: skip
    _, model, datamodule, _ = load_for_eval(cfg, run / "checkpoints" / "best.ckpt")
    assert type(model.loss_fn) is BCELoss and model.net.input_spec.size == 64
    assert type(datamodule).__name__ == "SyntheticDataModule"  # the run's own data, built
    assert not (tmp_path / "marker").exists()


# -- the allow-lists --------------------------------------------------------------------------
def test_run_nets_are_every_registered_net() -> None:
    # tests/models/nets/test_package.py checks NETS lists every net class of the package
    assert RUN_NETS == nets_pkg.NETS


def test_trusted_targets_are_single_callables_covering_conf() -> None:
    in_conf = set()
    for path in CONF.rglob("*.yaml"):

        def walk(node):
            if isinstance(node, dict):
                if isinstance(node.get("_target_"), str):
                    in_conf.add(node["_target_"])
                for v in node.values():
                    walk(v)
            elif isinstance(node, list):
                for v in node:
                    walk(v)

        walk(yaml.safe_load(path.read_text()))
    assert len(in_conf) > 50
    assert in_conf <= set(TRUSTED_TARGETS), in_conf - set(TRUSTED_TARGETS)
    assert not [t for t in TRUSTED_TARGETS if "*" in t]


#: Callables that read a file by pickle (or load code): none may be a trusted target.
PICKLE_READERS = ["torch.load", "torch.jit.load", "torch.package.PackageImporter", "numpy.load", "pandas.read_pickle",
                  "pickle.load", "pickle.loads", "joblib.load", "dfd.core.safe_load.load_torch_file",
                  "dfd.callbacks.calibration.load_calibration", "dfd.models.nets.pretrained.load_weights",
                  "dfd.artifacts.runs.load_checkpoint", "dfd.artifacts.runs.load_model", "torch.hub.load",
                  "torch.serialization.load", "lightning.pytorch.core.saving.load_hparams_from_yaml"]  # fmt: skip


def test_nothing_trusted_reads_a_file_by_pickle(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("DFD_TRUSTED_TARGETS", raising=False)
    torch.save(Payload(tmp_path / "marker"), tmp_path / "evil.pth")
    assert not set(PICKLE_READERS) & set(TRUSTED_TARGETS)
    assert not [t for t in TRUSTED_TARGETS if t.startswith("dfd.core.safe_load.")]
    from omegaconf import OmegaConf

    for target in ("torch.load", "torch.serialization.load", "numpy.load"):
        with pytest.raises(UntrustedTarget, match=target):
            instantiate(OmegaConf.create({"_target_": target, "_args_": [str(tmp_path / "evil.pth")],
                                          "weights_only": False} if target != "numpy.load" else
                                         {"_target_": target, "file": str(tmp_path / "evil.pth"), "allow_pickle": True}))  # fmt: skip
    assert not (tmp_path / "marker").exists()


MODELS = sorted(p.stem for p in (CONF / "model").glob("*.yaml"))


@pytest.mark.parametrize("name", MODELS)
def test_every_model_config_loads_from_plain_values(name: str, tmp_path: Path) -> None:
    """What dfd.train writes for each conf/model file is loadable by build_module (module, net and loss
    from dfd's lists), with pretrained weights off."""
    from omegaconf import OmegaConf

    from dfd.artifacts.runs import RUN_MODULES, build_module
    from tests.conftest import base_overrides

    extra = {"avff": ["data=synthetic_av"], "avff_tiny": ["data=synthetic_av"],
             "audio_only": ["data=synthetic_av", "data.modality=audio"]}.get(name, [])  # fmt: skip
    loss = ["loss=ce"] if name == "mesonet" else []
    cfg = compose_config("train", base_overrides(tmp_path, tmp_path) + [f"model={name}", *extra, *loss])
    run_cfg = OmegaConf.create(OmegaConf.to_container(cfg, resolve=True))
    module = build_module(run_cfg, tmp_path / "config.yaml")
    assert f"{type(module).__module__}.{type(module).__name__}" in RUN_MODULES
    assert f"{type(module.net).__module__}.{type(module.net).__name__}" in RUN_NETS
    assert module.optimizer_factory is None and module.scheduler_factory is None
    assert type(module.loss_fn).__name__ == ("CrossEntropyLoss" if loss else "BCELoss")


def test_a_net_of_the_users_own_loads_only_when_trusted(tmp_path: Path, run: Path, monkeypatch) -> None:
    from tests.tiny_detector import TinyNet

    plant(run, "model.net", {"_target_": "tests.tiny_detector.TinyNet", "num_classes": 1, "input_size": 64})
    model = TinyNet(input_size=64)
    from dfd.models.detector_module import DetectorModule

    torch.save(
        {"state_dict": DetectorModule(model, optimizer=None).state_dict()}, run / "checkpoints" / "best.ckpt"
    )
    with pytest.raises(
        UnsafeRun, match="model.net._target_='tests.tiny_detector.TinyNet' is not one of dfd's own"
    ):
        load_model(run / "checkpoints" / "best.ckpt")
    monkeypatch.setenv("DFD_TRUSTED_TARGETS", "tests.*")
    assert isinstance(load_model(run / "checkpoints" / "best.ckpt").net, TinyNet)


@pytest.mark.slow
def test_loading_for_inference_imports_no_training_code(ffpp_run, exported_model) -> None:
    """A run's checkpoint and an exported folder load into detectors without importing Lightning
    callbacks, the training task or albumentations' training transforms' callers: loading for
    inference does not pass through training code."""
    import subprocess
    import sys

    script = (
        "import sys\n"
        "from dfd.artifacts.runs import load_detector\n"
        f"for path in ({str(ffpp_run)!r}, {str(exported_model)!r}):\n"
        "    load_detector(path, backend='torch', device='cpu')\n"
        "print(sorted(m for m in sys.modules if m.startswith(('dfd.callbacks', 'dfd.training', 'dfd.evaluation'))))\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().splitlines()[-1] == "[]"
