"""Where modules of earlier dfd versions went, so that what those versions wrote keeps working.

Run folders keep their ``config.yaml``, sweeps and notebooks keep their imports. A config's
``_target_`` under an old path is read as the new one (:func:`current_target`, used by
:func:`dfd.config.instantiate.instantiate` and by the run loader), and ``import dfd.<old path>``
gives the module at its new home with a :class:`DeprecationWarning` (:func:`install`, run when
``dfd`` is imported). A move must add its line here; ``tests/core/test_moved.py`` checks each one.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import warnings
from typing import Any

#: old module -> its home since the package layout of 2026-12 (issue 24)
MOVED_MODULES = {
    "dfd.errors": "dfd.core.errors",
    "dfd.safe_load": "dfd.core.safe_load",
    "dfd.losses": "dfd.models.losses",
    "dfd.utils.entry": "dfd.config.entry",
    "dfd.utils.instantiate": "dfd.config.instantiate",
    "dfd.utils.validate": "dfd.config.validate",
    "dfd.utils.sweeper": "dfd.config.sweeper",
    "dfd.utils.study_storage": "dfd.config.study_storage",
    "dfd.utils.optuna_summary": "dfd.config.optuna_summary",
    "dfd.utils.runs": "dfd.artifacts.runs",
    "dfd.utils.exporting": "dfd.artifacts.exporting",
    "dfd.utils.evaluation": "dfd.evaluation.scoring",
    "dfd.utils.protocol": "dfd.evaluation.protocol",
    "dfd.utils.ensembling": "dfd.ensembles.tasks",
    "dfd.utils.preprocessing": "dfd.preprocessing.tasks",
    "dfd.utils.shards": "dfd.preprocessing.tasks",
    "dfd.data.shards": "dfd.data.packed",
}
#: old ``module.name`` -> new, for names that left their module (listed names win over the module
#: table); the modules they left answer for them through :func:`moved_name`
MOVED_NAMES: dict[str, str] = {
    "dfd.utils.evaluation.evaluate": "dfd.evaluation.tasks.evaluate",
    "dfd.utils.protocol.run_protocol": "dfd.evaluation.tasks.run_protocol",
    "dfd.callbacks.calibration.load_calibration": "dfd.metrics.calibration.load_calibration",
    "dfd.data.transforms.IMAGENET_MEAN": "dfd.core.input_spec.IMAGENET_MEAN",
    "dfd.data.transforms.IMAGENET_STD": "dfd.core.input_spec.IMAGENET_STD",
    "dfd.data.shards.ShardReader": "dfd.data.packed.PackedReader",
    "dfd.data.shards.shards_root": "dfd.data.packed.packed_root",
}


def current_target(target: Any) -> Any:
    """``target`` (a ``_target_`` string) at its current path; anything else unchanged."""
    if not isinstance(target, str) or not target.startswith("dfd."):
        return target
    if target in MOVED_NAMES:
        return MOVED_NAMES[target]
    module, _, name = target.rpartition(".")
    if module in MOVED_MODULES:
        return f"{MOVED_MODULES[module]}.{name}"
    return target


def moved_name(module: str, name: str) -> Any:
    """For a module's ``__getattr__``: the object ``module.name`` became (:data:`MOVED_NAMES`), with a
    :class:`DeprecationWarning`; :class:`AttributeError` for a name that never was there."""
    olds = [module] + [old for old, new in MOVED_MODULES.items() if new == module]  # and its old paths
    new = next((MOVED_NAMES[f"{m}.{name}"] for m in olds if f"{m}.{name}" in MOVED_NAMES), None)
    if new is None:
        raise AttributeError(f"module {module!r} has no attribute {name!r}")
    warnings.warn(f"{module}.{name} moved to {new}; import it from there", DeprecationWarning, stacklevel=3)
    home, _, attr = new.rpartition(".")
    return getattr(importlib.import_module(home), attr)


class _MovedFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Imports an old module path as its new module, with a deprecation warning."""

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if fullname in MOVED_MODULES:
            return importlib.util.spec_from_loader(fullname, self)
        if fullname == "dfd.utils":  # the old package itself, so that its submodules can be found
            return importlib.util.spec_from_loader(fullname, self, is_package=True)
        return None

    def create_module(self, spec: Any) -> Any:
        if spec.name == "dfd.utils":
            return None  # an empty package module
        warnings.warn(
            f"{spec.name} moved to {MOVED_MODULES[spec.name]}; import it from there",
            DeprecationWarning,
            stacklevel=2,
        )
        return importlib.import_module(MOVED_MODULES[spec.name])

    def exec_module(self, module: Any) -> None:
        if module.__name__ == "dfd.utils":
            module.__path__ = []


def install() -> None:
    """Put the finder for old module paths on ``sys.meta_path`` (once)."""
    if not any(isinstance(f, _MovedFinder) for f in sys.meta_path):
        sys.meta_path.append(_MovedFinder())
