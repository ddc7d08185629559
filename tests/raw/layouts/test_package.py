"""The layout registry (:data:`dfd.raw.layouts.LAYOUTS`) names every parser of the package, each
with its mini tree, its ``conf/mini`` and ``conf/data`` files and its own test; nothing else in
dfd or the tests keeps a list of layouts."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from pathlib import Path

import pytest

import dfd.raw.layouts as layouts_pkg
from dfd.config.instantiate import TRUSTED_TARGETS
from dfd.data.synthetic.mini import MAKERS
from dfd.raw.expected import EXPECTED, OFFICIAL_FILES
from dfd.raw.layouts import LAYOUTS, MINI_TREES
from tests.conf_files import group_configs

PARSERS = set(LAYOUTS.values())


def test_the_registry_names_every_parser_of_the_package() -> None:
    found = set()
    for info in pkgutil.iter_modules(layouts_pkg.__path__):
        module = importlib.import_module(f"dfd.raw.layouts.{info.name}")
        found |= {
            f"{module.__name__}.{name}"
            for name, obj in inspect.getmembers(module, inspect.isfunction)
            if name.startswith("parse_") and obj.__module__ == module.__name__
        }
    assert found == PARSERS


def test_every_layout_has_a_mini_tree_and_a_conf_mini_file() -> None:
    mini = group_configs("mini")
    assert set(mini) == set(LAYOUTS) == set(MAKERS)
    for name, cfg in mini.items():
        assert cfg["_target_"] == MINI_TREES[name] == f"{MAKERS[name].__module__}.{MAKERS[name].__name__}"


def test_data_configs_name_only_registered_parsers_and_every_parser_has_one() -> None:
    named = {
        cfg["layout"]["_target_"]
        for cfg in group_configs("data").values()
        if isinstance(cfg.get("layout"), dict) and "_target_" in cfg["layout"]
    }
    assert named == PARSERS
    # each layout's data config of its own name reads the same format as its mini tree
    data = group_configs("data")
    assert {n: data[n]["layout"]["_target_"] for n in LAYOUTS if n in data} == {
        n: p for n, p in LAYOUTS.items() if n in data
    }


@pytest.mark.parametrize("module", sorted({p.split(".")[3] for p in PARSERS}))
def test_every_layout_module_has_its_own_test(module: str) -> None:
    assert (Path(__file__).parent / f"test_{module}.py").is_file()


def test_published_counts_and_trusted_targets_follow_the_registry() -> None:
    assert set(EXPECTED) <= PARSERS and set(OFFICIAL_FILES) <= PARSERS
    assert PARSERS <= set(TRUSTED_TARGETS) and set(MINI_TREES.values()) <= set(TRUSTED_TARGETS)
