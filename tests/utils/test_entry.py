"""The commands' wrapper: quiet runs, sweeps that survive a failed job, deprecated experiment names."""

from __future__ import annotations

import logging
from pathlib import Path

import lightning as L
import pytest
from omegaconf import OmegaConf

from dfd.utils import entry
from tests.conftest import CONF, run_module

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

    from dfd.utils.instantiate import trusted_targets

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
