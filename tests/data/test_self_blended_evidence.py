"""The evidence of docs/sbi.md at test size: a detector trained on real faces and their
self-blends only, its checkpoint chosen on blends too, finds the fakes of a mini FF++ tree that
it never saw in any form (``make sbi-mini`` is the full-size run)."""

from __future__ import annotations

import pytest
from omegaconf import open_dict

from dfd.data.synthetic import mini
from tests.conftest import base_overrides, compose_config

pytestmark = pytest.mark.slow

METHODS = ("Deepfakes", "FaceSwap")


@pytest.mark.timeout(600)
def test_a_real_only_self_blended_run_finds_unseen_fakes_well_above_chance(tmp_path, data_dir):
    from dfd.preprocessing.faces import FaceCropper
    from dfd.preprocessing.options import PreprocessOptions
    from dfd.preprocessing.runner import run_preprocessing
    from dfd.raw.layouts.ffpp import parse_ffpp
    from dfd.training.tasks import train

    raw = mini.make_ffpp(tmp_path / "raw", n_pairs=9, methods=METHODS, split_pairs=(6, 1, 2),
                         spec=mini.VideoSpec(width=192, height=144, n_frames=8, fps=8))  # fmt: skip
    crops = tmp_path / "crops"
    records = parse_ffpp(raw, methods=METHODS)
    run_preprocessing(records, crops, FaceCropper(crop_size=96), PreprocessOptions(num_frames=8, landmarks="dlib68"),
                      progress=False)  # fmt: skip
    cfg = compose_config(
        "train",
        base_overrides(tmp_path / "run", data_dir)
        + [
            "experiment=mesonet_ffpp_mini_sbi",
            f"data.root={crops}",
            "data.num_workers=0",
            "model.net.input_size=96",
            "trainer.max_epochs=12",
            "seed=0",
        ],  # fmt: skip
    )
    with open_dict(cfg):
        cfg.callbacks.pop("rich_progress_bar", None)
    metrics = train(cfg)
    # the tree's test split holds its Deepfakes and FaceSwap fakes; no fake of any kind trained or selected
    assert cfg.data.fakes == "self_blended" and cfg.data.val_fakes == "blended"
    assert metrics["test/auc"] > 0.7, metrics
