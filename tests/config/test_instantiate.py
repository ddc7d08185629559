"""Building objects from configs: only trusted targets, and the run-directory resolvers."""

from __future__ import annotations

from pathlib import Path

import pytest
from omegaconf import OmegaConf

from dfd.config.instantiate import UntrustedTarget, instantiate, resume_run_dir
from dfd.models.losses import BCELoss

CALLS: list[str] = []


def record_call() -> None:
    """A target outside dfd's allow-list: it must never run."""
    CALLS.append("ran")


def test_a_foreign_target_is_refused_with_the_way_to_allow_it(monkeypatch) -> None:
    monkeypatch.delenv("DFD_TRUSTED_TARGETS", raising=False)  # other tests trust tests.*
    target = f"{__name__}.record_call"
    with pytest.raises(UntrustedTarget, match=rf"_target_: {target} .* DFD_TRUSTED_TARGETS={target}"):
        instantiate(OmegaConf.create({"_target_": target}))
    assert not CALLS  # refused before it ran
    # nested targets are checked too
    with pytest.raises(UntrustedTarget, match="builtins.eval"):
        instantiate(
            OmegaConf.create(
                {"_target_": "dfd.models.losses.BCELoss", "pos_weight": {"_target_": "builtins.eval"}}
            )
        )


def test_trusted_targets_and_the_environment_allow_list(monkeypatch) -> None:
    assert isinstance(instantiate(OmegaConf.create({"_target_": "dfd.models.losses.BCELoss"})), BCELoss)
    with pytest.raises(UntrustedTarget, match="torch.zeros"):  # single callables, not all of torch
        instantiate(OmegaConf.create({"_target_": "torch.zeros", "_args_": [2]}))
    monkeypatch.setenv("DFD_TRUSTED_TARGETS", "os.path.join")
    assert instantiate(OmegaConf.create({"_target_": "os.path.join", "_args_": ["a", "b"]})) == "a/b"


def test_resume_run_dir_only_for_checkpoints_of_a_dfd_run(tmp_path: Path) -> None:
    run = tmp_path / "run"
    (run / ".hydra").mkdir(parents=True)
    (run / "checkpoints").mkdir()
    assert resume_run_dir(str(run / "checkpoints" / "last.ckpt")) == str(run)
    assert resume_run_dir(str(tmp_path / "elsewhere" / "last.ckpt")) is None
    assert resume_run_dir(None) is None


def test_a_net_of_ones_own_drops_into_a_model_config_without_the_switches_it_lacks(monkeypatch):
    """model.net.localization is handed to every net; a net without the head (a user's own, trusted)
    is built without it while it is off, and refuses it when on."""
    import pytest
    from omegaconf import OmegaConf

    from dfd.config.instantiate import instantiate

    monkeypatch.setenv("DFD_TRUSTED_TARGETS", "tests.*")
    cfg = OmegaConf.create({"localization": False, "net": {"_target_": "tests.tiny_detector.TinyNet",
                                                           "input_size": 32, "localization": "${localization}"}})  # fmt: skip
    net = instantiate(cfg.net)
    assert type(net).__name__ == "TinyNet" and not getattr(net, "localization", False)
    on = OmegaConf.create({"_target_": "tests.tiny_detector.TinyNet", "input_size": 32, "localization": True})
    with pytest.raises(Exception, match="localization"):
        instantiate(on)
    # dfd's own nets take the switch
    mesonet = instantiate(
        OmegaConf.create({"_target_": "dfd.models.nets.mesonet.Meso4", "localization": True})
    )
    assert mesonet.localization


def test_net_shorthands_reach_the_net_and_stay_in_the_config() -> None:
    """model.backbone / model.pretrained / model.tuning (model=foundation's command-line spelling) are
    the net's arguments: the module, which takes none of them, is built without them, and the config
    keeps them for the run's config.yaml."""
    cfg = OmegaConf.create(
        {"model": {"_target_": "dfd.models.detector_module.DetectorModule", "_partial_": True,
                   "backbone": "vit_tiny_patch16_224", "pretrained": False, "tuning": "linear",
                   "net": {"_target_": "dfd.models.nets.foundation.FoundationNet", "backbone": "${model.backbone}",
                           "pretrained": "${model.pretrained}", "tuning": "${model.tuning}", "input_size": 32}}}
    )  # fmt: skip
    module = instantiate(cfg.model)(optimizer=None)
    assert module.net.tuning == "linear" and module.net.input_spec.size == 32
    assert all(not p.requires_grad for p in module.net.backbone.parameters())
    assert (cfg.model.backbone, cfg.model.pretrained, cfg.model.tuning) == (
        "vit_tiny_patch16_224",
        False,
        "linear",
    )


def test_preprocessing_enters_clip_mode_for_audio_visual_data_only() -> None:
    """A crop dataset's data.clip_len (its track clips, cut at training time) leaves preprocessing in
    frame mode; the audio-visual configs (with clips_per_video) switch it to clip mode."""
    from tests.conftest import compose_config

    assert compose_config("preprocess", ["data=ffpp"]).preprocess.clip_len == 0
    assert compose_config("preprocess", ["data=ffpp", "data.clips=true"]).preprocess.clip_len == 0
    assert compose_config("preprocess", ["data=dfdc_av"]).preprocess.clip_len == 16
