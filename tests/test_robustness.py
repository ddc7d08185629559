"""dfd.robustness: AUC falls with every corruption's severity and attack strength; the command writes its table and figure."""

from __future__ import annotations

import pytest

from dfd.metrics.robustness import (
    Attack,
    Downscale,
    GaussianBlur,
    GaussianNoise,
    JpegCompression,
    evaluate_robustness,
)
from tests.conftest import compose_config, run_module

pytestmark = pytest.mark.slow


def test_robustness_auc_falls_with_severity(trained_runs, data_dir):
    from dfd.evaluation.scoring import load_for_eval

    root, _ = trained_runs
    ckpt = root / "a" / "checkpoints" / "best.ckpt"
    _, model, dm, _ = load_for_eval(compose_config("eval", [f"ckpt_path={ckpt}"]), ckpt)
    dm.prepare_data()
    dm.setup("test")
    spec = model.net.input_spec
    table = evaluate_robustness(
        model.net, dm.test_dataloader(), spec.mean, spec.std,
        corruptions=[JpegCompression([90, 10]), GaussianBlur([0.5, 3.0]), GaussianNoise([0.02, 0.3]), Downscale([0.75, 0.15])],
        attacks=[Attack("fgsm", (0.5 / 255, 8 / 255)), Attack("pgd", (0.5 / 255, 8 / 255), steps=5)],
    )  # fmt: skip
    auc = {(r.perturbation, r.level): r.auc for r in table.itertuples()}
    clean = auc[("clean", 0.0)]
    assert clean > 0.8
    for name in ("jpeg", "blur", "noise", "downscale", "fgsm", "pgd"):
        mild, strong = table[table.perturbation == name].auc.tolist()
        # JPEG at quality 10 costs this model only ~0.03 AUC (the crops were JPEG-compressed)
        assert strong < mild - (0.0 if name == "jpeg" else 0.1), (name, mild, strong)
        assert mild <= clean + 0.02
    assert auc[("pgd", 8 / 255)] < 0.5  # a white-box attack at 8/255 inverts the ranking


def test_robustness_entry_point(trained_runs, data_dir, tmp_path):
    root, _ = trained_runs
    ckpt = root / "a" / "checkpoints" / "best.ckpt"
    proc = run_module(
        "dfd.robustness",
        [f"ckpt_path={ckpt}", f"paths.data_dir={data_dir}", f"paths.log_dir={tmp_path}", f"out_dir={tmp_path / 'rob'}",
         "max_batches=1", "corruptions.jpeg.levels=[50]", "corruptions.blur=null", "corruptions.brightness_contrast=null",
         "corruptions.downscale=null", "corruptions.noise.levels=[0.3]", "attacks.pgd=null", "attacks.fgsm.epsilons=[0.03]"],
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = (tmp_path / "rob" / "robustness.csv").read_text().splitlines()
    assert lines[0].startswith("perturbation,level,auc") and len(lines) == 1 + 4
    assert (tmp_path / "rob" / "robustness.png").stat().st_size > 5_000
