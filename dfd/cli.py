"""The ``dfd`` command: ``dfd <verb> [overrides]`` runs ``python -m dfd.<verb> [overrides]``.

Installed by ``[project.scripts]``. ``dfd --help`` lists the verbs with the first line of each
command's docstring, read from its source file so that listing them imports no torch;
``dfd <verb> --help`` is the command's own Hydra help. Verbs are spelled as their modules
(``cross_eval``); ``cross-eval`` works as well.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import sys

#: verb → the module whose ``main`` runs it, in the order of the pipeline
COMMANDS = {
    "generate": "dfd.generate",
    "verify": "dfd.verify",
    "recompress": "dfd.recompress",
    "preprocess": "dfd.preprocess",
    "stats": "dfd.stats",
    "pack": "dfd.pack",
    "train": "dfd.train",
    "linear_probe": "dfd.linear_probe",
    "eval": "dfd.eval",
    "cross_eval": "dfd.cross_eval",
    "protocol": "dfd.protocol",
    "robustness": "dfd.robustness",
    "compare": "dfd.compare",
    "summarize": "dfd.summarize",
    "ensemble": "dfd.ensemble",
    "export": "dfd.export",
    "weights": "dfd.weights",
    "import_weights": "dfd.import_weights",
    "predict": "dfd.predict",
    "serve": "dfd.serve",
}


def summary(module: str) -> str:
    """The first sentence of ``module``'s docstring, without its usage example."""
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        return ""
    with open(spec.origin, encoding="utf-8") as f:
        doc = ast.get_docstring(ast.parse(f.read())) or ""
    first = doc.strip().splitlines()[0] if doc.strip() else ""
    return first.split("``")[0].rstrip(": .")


def usage() -> str:
    width = max(len(v) for v in COMMANDS)
    lines = [
        "usage: dfd <command> [key=value ...] [--help]",
        "",
        "Deepfake detection experiments. Each command is a Hydra app: key=value overrides, -m sweeps,",
        "--cfg job to print the composed config; `python -m dfd.<command>` is the same command.",
        "",
        "commands:",
    ]
    lines += [f"  {verb:<{width}}  {summary(module)}" for verb, module in COMMANDS.items()]
    lines += ["", "dfd <command> --help shows the command's config groups and keys."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int | None:
    """Run ``dfd <verb> ...``; ``dfd``, ``dfd -h`` and ``dfd --help`` print :func:`usage`."""
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(usage())
        return 0
    verb = argv[0].replace("-", "_")
    if verb not in COMMANDS:
        print(f"dfd: unknown command {argv[0]!r}; the commands are: {', '.join(COMMANDS)}", file=sys.stderr)
        return 2
    command = importlib.import_module(COMMANDS[verb])
    sys.argv = [f"dfd {verb}", *argv[1:]]
    command.main()
    return None


if __name__ == "__main__":
    sys.exit(main())
