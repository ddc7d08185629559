"""Shared fixtures: configs composed the way ``dfd.train`` composes them, made cheap for tests.

Every composed config runs on CPU with ``num_workers=0``, a tiny synthetic dataset shared by
the whole session, and ``paths.output_dir`` inside the test's ``tmp_path``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import pandas as pd
import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import DictConfig, open_dict

from dfd.config.instantiate import register_resolvers
from dfd.data.synthetic import mini

register_resolvers()  # configs interpolate dfd's resolvers (preprocess.clip_len: dfd_if_set), as the commands do

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
if os.environ.get("PYTEST_XDIST_WORKER"):
    # pytest -n N: the N workers share the machine's cores, so each (and every process it starts)
    # computes with one intra-op thread instead of each taking every core
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    torch.set_num_threads(1)

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "conf"


#: A small synthetic dataset: 24 videos × 4 frames of 64 px (val and test have an even size).
TINY_DATA = [
    "data.num_videos=24",
    "data.frames_per_video=4",
    "data.crop_size=64",
    "data.batch_size=8",
]


#: Meso4 (the default model) on TINY_DATA's 64 px crops as they are: its config's 256 px would
#: upsample each 16-fold in area. For runs whose facts do not depend on the input size.
SMALL_NET = "model.net.input_size=64"


def manifest_rows(n_groups: int = 12, videos_per_group: int = 3, frames: int = 2) -> pd.DataFrame:
    """Manifest rows of ``n_groups`` identities with ``videos_per_group`` videos each (the first real,
    the rest fake) of ``frames`` crops; group 0 is the test split, the rest train."""
    rows = []
    for g in range(n_groups):
        for v in range(videos_per_group):
            for f in range(frames):
                rows.append({"video_id": f"g{g}_v{v}", "frame_idx": f, "label": int(v > 0), "method": "m",
                             "split": "test" if g == 0 else "train", "group": f"id{g}",
                             "crop_path": f"crops/g{g}_v{v}/{f}.png", "status": "ok", "reason": ""})  # fmt: skip
    return pd.DataFrame(rows)


def base_overrides(tmp: Path, data_dir: Path) -> list[str]:
    return [
        f"paths.root_dir={ROOT}",
        f"paths.data_dir={data_dir}",
        f"paths.log_dir={tmp}",
        f"paths.output_dir={tmp}",
        f"paths.work_dir={ROOT}",
        "trainer.accelerator=cpu",
        "trainer.devices=1",
        "trainer.max_epochs=1",
        "trainer.enable_model_summary=false",
        "trainer.num_sanity_val_steps=0",
    ]


def compose_config(config_name: str, overrides: list[str]) -> DictConfig:
    """Compose ``conf/<config_name>.yaml`` with overrides; leaves no global Hydra state behind."""
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(CONF)):
            return compose(config_name=config_name, overrides=overrides)
    finally:
        GlobalHydra.instance().clear()


T = TypeVar("T")


def built_once(tmp_path_factory: pytest.TempPathFactory, name: str, build: Callable[[Path], T]) -> T:
    """``build(folder)`` once per ``pytest`` run, however many xdist workers ask for it.

    A session fixture is otherwise set up once in every worker that runs a test using it (a trained
    run twice, ~20 s each). Under xdist the first worker to ask builds into a folder all workers
    share, under a file lock; the others wait for it and read its pickled result. For set-up that
    writes files nobody changes afterwards and returns plain values (paths, metrics).
    """
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return build(tmp_path_factory.mktemp(name))
    import pickle
    import shutil

    from filelock import FileLock

    shared = tmp_path_factory.getbasetemp().parent / f"shared_{name}"
    result = shared / "built.pickle"
    with FileLock(f"{shared}.lock"):
        if result.is_file():
            return pickle.loads(result.read_bytes())
        shutil.rmtree(shared, ignore_errors=True)  # a build that failed in the other worker
        shared.mkdir()
        value = build(shared)
        result.write_bytes(pickle.dumps(value))
    return value


def synthetic_data(data_dir: Path, overrides: list[str]) -> None:
    """The synthetic crops of the train config ``overrides`` generated in ``data_dir`` (nothing when
    they are there): what a run built by :func:`built_once` in another worker generated in its own."""
    from dfd.config.instantiate import instantiate

    instantiate(compose_config("train", base_overrides(data_dir, data_dir) + overrides).data).prepare_data()


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One data folder for the session, so the synthetic crops are generated once."""
    return tmp_path_factory.mktemp("data")


