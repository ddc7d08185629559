"""Start-up checks: the run keys users type most are validated before any work, naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from dfd.config.validate import validate_run_keys
from tests.conftest import compose_config


def test_valid_defaults_pass_for_every_command() -> None:
    for config, extra in [("train", []), ("eval", []), ("preprocess", []), ("stats", []), ("generate", [])]:
        validate_run_keys(compose_config(config, extra))


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("trainer.max_epochs=abc", "trainer.max_epochs='abc': expected an integer >= -1"),
        ("trainer.max_epochs=2.5", "trainer.max_epochs=2.5: expected an integer"),
        ("data.batch_size=0", "data.batch_size=0: expected an integer >= 1"),
        ("trainer.precision=17", "trainer.precision=17: expected one of"),
        ("+trainer.limit_val_batches=1.5", "trainer.limit_val_batches=1.5: expected a batch count"),
        ("trainer.devices=zero", "trainer.devices='zero'"),
        ("model.optimizer.lr=-1", "model.optimizer.lr=-1: expected a number > 0.0"),
        ("seed=x", "seed='x': expected an integer >= 0"),
    ],
)
def test_a_bad_value_names_its_key_and_what_was_expected(override: str, expected: str) -> None:
    with pytest.raises(ValueError) as err:
        validate_run_keys(compose_config("train", [override]))
    assert expected in str(err.value)


def test_a_missing_checkpoint_is_named_and_every_problem_reported_at_once(tmp_path: Path) -> None:
    cfg = compose_config("train", [f"ckpt_path={tmp_path}/nope/last.ckpt", "data.num_workers=-1"])
    with pytest.raises(ValueError) as err:
        validate_run_keys(cfg)
    text = str(err.value)
    assert (
        f"ckpt_path='{tmp_path}/nope/last.ckpt': expected a checkpoint file, an exported model or ensemble folder"
        in text
    )
    assert "data.num_workers=-1" in text
    (tmp_path / "last.ckpt").write_bytes(b"x")
    validate_run_keys(compose_config("train", [f"ckpt_path={tmp_path}/last.ckpt"]))


def test_accepted_forms_of_the_lightning_keys() -> None:
    for override in ["trainer.devices=auto", "trainer.devices=[0,1]", "trainer.devices=-1", "trainer.max_epochs=-1",
                     "+trainer.limit_val_batches=0.25", "+trainer.limit_val_batches=3", "trainer.precision=bf16-mixed",
                     "trainer.gradient_clip_val=1"]:  # fmt: skip
        validate_run_keys(compose_config("train", [override]))


def test_an_unknown_landmark_provider_is_named_before_preprocessing_starts() -> None:
    validate_run_keys(compose_config("preprocess", ["preprocess.landmarks=dlib68"]))
    with pytest.raises(
        ValueError, match=r"preprocess.landmarks='dlib81': expected one of \['none', 'mtcnn5', 'dlib68'\]"
    ):
        validate_run_keys(compose_config("preprocess", ["preprocess.landmarks=dlib81"]))


def test_model_and_data_must_agree_on_clips() -> None:
    # a temporal net (model.net.clip_len) reads clips; the data gives them with data.clips=true
    with pytest.raises(
        ValueError, match=r"data.clips=False: FTCN reads clips of face crops; set data.clips=true"
    ):
        validate_run_keys(compose_config("train", ["model=ftcn", "++data.clips=false"]))
    validate_run_keys(compose_config("train", ["model=ftcn", "++data.clips=true", "++data.clip_len=16"]))
    with pytest.raises(
        ValueError, match=r"data.clips=true: TimmNet reads single face crops; set data.clips=false"
    ):
        validate_run_keys(compose_config("train", ["model=timm", "++data.clips=true"]))


def test_compare_and_protocol_take_a_model_folder_for_the_published_detector(tmp_path):
    folder = tmp_path / "imported"
    folder.mkdir()
    (folder / "dfd_model.json").write_text("{}")
    (tmp_path / "a.ckpt").write_bytes(b"x")
    validate_run_keys(compose_config("compare", [f"ckpt_a={tmp_path}/a.ckpt", f"ckpt_b={folder}"]))
    validate_run_keys(compose_config("protocol", [f"published_path={folder}"]))
    with pytest.raises(
        ValueError, match=r"published_path='.*nope': expected a checkpoint file, an exported model"
    ):
        validate_run_keys(compose_config("protocol", [f"published_path={tmp_path}/nope"]))
