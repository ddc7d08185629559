"""dfd.core.moved: configs, run folders and imports written for the module paths of earlier dfd
versions keep working after the package's re-layout (issue 24)."""

from __future__ import annotations

import importlib
import shutil
import sys
import warnings
from pathlib import Path

import pandas as pd
import pytest
from omegaconf import OmegaConf

from dfd.core.moved import MOVED_MODULES, MOVED_NAMES, current_target
from tests.conftest import compose_config


@pytest.mark.parametrize("old", sorted(MOVED_MODULES))
def test_an_old_module_path_imports_its_new_module_with_a_deprecation_warning(old: str, monkeypatch) -> None:
    new = importlib.import_module(MOVED_MODULES[old])
    monkeypatch.delitem(sys.modules, old, raising=False)  # as in a fresh process
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        module = importlib.import_module(old)
    assert module is new
    assert [str(w.message) for w in caught if issubclass(w.category, DeprecationWarning)] == [
        f"{old} moved to {MOVED_MODULES[old]}; import it from there"
    ]


def test_every_moved_name_exists_at_its_new_home_and_old_targets_map_there() -> None:
    for old, new in MOVED_NAMES.items():
        module, _, name = new.rpartition(".")
        assert hasattr(importlib.import_module(module), name), new
        assert current_target(old) == new
    assert current_target("dfd.losses.FocalLoss") == "dfd.models.losses.FocalLoss"
    assert current_target("dfd.utils.shards.MergeShards") == "dfd.preprocessing.tasks.MergeShards"
    assert current_target("dfd.models.nets.mesonet.Meso4") == "dfd.models.nets.mesonet.Meso4"
    assert current_target("torch.optim.Adam") == "torch.optim.Adam" and current_target(3) == 3


def test_an_old_loss_target_instantiates_through_the_trusted_list() -> None:
    from dfd.config.instantiate import instantiate
    from dfd.models.losses import FocalLoss

    cfg = OmegaConf.create({"loss": {"_target_": "dfd.losses.FocalLoss", "gamma": 2.0}})
    assert isinstance(instantiate(cfg.loss), FocalLoss)
    assert cfg.loss._target_ == "dfd.models.losses.FocalLoss"  # rewritten in place


def test_nested_old_targets_are_rewritten_in_place_and_interpolations_still_resolve() -> None:
    from dfd.config.instantiate import with_current_targets

    cfg = OmegaConf.create({"root": "/data", "a": [{"_target_": "dfd.errors.DfdError", "path": "${root}/x"}]})
    assert with_current_targets(cfg.a) is cfg.a
    assert cfg.a[0]._target_ == "dfd.core.errors.DfdError" and cfg.a[0].path == "/data/x"


def old_run(run: Path, to: Path) -> Path:
    """A copy of a run folder whose ``config.yaml`` names the module paths of dfd before issue 24
    (as a run folder from an earlier ``make demo`` does: ``loss._target_: dfd.losses.BCELoss``)."""
    shutil.copytree(run, to)
    config = to / "config.yaml"
    text = config.read_text()
    inverse = {new: old for old, new in MOVED_MODULES.items() if old != "dfd.utils.shards"}
    for new, old in sorted(inverse.items(), key=lambda kv: -len(kv[0])):
        text = text.replace(new + ".", old + ".")
    assert "dfd.losses.BCELoss" in text and "dfd.models.losses" not in text
    config.write_text(text)
    return to


@pytest.mark.slow
def test_a_run_folder_of_an_earlier_version_still_evaluates_exports_and_predicts(
    ffpp_run, ffpp_tree, data_dir, tmp_path
) -> None:
    from dfd.artifacts.tasks import export
    from dfd.evaluation.tasks import evaluate
    from dfd.inference.tasks import predict

    run = old_run(ffpp_run.parent.parent, tmp_path / "run")
    ckpt = run / "checkpoints" / "best.ckpt"
    metrics = evaluate(compose_config("eval", [f"ckpt_path={ckpt}", "split=test", f"out_dir={tmp_path / 'eval'}",
                                               f"paths.data_dir={data_dir}", f"paths.output_dir={tmp_path / 'eval'}",
                                               "trainer.accelerator=cpu", "+trainer.enable_progress_bar=false"]))  # fmt: skip
    assert 0.0 <= metrics["test/auc"] <= 1.0
    model = tmp_path / "model"
    export(
        compose_config("export", [f"ckpt_path={ckpt}", f"out_dir={model}", f"paths.output_dir={tmp_path}"])
    )
    assert (model / "model.onnx").is_file() and (model / "dfd_model.json").is_file()
    video = sorted((ffpp_tree / "original_sequences/youtube/c23/videos").glob("*.mp4"))[0]
    for source in (ckpt, model):
        out = tmp_path / f"{source.name}.csv"
        predict(compose_config("predict", [f"ckpt_path={source}", f"input={video}", f"output={out}",
                                           f"paths.output_dir={tmp_path}"]))  # fmt: skip
        rows = pd.read_csv(out)
        assert rows["status"].tolist() == ["ok"] and 0.0 <= rows["score"].iloc[0] <= 1.0


@pytest.mark.parametrize("old", sorted(MOVED_NAMES))
def test_an_old_import_of_a_moved_name_still_works_with_a_warning(old: str) -> None:
    module, _, name = old.rpartition(".")
    new_module, _, new_name = MOVED_NAMES[old].rpartition(".")
    expected = getattr(importlib.import_module(new_module), new_name)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert getattr(importlib.import_module(module), name) is expected
    assert any(f"moved to {MOVED_NAMES[old]}" in str(w.message) for w in caught)


def test_a_name_that_never_was_there_is_still_an_attribute_error() -> None:
    import dfd.callbacks.calibration

    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        dfd.callbacks.calibration.nope  # noqa: B018
