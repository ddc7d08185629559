"""The commands' wrapper: quiet runs, sweeps that survive a failed job, deprecated experiment names."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import lightning as L
import pytest
from omegaconf import OmegaConf

from dfd.config import entry
from tests.conftest import CONF, ROOT, run_module

TIP_LOGGER = "lightning.pytorch.utilities.rank_zero"


def test_quiet_drops_lightnings_cloud_tips(caplog) -> None:
    logger = logging.getLogger(TIP_LOGGER)
    logger.filters = [f for f in logger.filters if not isinstance(f, entry._DropTips)]
    with caplog.at_level(logging.INFO, logger=TIP_LOGGER):
        L.Trainer(accelerator="cpu", logger=False, enable_checkpointing=False)
    assert any("💡 Tip" in r.getMessage() for r in caplog.records)  # what Lightning prints unfiltered
    caplog.clear()
    entry.quiet()
    entry.quiet()  # idempotent
    with caplog.at_level(logging.INFO, logger=TIP_LOGGER):
        L.Trainer(accelerator="cpu", logger=False, enable_checkpointing=False)
    assert not any("💡 Tip" in r.getMessage() for r in caplog.records)
    assert any("GPU available" in r.getMessage() for r in caplog.records)  # the rest still shows


def test_run_task_returns_the_optimized_metric_and_names_a_missing_one() -> None:
    cfg = OmegaConf.create({"optimized_metric": "val/auc_best", "paths": {"output_dir": "."}})
    assert entry.run_task(lambda c: {"val/auc_best": 0.75, "x": 1.0}, cfg) == 0.75
    with pytest.raises(
        KeyError, match="optimized_metric=val/auc_best was not logged; logged keys: \\['x'\\]"
    ):
        entry.run_task(lambda c: {"x": 1.0}, cfg)
    with pytest.raises(ZeroDivisionError):  # a single run re-raises (non-zero exit code)
        entry.run_task(lambda c: 1 / 0, cfg)


def test_every_alias_file_is_listed_and_points_at_an_experiment() -> None:
    files = {p.stem for p in (CONF / "experiment").glob("*.yaml")}
    aliases = {p.stem for p in (CONF / "experiment").glob("*.yaml") if "Deprecated alias" in p.read_text()}
    assert aliases == set(entry.EXPERIMENT_ALIASES)
    assert set(entry.EXPERIMENT_ALIASES.values()) <= files - aliases


@pytest.mark.slow
def test_an_old_experiment_name_runs_and_warns(tmp_path: Path, data_dir: Path) -> None:
    proc = run_module(
        "dfd.train",
        ["experiment=avff_synthetic_av_pretrain", "+trainer.fast_dev_run=true", f"paths.data_dir={data_dir}",
         f"paths.log_dir={tmp_path}", "data.num_videos=40", "data.num_workers=0", "callbacks.rich_progress_bar=null"],
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout + proc.stderr
    assert "experiment=avff_synthetic_av_pretrain is a deprecated alias" in out
    assert "use experiment=avff_tiny_synthetic_av_pretrain" in out
    assert "💡" not in out  # and no Lightning tips in a real run


def test_rename_overrides_rewrites_only_the_renamed_key() -> None:
    argv = ["model=/runs/exported", "port=8001", "model.name=x", "hydra.run.dir=model=odd", "--cfg"]
    assert entry.rename_overrides(argv, {"model": "ckpt_path"}) == [
        "ckpt_path=/runs/exported", "port=8001", "model.name=x", "hydra.run.dir=model=odd", "--cfg",
    ]  # fmt: skip


def test_positional_arguments_become_one_list_override(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs" / "lr=0.1").mkdir(parents=True)  # an existing folder with "=" in its name
    argv = ["outputs/multiruns/x", "metrics=all", "--cfg", "job", "runs/*", "-m", "runs/lr=0.1",
            "hydra.run.dir=o"]  # fmt: skip
    assert entry.positional_overrides(argv, "runs") == [
        "metrics=all", "--cfg", "job", "-m", "hydra.run.dir=o", "runs=['outputs/multiruns/x','runs/*','runs/lr=0.1']",
    ]  # fmt: skip
    # --info takes a value only when it is one of its topics
    assert entry.positional_overrides(["-i", "config", "a"], "runs") == ["-i", "config", "runs=['a']"]
    assert entry.positional_overrides(["--info", "a"], "runs") == ["--info", "runs=['a']"]
    assert entry.positional_overrides(["runs=[a,b]", "~x"], "runs") == ["runs=[a,b]", "~x"]  # nothing bare
    with pytest.raises(ValueError, match=r"runs=\[a\] and the bare arguments \['b'\] both give runs"):
        entry.positional_overrides(["runs=[a]", "b"], "runs")


def test_the_flags_that_take_a_value_are_hydras() -> None:
    from hydra._internal.utils import get_args_parser

    actions = [a for a in get_args_parser()._actions if a.option_strings]
    takes_value = {s for a in actions if a.nargs is None for s in a.option_strings}
    assert takes_value == entry.HYDRA_VALUE_FLAGS
    (info,) = [a for a in actions if "--info" in a.option_strings]
    assert info.nargs == "?" and set(info.choices) == entry.HYDRA_INFO_TOPICS


@pytest.mark.parametrize(
    "path",
    ["outputs/a b", "it's", "x,y", "[x]", "a=b", "C:\\dir\\", "c\\d", "a\\'b", "${oc.env:HOME}", "a\\${x}",
     "é/*"],
)  # fmt: skip
def test_quoted_paths_read_back_unchanged(path: str) -> None:
    from hydra.core.override_parser.overrides_parser import OverridesParser

    value = OverridesParser.create().parse_override(f"runs=[{entry.quote_override_value(path)}]").value()
    assert list(OmegaConf.create({"runs": value}).runs) == [path]  # interpolations are not resolved either


@pytest.mark.parametrize(
    ("config_name", "overrides", "callback"),
    [("preprocess", [], "MergeShards"), ("train", ["hparams_search=loss_sampler"], "OptunaSummaryCallback")],
)
def test_the_callbacks_hydra_builds_itself_are_trusted_without_a_warning(
    config_name, overrides, callback
) -> None:
    """Hydra instantiates ``hydra.callbacks`` itself, outside dfd's ``instantiate``; under the whitelist
    every command's ``hydra.main`` passes, it builds them silently, where without one Hydra 1.4 warns
    that the call will be an error in Hydra 1.5."""
    import warnings

    from hydra import compose, initialize_config_dir
    from hydra._internal.callbacks import Callbacks
    from hydra._internal.execution_policy import execution_whitelist
    from hydra.core.global_hydra import GlobalHydra

    from dfd.config.instantiate import trusted_targets

    entry.register_resolvers()
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(CONF)):
            cfg = compose(config_name=config_name, overrides=overrides, return_hydra_config=True)
    finally:
        GlobalHydra.instance().clear()
    with warnings.catch_warnings(record=True) as unguarded:
        warnings.simplefilter("always")
        Callbacks(cfg)
    assert any("Hydra 1.5" in str(w.message) for w in unguarded)  # what users saw before
    with execution_whitelist(trusted_targets()), warnings.catch_warnings():
        warnings.simplefilter("error")
        built = Callbacks(cfg).callbacks
    assert callback in [type(c).__name__ for c in built]


# -- refusals: one reason, no traceback ---------------------------------------------------------
def nonblank(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


@pytest.mark.slow  # a dfd.predict subprocess
def test_a_missing_checkpoint_is_refused_in_two_lines(tmp_path: Path) -> None:
    args = [f"ckpt_path={tmp_path}/missing.ckpt", f"input={tmp_path}", f"hydra.run.dir={tmp_path}/run"]
    proc = run_module("dfd.predict", args, timeout=300)
    assert proc.returncode == 1
    lines = nonblank(proc.stderr)
    assert len(lines) <= 2, proc.stderr
    assert (
        lines[0].startswith("dfd.predict: error: invalid run keys") and f"{tmp_path}/missing.ckpt" in lines[0]
    )
    assert "HYDRA_FULL_ERROR=1" in lines[-1]
    assert "Traceback" not in proc.stderr + proc.stdout and "Error executing job" not in proc.stderr

    full = subprocess.run(
        [sys.executable, "-m", "dfd.predict", *args], cwd=ROOT, capture_output=True, text=True, timeout=300,
        env=dict(os.environ, HYDRA_FULL_ERROR="1", HF_HUB_OFFLINE="1", PYTHONWARNINGS="ignore"),
    )  # fmt: skip
    assert full.returncode == 1
    assert "Traceback" in full.stderr and "invalid run keys" in full.stderr


@pytest.mark.slow  # a dfd.predict subprocess
def test_cropping_photos_for_a_model_of_generated_crops_is_refused_in_two_lines(tmp_path: Path) -> None:
    """The refusal of issue #23: 17-34 lines of traceback before; its reason and the hint now."""
    from PIL import Image

    from tests.fake_runs import make_model_run

    ckpt = make_model_run(tmp_path / "run", preprocessing={"detector": "none (generated crops)"})
    Image.new("RGB", (96, 96), (128, 90, 60)).save(tmp_path / "photo.png")
    proc = run_module(
        "dfd.predict",
        [
            f"ckpt_path={ckpt}",
            f"input={tmp_path / 'photo.png'}",
            "device=cpu",
            f"hydra.run.dir={tmp_path}/out",
        ],
        timeout=300,
    )
    assert proc.returncode == 1
    lines = nonblank(proc.stderr)
    assert len(lines) <= 2, proc.stderr
    assert lines[0].startswith(
        "dfd.predict: error: the model's training crops were not made by dfd's MTCNN cropper"
    )
    assert "cropper.margin=0.2 cropper.crop_size=256" in lines[0]
    assert "Traceback" not in proc.stderr