@pytest.fixture
def make_cfg(tmp_path: Path, data_dir: Path) -> Callable[..., DictConfig]:
    """``make_cfg(overrides, config_name="train", tiny=True)`` → a composed test config."""

    def _make(
        overrides: list[str] | None = None, config_name: str = "train", tiny: bool = True, quiet: bool = True
    ) -> DictConfig:
        base = base_overrides(tmp_path, data_dir)
        if config_name != "train":
            base = [o for o in base if not o.startswith("trainer.num_sanity")]
        data = TINY_DATA if tiny else []
        cfg = compose_config(config_name, base + data + list(overrides or []))
        with open_dict(cfg):
            if quiet and cfg.get("callbacks"):
                cfg.callbacks.pop("rich_progress_bar", None)  # plain logs in test output
            if "data" in cfg and cfg.data is not None and "num_workers" in cfg.data:
                cfg.data.num_workers = 0
                cfg.data.pin_memory = False
        return cfg

    return _make


def run_module(
    module: str, args: list[str], cwd: Path = ROOT, timeout: float = 600
) -> subprocess.CompletedProcess:
    """Run ``python -m <module> <args>`` as a user would; returns the completed process."""
    env = dict(os.environ, HF_HUB_OFFLINE="1", NO_ALBUMENTATIONS_UPDATE="1", PYTHONWARNINGS="ignore")
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def run_main(
    module: str, args: list[str], cwd: Path = ROOT, lightning_log: bool = False
) -> subprocess.CompletedProcess:
    """``python -m <module> <args>`` inside this process: the command's own ``main`` (Hydra, its
    checks, its two-line refusals and exit status, its prints and logs) without a new interpreter's
    imports (~6 s of CPU each). For runs whose process is not itself under test (:func:`run_module`
    is for those); returns what :func:`run_module` returns, with stdout and stderr captured.
    ``lightning_log=True`` adds Lightning's own log lines ("Seed set to 0", its ``rank_zero_info``) to
    stderr, as a subprocess prints them."""
    import importlib
    import io
    import logging
    from contextlib import redirect_stderr, redirect_stdout

    from hydra.core.hydra_config import HydraConfig

    main = importlib.import_module(module).main
    out, err = io.StringIO(), io.StringIO()
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    saved_argv, saved_cwd, saved_hydra = sys.argv, os.getcwd(), HydraConfig.instance().cfg
    # what a run leaves in its process (PL_GLOBAL_SEED, trainer.deterministic's algorithms) must not
    # reach the next test
    saved_env, saved_deterministic = dict(os.environ), torch.are_deterministic_algorithms_enabled()
    # Lightning's loggers print to the stderr of their import time, past redirect_stderr
    lightning_streams = [
        (handler, handler.setStream(err))
        for name in ("lightning", "lightning.pytorch", "lightning.fabric")
        for handler in logging.getLogger(name).handlers
        if type(handler) is logging.StreamHandler and lightning_log
    ]
    code = 0
    GlobalHydra.instance().clear()
    try:
        sys.argv = [module, *args]
        os.chdir(cwd)
        with redirect_stdout(out), redirect_stderr(err):
            try:
                main()
            except SystemExit as stop:
                code = stop.code if isinstance(stop.code, int) else int(stop.code is not None)
    finally:
        sys.argv = saved_argv
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)
        torch.use_deterministic_algorithms(saved_deterministic)
        GlobalHydra.instance().clear()
        HydraConfig.instance().cfg = saved_hydra
        for handler in root.handlers[:]:  # the run's console and log-file handlers
            if handler not in saved_handlers:
                root.removeHandler(handler)
                handler.close()
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
        for handler, stream in lightning_streams:
            handler.setStream(stream)
    return subprocess.CompletedProcess(
        [sys.executable, "-m", module, *args], code, out.getvalue(), err.getvalue()
    )


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(model: Path, run_dir: Path, *overrides: str) -> tuple[subprocess.Popen, str]:
    """``python -m dfd.serve model=<model>`` on a free port of 127.0.0.1, in a session of its own
    (so that everything it starts can be found and stopped); returns it and its URL once
    ``/health`` answers."""
    import time

    import requests

    port = _free_port()
    env = dict(os.environ, HF_HUB_OFFLINE="1", NO_ALBUMENTATIONS_UPDATE="1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "dfd.serve", f"model={model}", f"port={port}", f"hydra.run.dir={run_dir}", *overrides],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{url}/health", timeout=1).text == "ok":
                return proc, url
        except requests.ConnectionError:
            time.sleep(0.5)
        if proc.poll() is not None:
            pytest.fail(f"the server exited: {proc.stdout.read()[-3000:]}")
    stop_server(proc)
    pytest.fail("the server did not answer /health within 120 s")


