"""The shared evaluation steps: the selection guard and the split check, for eval, compare and robustness."""

from __future__ import annotations

import pytest

from tests.conftest import compose_config, eval_cfg

pytestmark = pytest.mark.slow


def test_guard_refuses_test_split_of_selection_data(trained_runs, data_dir, tmp_path):
    from dfd.artifacts.runs import data_root, run_config_for
    from dfd.evaluation.scoring import check_selection_guard, eval_data_config
    from dfd.evaluation.tasks import evaluate

    root, _ = trained_runs
    with pytest.raises(PermissionError, match="guard.enabled"):
        evaluate(eval_cfg(root, data_dir, tmp_path, "guard.enabled=true"))
    # dfd.robustness and dfd.compare share the guard (and the split check) through load_for_eval
    from dfd.evaluation.tasks import compare, robustness

    ckpt = root / "a" / "checkpoints" / "best.ckpt"
    base = [f"paths.data_dir={data_dir}", f"paths.log_dir={tmp_path}", f"paths.output_dir={tmp_path}"]
    with pytest.raises(PermissionError, match="guard.enabled"):
        robustness(compose_config("robustness", [*base, f"ckpt_path={ckpt}", "guard.enabled=true"]))
    with pytest.raises(PermissionError, match="guard.enabled"):
        compare(compose_config("compare", [*base, f"ckpt_a={ckpt}", f"ckpt_b={ckpt}", "guard.enabled=true"]))
    with pytest.raises(ValueError, match="split='train'"):
        robustness(compose_config("robustness", [*base, f"ckpt_path={ckpt}", "split=train"]))
    run_cfg = run_config_for(root / "a" / "checkpoints" / "best.ckpt")
    data_cfg = eval_data_config(eval_cfg(root, data_dir, tmp_path), run_cfg)
    for overrides, refused in [
        (["guard.enabled=false"], False),
        (["guard.enabled=true", "split=val"], False),  # validation is for development
        (["guard.enabled=true", "guard.data=[ffpp]"], False),  # the guard lists other data
        (["guard.enabled=true", f"guard.data=[{data_root(data_cfg)}]"], True),
    ]:
        cfg = eval_cfg(root, data_dir, tmp_path, *overrides)
        if refused:
            with pytest.raises(PermissionError):
                check_selection_guard(cfg, run_cfg, data_cfg)
        else:
            check_selection_guard(cfg, run_cfg, data_cfg)


def test_evaluating_on_differently_cropped_data_warns_with_the_settings(caplog):
    from types import SimpleNamespace

    from dfd.evaluation.scoring import warn_if_cropped_differently

    trained = {"detector": "facenet-pytorch MTCNN", "margin": 0.2, "crop_size": 256, "dataset": "ffpp"}
    same = SimpleNamespace(
        fingerprint=lambda: {**trained, "dataset": "celebdf"}
    )  # another dataset, same crops
    other = SimpleNamespace(fingerprint=lambda: {**trained, "margin": 0.3})
    with caplog.at_level("WARNING"):
        assert warn_if_cropped_differently(trained, same) == {}
        assert not caplog.records
        assert warn_if_cropped_differently(trained, other) == {"margin": (0.2, 0.3)}
    assert "crops made differently from these (margin 0.2 → 0.3)" in caplog.text
