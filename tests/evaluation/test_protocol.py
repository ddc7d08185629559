"""The FF++ cross protocol's config: every cross dataset the field reports is named, absent ones
are skipped with a reason, and checkpoint selection does not see the methods left out of training."""

from __future__ import annotations

from hydra import initialize_config_dir
from hydra.core.global_hydra import GlobalHydra

from dfd.config.instantiate import register_resolvers
from dfd.evaluation.protocol import present
from tests.conftest import CONF, ROOT, compose_config


def test_ffpp_cross_names_celebdfpp_and_df40_and_selects_on_the_training_methods_only():
    cfg = compose_config("protocol", ["protocol=ffpp_cross"])
    assert {"celebdfpp", "df40"} <= set(cfg.protocol.evaluate_on)
    assert "data.val_follows_train_methods=true" in cfg.protocol.train
    # the key exists in the training data config the protocol trains with
    train = compose_config("train", list(cfg.protocol.train))
    assert train.data.val_follows_train_methods is True
    assert list(train.data.train_methods) == ["Deepfakes", "Face2Face", "FaceSwap", "NeuralTextures"]


def test_absent_celebdfpp_and_df40_are_skipped_with_the_reason(tmp_path):
    register_resolvers()
    overrides = [
        f"paths.root_dir={ROOT}",
        f"paths.data_dir={tmp_path / 'data'}",
        f"paths.log_dir={tmp_path}",
    ]
    cfg = compose_config("protocol", overrides)
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(CONF)):
            reasons = {name: present(cfg, name) for name in ("celebdfpp", "df40")}
    finally:
        GlobalHydra.instance().clear()
    assert "python -m dfd.preprocess data=celebdfpp" in reasons["celebdfpp"]
    assert reasons["df40"].endswith(
        f"not found: {tmp_path / 'data' / 'raw' / 'DF40/dataset_json/FSAll_ff.json'}"
    )