def stop_server(proc: subprocess.Popen) -> None:
    """SIGTERM, as a service manager stops it; then nothing of its session may be left."""
    import signal

    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # whatever it left behind
    except ProcessLookupError:
        pass


@contextmanager
def serving(model: Path, run_dir: Path, *overrides: str) -> Iterator[str]:
    """A server of :func:`start_server` for the block: yields its URL, stops it afterwards."""
    proc, url = start_server(model, run_dir, *overrides)
    try:
        yield url
    finally:
        stop_server(proc)


def cli_overrides(tmp: Path, data_dir: Path) -> list[str]:
    """Command-line overrides that keep a subprocess run tiny and inside ``tmp``."""
    return [
        f"paths.data_dir={data_dir}",
        f"paths.log_dir={tmp}",
        "trainer.accelerator=cpu",
        "trainer.enable_model_summary=false",
        "callbacks.rich_progress_bar=null",
        "data.num_workers=0",
        *TINY_DATA,
    ]


@pytest.fixture(scope="session")
def raw_image_trees(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    """Overrides pointing the image-list data configs (which read their layout when built) at
    small generated trees: ``{"folder": ["data.raw_dir=…"], "deepfakebench": [...]}``."""
    spec = mini.VideoSpec(width=192, height=144, n_frames=8, fps=8)
    folder = mini.make_folder(tmp_path_factory.mktemp("raw") / "folder", n_images=10, n_videos=0, spec=spec)
    dfb = mini.make_deepfakebench(
        tmp_path_factory.mktemp("raw") / "DeepfakeBench", n_videos=4, frames_per_video=2, spec=spec
    )
    wild = mini.make_wilddeepfake(tmp_path_factory.mktemp("raw") / "WildDeepfake", n_videos=3, spec=spec)
    return {
        "folder": [f"data.raw_dir={folder}"],
        "deepfakebench": [f"data.raw_dir={dfb}"],
        "df40": [f"data.raw_dir={dfb}", f"data.layout.json_path={dfb}/dataset_json/FaceForensics++.json"],
        "wilddeepfake": [f"data.raw_dir={wild}"],
    }


# -- mini raw trees in every layout, generated once per session (small frames, few videos) ------
#: Small but detectable: faces are ~40% of a 160 px high frame.
SPEC = mini.VideoSpec(width=192, height=144, n_frames=8, fps=8)
FFPP_METHODS = ("Deepfakes", "FaceSwap")


@pytest.fixture(scope="session")
def ffpp_tree(tmp_path_factory) -> Path:
    """FF++: 3 pairs (1 train, 1 val, 1 test) × 2 methods, plus the corrupt pair and DFD."""
    root = tmp_path_factory.mktemp("raw") / "FaceForensics++"
    return mini.make_ffpp(
        root,
        n_pairs=3,
        methods=FFPP_METHODS,
        split_pairs=(1, 1, 1),
        include_dfd=True,
        corrupt=True,
        spec=SPEC,
    )


@pytest.fixture(scope="session")
def celebdf_tree(tmp_path_factory) -> Path:
    return mini.make_celebdf(
        tmp_path_factory.mktemp("raw") / "Celeb-DF-v2",
        n_ids=3,
        videos_per_id=1,
        n_youtube=2,
        corrupt=True,
        spec=SPEC,
    )


@pytest.fixture(scope="session")
def dfdc_tree(tmp_path_factory) -> Path:
    return mini.make_dfdc(
        tmp_path_factory.mktemp("raw") / "dfdc",
        n_parts=2,
        originals_per_part=1,
        fakes_per_original=2,
        n_test=2,
        corrupt=True,
        spec=SPEC,
    )


@pytest.fixture(scope="session")
def fakeavceleb_tree(tmp_path_factory) -> Path:
    return mini.make_fakeavceleb(
        tmp_path_factory.mktemp("raw") / "FakeAVCeleb_v1.2", n_ids=5, corrupt=True, spec=SPEC
    )


@pytest.fixture(scope="session")
def folder_tree(tmp_path_factory) -> Path:
    return mini.make_folder(
        tmp_path_factory.mktemp("raw") / "folder", n_images=4, n_videos=1, corrupt=True, spec=SPEC
    )


@pytest.fixture(scope="session")
def deepfakebench_tree(tmp_path_factory) -> Path:
    return mini.make_deepfakebench(
        tmp_path_factory.mktemp("raw") / "DeepfakeBench", n_videos=4, frames_per_video=2, spec=SPEC
    )


@pytest.fixture(scope="session")
def cropper():
    from dfd.preprocessing.faces import FaceCropper

    # per-frame detection: the shared runs' tiny models (ffpp_run: Meso4, 2 epochs) separate these
    # crops by a hair, and tracked boxes (tests/preprocessing/test_keyframes.py) move them
    return FaceCropper(crop_size=96, keyframe_every=1)


@pytest.fixture(scope="module")
def av_clips(tmp_path_factory: pytest.TempPathFactory):
    """Synthetic audio-visual clips at test size (40 videos, 32 mel bins, 32 px), set up."""
    from dfd.core.input_spec import InputSpec
    from dfd.data.synthetic.av import SyntheticAVDataModule

    dm = SyntheticAVDataModule(
        str(tmp_path_factory.mktemp("av")), num_videos=40, n_mels=32, input_spec=InputSpec(32), augment=False
    )
    dm.prepare_data()
    dm.setup()
    return dm


# -- trained runs for the evaluation tests (dfd.eval, compare, cross_eval, robustness, reports) --
#: TinyNet (tests/tiny_detector.py) on synthetic crops at 64 px: learns to test AUC > 0.9 in ~25 s.
TINY_RUN = [
    "model.net._target_=tests.tiny_detector.TinyNet",
    "model.net.dropout=0.0",
    "model.net.input_size=64",
    "model.optimizer.lr=3e-3",
    "data.num_videos=120",
    "data.frames_per_video=4",
    "data.crop_size=64",
    "data.batch_size=16",
    "callbacks.early_stopping=null",
]


def train_tiny(run_dir: Path, data_dir: Path, epochs: int, seed: int):
    """Train TinyNet on the synthetic crops into ``run_dir`` (the evaluation tests' runs)."""
    from dfd.training.tasks import train

    cfg = compose_config(
        "train",
        base_overrides(run_dir, data_dir) + TINY_RUN + [f"trainer.max_epochs={epochs}", f"seed={seed}"],
    )
    with open_dict(cfg):
        cfg.callbacks.pop("rich_progress_bar", None)
        cfg.data.num_workers = 0
    return train(cfg)


@pytest.fixture(scope="session")
def trained_runs(tmp_path_factory, data_dir):
    """A trained run (8 epochs, test=true) and a weaker one (1 epoch) on the same data."""

    def build(root: Path) -> tuple[Path, dict[str, float]]:
        metrics = train_tiny(root / "a", data_dir, epochs=8, seed=0)
        train_tiny(root / "b", data_dir, epochs=1, seed=1)
        return root, {k: float(v) for k, v in metrics.items()}

    with pytest.MonkeyPatch.context() as mp:
        # lets configs name tests.tiny_detector.TinyNet, here and in the subprocesses
        mp.setenv("DFD_TRUSTED_TARGETS", "tests.*")
        runs = built_once(tmp_path_factory, "evalrun", build)
        synthetic_data(data_dir, TINY_RUN)  # the tests evaluate the runs on this worker's copy
        yield runs


@pytest.fixture(scope="session")
def ffpp_out(ffpp_tree, cropper, tmp_path_factory):
    """The FF++ mini tree preprocessed (4 frames per video, dlib's 68 landmarks beside each crop):
    (records, out folder, summary)."""
    from dfd.preprocessing.options import PreprocessOptions
    from dfd.preprocessing.runner import run_preprocessing
    from dfd.raw.layouts.ffpp import parse_ffpp

    def build(out: Path):
        records = parse_ffpp(ffpp_tree, methods=FFPP_METHODS, include_dfd=True)
        summary = run_preprocessing(
            records, out, cropper, PreprocessOptions(num_frames=4, landmarks="dlib68"), progress=False
        )
        return records, out, summary

    return built_once(tmp_path_factory, "ffpp_crops", build)


def eval_cfg(run_root: Path, data_dir: Path, out: Path, *overrides: str):
    """The eval config of run ``a`` of :func:`trained_runs`, writing into ``out``."""
    cfg = compose_config(
        "eval",
        base_overrides(out, data_dir)
        + [
            f"ckpt_path={run_root / 'a' / 'checkpoints' / 'best.ckpt'}",
            "+trainer.enable_progress_bar=false",
            *overrides,
        ],
    )
    return cfg


@pytest.fixture(scope="session")
def ffpp_run(ffpp_out, data_dir, tmp_path_factory):
    """Meso4 at 64 px trained two epochs on the preprocessed mini FF++ crops: a checkpoint whose
    preprocessing fingerprint is dfd's MTCNN cropper (margin 0.2, 96 px crops, 4 frames)."""
    _, crops, _ = ffpp_out
    return built_once(tmp_path_factory, "ffpp_run", lambda run: _train_ffpp(run, crops, data_dir))


def _train_ffpp(run: Path, crops: Path, data_dir: Path) -> Path:
    from dfd.training.tasks import train

    cfg = compose_config(
        "train",
        base_overrides(run, data_dir)
        + [
            "data=ffpp",
            f"data.root={crops}",
            f"data.layout.methods=[{','.join(FFPP_METHODS)}]",
            "data.batch_size=8",
            "data.num_workers=0",
            "data.pin_memory=false",
            "model.net.input_size=64",
            "trainer.max_epochs=2",
            "callbacks.early_stopping=null",
        ],  # fmt: skip
    )
    with open_dict(cfg):
        cfg.callbacks.pop("rich_progress_bar", None)
    train(cfg)
    return run / "checkpoints" / "best.ckpt"


@pytest.fixture(scope="session")
def exported_model(ffpp_run, tmp_path_factory):
    """:func:`ffpp_run` exported (model.onnx, model.safetensors, dfd_model.json, MODEL_CARD.md)."""
    from dfd.artifacts.tasks import export

    def build(folder: Path) -> Path:
        out = folder / "model"
        export(
            compose_config(
                "export", [f"ckpt_path={ffpp_run}", f"out_dir={out}", "paths.output_dir=/tmp/unused"]
            )
        )
        return out

    return built_once(tmp_path_factory, "exported", build)
