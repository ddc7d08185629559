"""The ``dfd`` command: every command listed, dispatched like ``python -m dfd.<verb>``, and the package
installed from a built wheel (not editable) running from another directory with its own configs."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from dfd import cli
from tests.conftest import ROOT, run_main


def command_modules() -> set[str]:
    from tests.test_package import MODULES, is_command

    return {name for name in MODULES if is_command(name)}


def test_dfd_lists_every_command_module_once() -> None:
    assert set(cli.COMMANDS.values()) == command_modules()
    assert all(module == f"dfd.{verb}" for verb, module in cli.COMMANDS.items())


def test_help_lists_each_command_with_its_summary_and_imports_no_torch(capsys) -> None:
    code = "import sys; from dfd.cli import main; main(['--help']); print('torch' in sys.modules)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[-1] == "False"  # listing the commands is instant: no torch import
    rows = {line.split()[0]: line for line in lines if line.startswith("  ")}
    assert set(rows) == set(cli.COMMANDS)
    assert "Train a detector" in rows["train"] and "``" not in "".join(rows.values())


def test_an_unknown_command_is_named_with_the_list(capsys) -> None:
    assert cli.main(["trian"]) == 2
    err = capsys.readouterr().err
    assert "unknown command 'trian'" in err and "train" in err


@pytest.mark.slow
def test_dfd_verb_runs_the_same_hydra_app_as_python_m(tmp_path: Path) -> None:
    """``dfd verify`` and ``python -m dfd.verify`` compose the same job (both dispatched in this
    process); ``python -m dfd`` itself runs in a process of its own."""
    env = dict(os.environ, HF_HUB_OFFLINE="1", NO_ALBUMENTATIONS_UPDATE="1")
    args = ["verify", "data=ffpp", "--cfg", "job"]
    via_cli = run_main("dfd.cli", args, cwd=tmp_path)
    via_module = run_main("dfd.verify", args[1:], cwd=tmp_path)
    assert via_cli.returncode == 0, via_cli.stderr
    assert "parse_ffpp" in via_cli.stdout and via_cli.stdout == via_module.stdout
    hyphen = subprocess.run([sys.executable, "-m", "dfd", "cross-eval", "--help"], capture_output=True, text=True,
                            env=env, cwd=tmp_path, timeout=120)  # fmt: skip
    assert hyphen.returncode == 0 and "datasets" in hyphen.stdout


@pytest.mark.slow
def test_the_wheel_installs_and_runs_from_another_directory(tmp_path: Path) -> None:
    """``pip wheel .`` then a fresh venv with only that wheel (its dependencies reused from this
    environment by a .pth file, with no editable finder): ``dfd --help``, ``dfd train`` and
    ``python -m dfd.train`` run in a directory with no conf/ in sight."""
    wheels = tmp_path / "wheels"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(wheels),
         str(ROOT)], capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert build.returncode == 0, build.stderr[-2000:]
    (wheel,) = wheels.glob("dfd-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "dfd/conf/train.yaml" in names and "dfd/conf/model/xception.yaml" in names
    assert any(n.endswith("entry_points.txt") for n in names)

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    install = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps", str(wheel)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert install.returncode == 0, install.stderr[-2000:]
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    (Path(purelib) / "dfd_test_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")

    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(HF_HUB_OFFLINE="1", NO_ALBUMENTATIONS_UPDATE="1", PYTHONWARNINGS="ignore")
    where = subprocess.run([str(python), "-c", "import dfd.config.entry as e; print(e.__file__, e.CONF_DIR)"],
                           capture_output=True, text=True, cwd=work, env=env, timeout=120)  # fmt: skip
    module_file, conf_dir = where.stdout.split()
    assert module_file.startswith(purelib) and conf_dir == str(Path(purelib) / "dfd" / "conf")

    listing = subprocess.run([str(venv / "bin" / "dfd"), "--help"], capture_output=True, text=True, cwd=work,
                             env=env, timeout=120)  # fmt: skip
    assert listing.returncode == 0 and "  train " in listing.stdout

    tiny = ["data=synthetic", "trainer.max_epochs=1", "data.num_videos=12", "data.frames_per_video=2",
            "data.crop_size=64", "data.num_workers=0", "+trainer.limit_train_batches=2",
            "+trainer.limit_val_batches=1", "+trainer.limit_test_batches=1"]  # fmt: skip
    train = subprocess.run([str(venv / "bin" / "dfd"), "train", *tiny, "hydra.run.dir=run_cli"],
                           capture_output=True, text=True, cwd=work, env=env, timeout=600)  # fmt: skip
    assert train.returncode == 0, train.stderr[-3000:]
    assert (work / "run_cli" / "checkpoints" / "last.ckpt").is_file()
    module = subprocess.run([str(python), "-m", "dfd.train", *tiny, "hydra.run.dir=run_module"],
                            capture_output=True, text=True, cwd=work, env=env, timeout=600)  # fmt: skip
    assert module.returncode == 0, module.stderr[-3000:]
    assert (work / "run_module" / "checkpoints" / "last.ckpt").is_file()


@pytest.mark.slow
@pytest.mark.parametrize("how", ["--config-dir", "hydra.searchpath"])
def test_a_users_own_config_folder_is_found_as_the_readme_shows(tmp_path: Path, how: str) -> None:
    mine = tmp_path / "my_dfd_conf" / "data"
    mine.mkdir(parents=True)
    (mine / "my_dataset.yaml").write_text("defaults:\n  - synthetic\n  - _self_\nnum_videos: 7\n")
    where = (
        ["--config-dir", str(mine.parent)]
        if how == "--config-dir"
        else [f"hydra.searchpath=[file://{mine.parent}]"]
    )
    env = dict(os.environ, HF_HUB_OFFLINE="1", NO_ALBUMENTATIONS_UPDATE="1")
    proc = subprocess.run([sys.executable, "-m", "dfd", "train", *where, "data=my_dataset", "--cfg", "job"],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "num_videos: 7" in proc.stdout and "SyntheticDataModule" in proc.stdout