def test_refusals_and_bugs_are_told_apart(tmp_path: Path) -> None:
    from hydra.errors import InstantiationException

    from dfd.artifacts.runs import load_ensemble_run, resolve_checkpoint
    from dfd.core.errors import DfdError

    def caught(fn, *args):
        try:
            fn(*args)
        except Exception as err:  # noqa: BLE001 - the test inspects whatever it raised
            return err
        raise AssertionError("nothing raised")

    assert entry.is_refusal(caught(resolve_checkpoint, tmp_path / "none.ckpt"))  # dfd's own raise
    (tmp_path / "ensemble.json").write_text("{}")
    bug = caught(load_ensemble_run, tmp_path)  # record["members"]: a lookup that failed, not a refusal
    assert isinstance(bug, KeyError) and not entry.is_refusal(bug)
    assert not entry.is_refusal(caught(lambda: int("x")))  # raised outside dfd
    assert entry.is_refusal(DfdError("a refusal"))
    try:
        raise InstantiationException("Error in call to target") from DfdError("wrapped")
    except InstantiationException as err:
        assert entry.is_refusal(err) and entry.refusal_message(err) == "wrapped"
    assert entry.refusal_message(KeyError("no such key\n  and more")) == "no such key and more"


def test_run_task_prints_a_refusal_and_exits_1(capsys) -> None:
    from dfd.core.errors import DfdError

    def task(cfg):
        raise DfdError("model.x=3 is not allowed: set model.x=1")

    cfg = OmegaConf.create({"task_name": "eval", "paths": {"output_dir": "."}})
    with pytest.raises(SystemExit) as stopped:
        entry.run_task(task, cfg)
    assert stopped.value.code == 1
    err = capsys.readouterr().err.splitlines()
    assert err == ["dfd.eval: error: model.x=3 is not allowed: set model.x=1", entry.TRACEBACK_HINT]


def test_contradicting_bare_arguments_are_refused_in_two_lines(monkeypatch, capsys) -> None:
    main = entry.entry("summarize", lambda cfg: None, positional="runs")
    monkeypatch.setattr(sys, "argv", ["dfd.summarize", "runs=[a]", "b"])
    monkeypatch.delenv("HYDRA_FULL_ERROR", raising=False)
    with pytest.raises(SystemExit) as stopped:
        main()
    assert stopped.value.code == 1
    err = capsys.readouterr().err.splitlines()
    assert err == ["dfd.summarize: error: runs=[a] and the bare arguments ['b'] both give runs: give them one way, "
                   "as bare arguments or as runs=[a,b]", entry.TRACEBACK_HINT]  # fmt: skip
