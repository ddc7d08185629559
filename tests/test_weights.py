"""``dfd.weights`` and ``dfd.import_weights`` as a user runs them: list the catalogue with licences,
import a release file into a folder that ``dfd.predict`` scores with, refuse what is not one."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import torch

from tests.published.test_mesonet import _randomised

ROOT = Path(__file__).resolve().parents[1]


def run(module: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    """``python -m <module> <args>``, in this process (:func:`tests.conftest.run_main`)."""
    from tests.conftest import run_main

    return run_main(module, list(args), cwd=cwd)


def weights_config(tmp_path: Path, *overrides: str):
    from tests.conftest import compose_config

    return compose_config("weights", [f"paths.root_dir={tmp_path}", f"hydra.run.dir={tmp_path}", *overrides])


def test_list_shows_every_entry_with_its_licence_and_reported_number(tmp_path: Path, capsys) -> None:
    from dfd.published.tasks import weights

    entries = weights(weights_config(tmp_path, "action=[list]"))  # as `dfd.weights list` passes it
    out = capsys.readouterr().out
    rows = {line.split()[0]: line for line in out.splitlines() if line.split() and line.split()[0] in entries}
    assert set(rows) == set(entries)
    assert (
        "CC BY-NC 4.0" in rows["deepfakebench_xception"]
        and "frame AUC 0.7365 on Celeb-DF v2" in rows["deepfakebench_xception"]
    )
    assert (
        "noncommercial" in rows["sbi_effb4_ffraw"]
        and "video AUC 0.9382 on Celeb-DF v2" in rows["sbi_effb4_ffraw"]
    )


def test_get_offline_fails_at_once_naming_the_url_and_the_place_for_the_file(
    tmp_path: Path, monkeypatch
) -> None:
    import urllib.request

    from dfd.published.download import DownloadError
    from dfd.published.tasks import weights

    def no_route(*args, **kwargs):
        raise urllib.error.URLError(OSError(101, "Network is unreachable"))

    monkeypatch.setattr(urllib.request, "urlopen", no_route)  # this machine's sandbox, on any machine
    with pytest.raises(DownloadError) as err:
        weights(
            weights_config(tmp_path, "action=get", "name=deepfakebench_meso4", f"cache_dir={tmp_path}/cache")
        )
    assert "releases/download/v1.0.1/meso4_best.pth" in str(err.value)
    assert f"{tmp_path}/cache/deepfakebench_meso4/meso4_best.pth" in str(err.value)


def test_get_without_a_name_or_with_another_action_is_refused(tmp_path: Path) -> None:
    from dfd.published.tasks import weights

    with pytest.raises(ValueError, match="needs name=<entry>"):
        weights(weights_config(tmp_path, "action=get"))
    with pytest.raises(ValueError, match="expected one of list, get"):
        weights(weights_config(tmp_path, "action=fetch"))


@pytest.mark.slow
def test_an_imported_release_is_a_folder_that_predict_scores_with(tmp_path: Path) -> None:
    """The issue's measure on a DeepfakeBench release: import_weights, then dfd.predict on a real photo."""
    from PIL import Image
    from skimage import data

    release = tmp_path / "meso4_best.pth"
    torch.save(_randomised("deepfakebench_meso4").state_dict(), release)
    done = run("dfd.import_weights", "source=deepfakebench_meso4", f"path={release}",
               f"out_dir={tmp_path}/model", f"hydra.run.dir={tmp_path}/import", cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "CC BY-NC 4.0" in done.stdout and "non-commercial" in done.stdout  # the terms, printed once
    assert done.stdout.count("licence of deepfakebench_meso4") <= 1  # once per process
    description = json.loads((tmp_path / "model" / "dfd_model.json").read_text())
    assert description["published"]["entry"] is None  # random weights: no catalogue digest matches
    card = (tmp_path / "model" / "MODEL_CARD.md").read_text()
    assert "Reported by the source (not measured by dfd)" in card and "0.6091" in card
    Image.fromarray(data.astronaut()).save(tmp_path / "astronaut.jpg")
    done = run("dfd.predict", f"ckpt_path={tmp_path}/model", f"input={tmp_path}/astronaut.jpg",
               f"output={tmp_path}/predictions.csv", "device=cpu", f"hydra.run.dir={tmp_path}/predict", cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    rows = (tmp_path / "predictions.csv").read_text().splitlines()
    header, row = rows[0].split(","), rows[1].split(",")
    assert row[header.index("status")] == "ok" and 0.0 <= float(row[header.index("score")]) <= 1.0


def test_a_file_that_is_not_the_release_is_refused_naming_the_key_and_writes_nothing(tmp_path: Path) -> None:
    from dfd.config.entry import is_refusal
    from dfd.published.importing import import_checkpoint
    from dfd.published.sources import ConversionError

    bad = tmp_path / "meso4_best.pth"
    torch.save({"backbone.conv9.weight": torch.zeros(1)}, bad)
    with pytest.raises(ConversionError, match="backbone.conv9.weight") as err:
        import_checkpoint("deepfakebench_meso4", bad, tmp_path / "m", say=lambda s: None)
    assert is_refusal(err.value)  # dfd.import_weights prints it in one line, without a traceback
    assert not (tmp_path / "m").exists()


def test_a_pickled_object_in_the_file_is_refused_without_running_it(tmp_path: Path) -> None:
    from dfd.core.safe_load import UnsafeCheckpoint
    from dfd.published.importing import import_checkpoint

    evil = tmp_path / "meso4_best.pth"
    torch.save({"backbone.conv1.weight": torch.zeros(1), "hook": Path("/tmp")}, evil)
    with pytest.raises(UnsafeCheckpoint, match="holds more than tensors"):
        import_checkpoint("deepfakebench_meso4", evil, tmp_path / "m", say=lambda s: None)
