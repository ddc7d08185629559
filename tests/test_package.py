"""The package's architecture, read from its source with ``ast``: pipeline-order layering, no import
cycles (lazy imports included), no private cross-imports, Hydra only at the top, thin and alike
entry points, and tests that mirror the package."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

from tests.conftest import ROOT

PKG = ROOT / "dfd"
TESTS = ROOT / "tests"

#: Library areas in pipeline order, each with the areas it may import (besides itself and ``core``).
LAYERS = {
    # the dispatcher imports commands by name at run time (importlib), nothing statically
    "cli": set(),
    "__main__": {"cli"},
    "core": set(),
    "raw": set(),
    "preprocessing": {"raw"},
    "data": {"raw", "preprocessing"},
    "metrics": set(),
    "models": {"raw", "preprocessing", "data", "metrics"},
    "reports": {"metrics"},
    "callbacks": {"metrics", "reports"},
    "inference": {"raw", "preprocessing", "data", "models", "metrics", "reports"},
    "ensembles": {"data", "metrics", "reports", "inference"},
    # the top floor, which knows Hydra: configuration, then run and model folders, training, evaluation
    "config": {"raw", "models", "callbacks"},
}
LAYERS["artifacts"] = {"config", "raw", "preprocessing", "data", "metrics", "models", "reports", "callbacks",
                       "inference", "ensembles"}  # fmt: skip
LAYERS["training"] = LAYERS["artifacts"] | {"artifacts"}
#: published checkpoints: converted into dfd's nets and written as model folders (inference's export)
LAYERS["published"] = {"config", "raw", "preprocessing", "data", "metrics", "models", "reports", "inference"}
#: evaluation puts the published numbers (dfd.published.results) beside its own
LAYERS["evaluation"] = LAYERS["training"] | {"training", "published"}
#: ``dfd.core`` (errors, InputSpec, the torch-file reader, moved paths) comes before every area.
for _area, _deps in LAYERS.items():
    if _area != "core":
        _deps.add("core")
#: The top-level modules that are not commands: the ``dfd`` command's dispatcher and entry point.
LIBRARY_TOP = {"__init__", "__main__", "cli"}
#: The areas whose modules may import Hydra and OmegaConf (besides the commands and ``tasks`` modules).
HYDRA_AREAS = {"config", "artifacts", "training", "evaluation", "published"}
#: Test files that cover something other than one module: the package as a whole (``test_package``),
#: the config tree, the cluster launcher presets and the notebooks.
NOT_MODULE_TESTS = {"test_package", "test_configs", "test_clusters", "test_notebooks"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


MODULES = {module_name(p): p for p in sorted(PKG.rglob("*.py"))}


def imports_of(name: str) -> list[tuple[str, list[str], int]]:
    """``(imported module, names, line)`` for every import in module ``name``, functions included."""
    path = MODULES[name]
    tree = ast.parse(path.read_text())
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(alias.name, [], node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            out.append((base, [a.name for a in node.names], node.lineno))
    return out


def dfd_edges(name: str) -> set[str]:
    """The dfd modules ``name`` imports (``from pkg import mod`` counts as importing ``pkg.mod``)."""
    edges = set()
    for module, names, _ in imports_of(name):
        if not module.startswith("dfd"):
            continue
        subs = [f"{module}.{n}" for n in names if f"{module}.{n}" in MODULES]
        edges |= set(subs) if subs else {module}
    edges.discard(name)
    return edges


GRAPH = {name: dfd_edges(name) for name in MODULES}


def area(name: str) -> str:
    parts = name.split(".")
    return parts[1] if len(parts) > 1 else ""


def is_command(name: str) -> bool:
    return name.count(".") == 1 and MODULES[name].parent == PKG and area(name) not in LIBRARY_TOP


def is_tasks(name: str) -> bool:
    """A stage's ``tasks`` module: the commands' tasks, the top floor of its area."""
    return name.endswith(".tasks") and name.count(".") == 2


def test_the_import_graph_has_no_cycles() -> None:
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles = []

    def connect(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in GRAPH[v]:
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    sys.setrecursionlimit(10_000)
    for v in GRAPH:
        if v not in index:
            connect(v)
    assert not cycles, cycles


def test_library_areas_import_only_earlier_stages() -> None:
    """Each area imports only the areas before it; a ``tasks`` module (the commands' tasks) may import
    any area, and only commands and other ``tasks`` modules import it."""
    bad = []
    for name, edges in GRAPH.items():
        if is_command(name) or name == "dfd":
            continue
        bad += [(name, e) for e in edges if is_tasks(e) and not is_tasks(name)]
        if is_tasks(name):
            bad += [(name, e) for e in edges if is_command(e)]
            continue
        allowed = LAYERS[area(name)] | {area(name)}
        bad += [(name, e) for e in edges if e != "dfd" and area(e) not in allowed]
    assert not bad, bad


def test_commands_never_import_each_other() -> None:
    commands = {n for n in MODULES if is_command(n)}
    bad = [(n, e) for n in commands for e in GRAPH[n] if e in commands]
    assert not bad, bad


def test_no_module_imports_another_modules_private_names() -> None:
    bad = []
    for name in MODULES:
        for module, names, line in imports_of(name):
            if not module.startswith("dfd"):
                continue
            private = [n for n in names if n.startswith("_") and f"{module}.{n}" not in MODULES]
            private_module = any(part.startswith("_") and part != "__init__" for part in module.split("."))
            own_package = module.rpartition(".")[0] == name.rpartition(".")[0]
            if private or (private_module and not own_package):
                bad.append(f"{name}:{line} imports {private or module}")
    assert not bad, bad


def test_hydra_and_omegaconf_only_on_the_top_floor() -> None:
    bad = []
    for name in MODULES:
        if is_command(name) or is_tasks(name) or area(name) in HYDRA_AREAS:
            continue
        for module, _, line in imports_of(name):
            if module.split(".")[0] in ("hydra", "omegaconf"):
                bad.append(f"{name}:{line} imports {module}")
    assert not bad, bad


def test_only_commands_live_beside_the_commands() -> None:
    """``ls dfd/`` shows the commands and the stages' folders: every other top-level module is the
    ``dfd`` command itself (``cli``, ``__main__``) or the package's ``__init__``."""
    top = {p.stem for p in PKG.glob("*.py")}
    commands = {n.split(".")[1] for n in MODULES if is_command(n)}
    assert top - commands == LIBRARY_TOP
    folders = {p.name for p in PKG.iterdir() if p.is_dir() and not p.name.startswith("__")}
    assert folders == set(LAYERS) - {"cli", "__main__"}, folders


def test_the_architecture_map_opens_with_todays_ls_dfd() -> None:
    """docs/architecture.md's first picture is ``ls dfd/``: the same names as the package has."""
    text = (ROOT / "docs" / "architecture.md").read_text()
    block = text.split("```\n$ ls dfd/\n", 1)[1].split("```", 1)[0]
    assert text.index("```") == text.index("```\n$ ls dfd/")  # the first picture
    shown = set(block.split())
    actual = {p.name for p in PKG.iterdir() if not p.name.startswith("__pycache__")}
    assert shown == actual, (sorted(shown - actual), sorted(actual - shown))


@pytest.mark.parametrize("name", sorted(n for n in MODULES if is_command(n)))
def test_every_command_only_composes_its_config_and_calls_its_task(name: str) -> None:
    """A command is its docstring, ``main = entry("<config>", <task>)`` and the ``__main__`` guard;
    its task comes from ``dfd.<stage>.tasks``, the one place each verb's logic lives."""
    tree = ast.parse(MODULES[name].read_text())
    body = tree.body[1:]  # after the docstring
    imports = [n for n in body if isinstance(n, ast.ImportFrom) and n.module != "__future__"]
    modules = sorted(n.module for n in imports)
    assert len(imports) == 2 and "dfd.config.entry" in modules, f"{name} imports {modules}"
    (task_import,) = [n for n in imports if n.module != "dfd.config.entry"]
    task_module, task = task_import.module, task_import.names[0].name
    assert is_tasks(task_module) and task_module in MODULES, task_module
    others = [n for n in body if not isinstance(n, ast.ImportFrom)]
    assert len(others) == 2 and isinstance(others[0], ast.Assign) and isinstance(others[1], ast.If), name
    assert ast.unparse(others[0].value.args[1]) == task


@pytest.mark.parametrize("name", sorted(n for n in MODULES if is_command(n)))
def test_every_command_is_a_short_main_through_the_shared_wrapper(name: str) -> None:
    source = MODULES[name].read_text()
    assert re.search(r'^main = entry\("\w+", \w+(, renames=\{.*\})?(, positional="\w+")?\)$', source, re.M), (
        f"{name} has no `main = entry(...)`"
    )
    assert 'if __name__ == "__main__":\n    main()' in source
    assert "hydra.main" not in source and "register_resolvers" not in source
    config = re.search(r'^main = entry\("(\w+)"', source, re.M).group(1)
    assert (ROOT / "conf" / f"{config}.yaml").is_file()
    assert len(source.splitlines()) <= 130, (
        f"{name} is {len(source.splitlines())} lines: move logic to the library"
    )


def test_version_base_is_never_passed() -> None:
    """Hydra 1.4 deprecates ``version_base``: omitted everywhere, as the pinned version wants."""
    pattern = re.compile("version_base" + r"\s*=")  # split, so that this file does not match itself
    files = [*PKG.rglob("*.py"), *TESTS.rglob("*.py"), *(ROOT / "benchmarks").rglob("*.py")]
    hits = [str(p) for p in files if pattern.search(p.read_text())]
    assert not hits, hits


def test_every_module_opens_with_a_docstring() -> None:
    missing = [n for n, p in MODULES.items() if ast.get_docstring(ast.parse(p.read_text())) is None]
    assert not missing, missing


def test_tests_mirror_the_package() -> None:
    """``tests/<dir>/test_<module>[_<aspect>].py`` tests ``dfd/<dir>/<module>.py``, so a failure names the
    module that broke."""
    orphans = []
    for test in sorted(TESTS.rglob("test_*.py")):
        stem = test.stem[len("test_") :]
        folder = PKG / test.parent.relative_to(TESTS)
        if test.stem in NOT_MODULE_TESTS:
            continue
        candidates = {p.stem for p in folder.glob("*.py")} | {p.name for p in folder.glob("*/") if p.is_dir()}
        if not any(stem == c or stem.startswith(c + "_") for c in candidates if c != "__init__"):
            orphans.append(str(test.relative_to(ROOT)))
    assert not orphans, f"tests that mirror no module: {orphans}"


@pytest.mark.slow  # over 5 s: a training run or a subprocess (docs/testing.md, Tiers)
def test_no_command_prints_a_deprecation_or_hydra_warning(tmp_path: Path) -> None:
    """Compose every command's config the way ``python -m dfd.<verb>`` does (``--cfg job`` stops
    before the task) in one process, with every warning shown."""
    commands = sorted(n for n in MODULES if is_command(n))
    script = "\n".join(
        [
            "import importlib, sys",
            f"for name in {commands!r}:",
            f"    sys.argv = [name, '--cfg', 'job', 'hydra.run.dir={tmp_path}/' + name]",
            "    try:",
            "        importlib.import_module(name).main()",
            "    except SystemExit:",
            "        pass",
        ]
    )
    env = {"PYTHONWARNINGS": "always", "HF_HUB_OFFLINE": "1", "NO_ALBUMENTATIONS_UPDATE": "1", "PATH": ""}
    proc = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=300, env=env
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count("task_name:") == len(commands), proc.stdout[-2000:]
    noise = [
        line for line in proc.stderr.splitlines() if "Warning" in line and "dfd" in line or "Hydra" in line
    ]
    assert not noise, noise


def test_error_messages_name_keys_that_exist() -> None:
    """Every config key named in dfd's errors and warnings resolves in a composed config."""
    from tests.conftest import CONF, compose_config

    roots = ("data", "model", "trainer", "loss", "sampler", "preprocess", "callbacks", "paths", "guard", "probe",
             "logger", "mini", "video")  # fmt: skip
    pattern = re.compile(rf"\b((?:{'|'.join(roots)})(?:\.[a-z_][a-z0-9_]*)+)")
    named: dict[str, set[str]] = defaultdict(set)
    for name, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text())):
            is_raise = isinstance(node, ast.Raise)
            is_warn = isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) in (
                "warn", "warning", "rank_zero_warn", "error")  # fmt: skip
            if not (is_raise or is_warn):
                continue
            for const in ast.walk(node):
                if isinstance(const, ast.Constant) and isinstance(const.value, str):
                    for key in pattern.findall(const.value):
                        named[key.rstrip(".")].add(name)
    assert len(named) > 20, sorted(named)  # the scan found the messages

    def keys(node, prefix=""):
        if isinstance(node, dict):
            for k, v in node.items():
                yield f"{prefix}{k}"
                yield from keys(v, f"{prefix}{k}.")

    from omegaconf import OmegaConf

    known: set[str] = set()
    options = {g: sorted(p.stem for p in (CONF / g).glob("*.yaml")) for g in ("data", "model", "mini")}
    configs = [("train", [f"data={d}"]) for d in options["data"]] + [
        ("train", [f"model={m}"]) for m in options["model"]
    ]
    configs += [
        (c, [])
        for c in ("eval", "preprocess", "linear_probe", "stats", "compare", "robustness", "cross_eval")
    ]
    configs += [
        ("preprocess", ["data=dfdc_av"]),
        ("preprocess", ["preprocess=deepfakebench"]),
        ("train", ["model/scheduler=cosine_warmup"]),
        ("train", ["model/optimizer=sam"]),
        ("train", ["model/scheduler=linear_decay"]),
        ("train", ["sampler=paired_source"]),
    ] + [("generate", [f"mini={m}"]) for m in options["mini"]]
    required = {"eval": ["ckpt_path=x"], "robustness": ["ckpt_path=x"], "compare": ["ckpt_a=x", "ckpt_b=x"]}
    for config, overrides in configs:
        cfg = compose_config(config, [*required.get(config, []), *overrides])
        known |= set(keys(OmegaConf.to_container(cfg, resolve=False)))
    unknown = {k: sorted(v) for k, v in named.items() if k not in known}
    assert not unknown, unknown
