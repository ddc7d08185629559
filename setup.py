"""Ships the top-level ``conf/`` tree inside the wheel as ``dfd/conf`` (package data).

``conf/`` stays at the repository's top level, where a checkout (and an editable install) reads
it; ``dfd.config.entry.CONF_DIR`` prefers the packaged copy when there is one. Everything else
about the package is in pyproject.toml.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent


class BuildPyWithConf(build_py):
    """``build_py`` that also copies ``conf/**/*.yaml`` to ``<build>/dfd/conf``."""

    def run(self) -> None:
        super().run()
        if self.editable_mode:  # an editable install reads <repo>/conf in place
            return
        target = Path(self.build_lib) / "dfd" / "conf"
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(ROOT / "conf", target, ignore=shutil.ignore_patterns("*.pyc", "__pycache__", "local"))


setup(cmdclass={"build_py": BuildPyWithConf})
