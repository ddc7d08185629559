"""The shared wrapper of every command: ``main = entry("<config>", task)`` in ``dfd/<verb>.py``.

:func:`entry` turns a ``task(cfg) -> result`` into the Hydra main of a command. Around the task
it does the work every command shares, so each ``dfd/<verb>.py`` only composes and calls
library code:

- registers dfd's OmegaConf resolvers and finds ``conf/`` (no ``version_base``: Hydra 1.4
  deprecates it, and omitting it is what the pinned version wants);
- keeps the run quiet (:func:`quiet`: no Lightning cloud tips);
- validates the run keys a user types most before any data or model is built
  (:func:`dfd.config.validate.validate_run_keys`);
- in a multirun, logs a failed job to ``error.txt`` and returns NaN so the sweep goes on; a
  single run stops with a non-zero exit code: an expected refusal (:func:`is_refusal`: a bad
  config value, an unsafe file, a tampered folder, missing data, nothing left to train) prints
  ``dfd.<verb>: error: <reason>`` and a hint in two lines, without a traceback, and exits with 1
  (``HYDRA_FULL_ERROR=1`` brings the traceback back); any other exception keeps Hydra's report;
- returns ``optimized_metric`` to sweepers when the task returns metrics;
- optionally takes bare command-line arguments as one list key (``dfd.summarize <dir> <glob>``:
  :func:`positional_overrides`), which Hydra alone would refuse.
"""

from __future__ import annotations

import linecache
import logging
import math
import os
import re
import sys
import traceback
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import hydra
from hydra.errors import InstantiationException
from omegaconf import DictConfig
from omegaconf.errors import MissingMandatoryValue

from dfd.config.instantiate import register_resolvers, trusted_targets
from dfd.config.sweeper import register_sweeper
from dfd.config.validate import validate_run_keys
from dfd.core.errors import DfdError

log = logging.getLogger(__name__)


def find_conf_dir() -> str:
    """The config tree: ``dfd/conf`` inside an installed wheel (package data), else the checkout's
    top-level ``<repo>/conf`` (editable installs and ``python -m`` from the repository)."""
    package = Path(__file__).resolve().parents[1]
    for candidate in (package / "conf", package.parent / "conf"):
        if (candidate / "train.yaml").is_file():
            return str(candidate)
    raise FileNotFoundError(
        f"dfd's configs are neither in {package / 'conf'} (a wheel) nor in {package.parent / 'conf'} "
        "(a checkout): reinstall dfd with pip install dfd, or pip install -e . from the repository"
    )


#: The config tree (:func:`find_conf_dir`). Add your own config folders with ``--config-dir <dir>``
#: or ``hydra.searchpath=[file://<dir>]``.
CONF_DIR = find_conf_dir()

#: Old experiment names kept as aliases for one release (conf/experiment/<old>.yaml): old → new.
EXPERIMENT_ALIASES = {
    "effnet_b4_ffpp": "efficientnet_b4_ffpp",
    "imbalance_dfdc": "xception_dfdc_imbalance",
    "avff_pretrain": "avff_dfdc_pretrain",
    "avff_synthetic_av": "avff_tiny_synthetic_av",
    "avff_synthetic_av_pretrain": "avff_tiny_synthetic_av_pretrain",
}

#: Lightning's advertisements, printed through this logger at every Trainer construction.
_TIP_LOGGERS = ("lightning.pytorch.utilities.rank_zero", "lightning.fabric.utilities.rank_zero")


class _DropTips(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.getMessage()).startswith("💡 Tip")


def quiet() -> None:
    """Drop Lightning's "💡 Tip: … litlogger / litmodels" lines and its own deprecation notice about
    torch's pytree (idempotent)."""
    warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\).*")
    for name in _TIP_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, _DropTips) for f in logger.filters):
            logger.addFilter(_DropTips())


def is_multirun() -> bool:
    """Whether this process runs a job of a Hydra multirun."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def warn_deprecated_choices() -> None:
    """Warn when the run picked an experiment by its old name."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return
    choice = HydraConfig.get().runtime.choices.get("experiment")
    if choice in EXPERIMENT_ALIASES:
        log.warning(
            "experiment=%s is a deprecated alias (removed in dfd 0.3): use experiment=%s",
            choice,
            EXPERIMENT_ALIASES[choice],
        )


#: The package's folder: a refusal is raised by a ``raise`` statement in a file under it.
PACKAGE_DIR = Path(__file__).resolve().parents[1]
#: Exception types that are refusals when dfd's own code raises them on purpose (:func:`is_refusal`).
REFUSAL_TYPES = (
    ValueError, KeyError, FileNotFoundError, FileExistsError, NotADirectoryError, IsADirectoryError, PermissionError,
)  # fmt: skip
#: The hint under a refusal's one-line reason.
TRACEBACK_HINT = "(set HYDRA_FULL_ERROR=1 for the traceback)"


def refusal_cause(err: BaseException) -> BaseException:
    """The error a Hydra ``InstantiationException`` wraps (a constructor's refusal), else ``err``."""
    while isinstance(err, InstantiationException) and err.__cause__ is not None:
        err = err.__cause__
    return err


def is_refusal(err: BaseException) -> bool:
    """Whether ``err`` is an expected refusal rather than a bug: a :class:`~dfd.core.errors.DfdError`, a
    missing mandatory config value (``???``), or one of :data:`REFUSAL_TYPES` raised by a ``raise``
    statement in dfd's own code (whose messages name the bad value and the key that fixes it)."""
    err = refusal_cause(err)
    if isinstance(err, DfdError | MissingMandatoryValue):
        return True
    if not isinstance(err, REFUSAL_TYPES):
        return False
    tb = err.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    if tb is None:
        return False
    filename = Path(tb.tb_frame.f_code.co_filename).resolve()
    if not filename.is_relative_to(PACKAGE_DIR):
        return False
    return linecache.getline(str(filename), tb.tb_lineno).lstrip().startswith("raise ")


def refusal_message(err: BaseException) -> str:
    """The reason of a refusal on one line (a ``KeyError``'s message without its quotes)."""
    err = refusal_cause(err)
    if isinstance(err, KeyError) and len(err.args) == 1 and isinstance(err.args[0], str):
        text = err.args[0]
    elif isinstance(err, MissingMandatoryValue):
        key = err.full_key or "a key"
        text = f"{key} has no value (??? in the config): set {key}=<value> on the command line"
    else:
        text = str(err)
    return " ".join(line.strip() for line in text.strip().splitlines() if line.strip())


def report_refusal(command: str, err: BaseException) -> None:
    """Print ``<command>: error: <reason>`` and :data:`TRACEBACK_HINT` to stderr."""
    print(f"{command}: error: {refusal_message(err)}\n{TRACEBACK_HINT}", file=sys.stderr, flush=True)


def run_task(task: Callable[[DictConfig], Any], cfg: DictConfig) -> Any:
    """Run ``task(cfg)``; return ``cfg.optimized_metric`` of its metrics for sweepers (else its result).

    In a multirun, an exception is logged (and written to ``error.txt`` in the job's folder)
    and the job returns NaN, which Optuna records as a failed trial; the sweep goes on.
    In a single run, a refusal (:func:`is_refusal`) is printed in two lines and exits with
    status 1 (``HYDRA_FULL_ERROR=1``: re-raised, with its traceback); anything else re-raises.
    """
    try:
        validate_run_keys(cfg)
        result = task(cfg)
    except Exception as err:
        if not is_multirun():
            if is_refusal(err) and os.environ.get("HYDRA_FULL_ERROR") != "1":
                report_refusal(f"dfd.{cfg.get('task_name') or 'command'}", err)
                raise SystemExit(1) from None
            raise
        log.exception("job failed; the sweep continues")
        out = Path(cfg.paths.output_dir)
        out.mkdir(parents=True, exist_ok=True)
        (out / "error.txt").write_text(traceback.format_exc())
        return math.nan
    name = cfg.get("optimized_metric")
    if not name or not isinstance(result, dict):
        return None
    if name not in result:
        raise KeyError(
            f"optimized_metric={name} was not logged; logged keys: {sorted(result)}. "
            "Set optimized_metric to one of them."
        )
    return float(result[name])


def rename_overrides(argv: list[str], renames: dict[str, str]) -> list[str]:
    """``argv`` with each ``<old>=value`` override spelled ``<new>=value``.

    For a key a command takes whose name is also a config group of the other commands (``dfd.serve
    model=<exported dir>``): Hydra reads ``model=…`` as a group choice, so the command's config
    names the key otherwise and the command line keeps the name users type.
    """
    out = []
    for arg in argv:
        key, sep, value = arg.partition("=")
        out.append(f"{renames[key]}={value}" if sep and key in renames else arg)
    return out


#: Hydra's flags that take the next argument as their value (``hydra._internal.utils.get_args_parser``).
HYDRA_VALUE_FLAGS = frozenset(
    {"--cfg", "-c", "--package", "-p", "--config-path", "-cp", "--config-name", "-cn", "--config-dir", "-cd",
     "--experimental-rerun"}
)  # fmt: skip
#: The values ``--info``/``-i`` takes (its value is optional).
HYDRA_INFO_TOPICS = frozenset(
    {"aliases", "all", "config", "defaults", "defaults-tree", "plugins", "searchpath"}
)


def quote_override_value(value: str) -> str:
    """``value`` as a single-quoted string of Hydra's override grammar, read back unchanged (spaces,
    commas, brackets, quotes, backslashes and ``${`` included)."""

    def escape(m: re.Match) -> str:  # backslashes before a quote, ${ or the end are doubled
        return m.group(1) * 2 + {"'": "\\'", "${": "\\${", "": ""}[m.group(2)]

    return "'" + re.sub(r"(\\*)('|\$\{|$)", escape, value) + "'"


def is_positional(arg: str) -> bool:
    """Whether a command-line argument is a bare value rather than an override or a flag: no ``=`` and
    no leading ``-`` or ``~``, or else the name of an existing file or folder (``runs/lr=0.1``)."""
    if arg.startswith("-"):
        return False
    if "=" not in arg and not arg.startswith("~"):
        return True
    return os.path.exists(os.path.expanduser(arg))


def positional_overrides(argv: list[str], key: str) -> list[str]:
    """``argv`` with its bare arguments gathered into one ``<key>=[...]`` override, quoted.

    Hydra takes only ``key=value`` overrides and its own flags, so ``dfd.summarize <dir> <glob>`` is
    turned into ``dfd.summarize runs=['<dir>','<glob>']``; a flag's value (``--cfg job``) stays a
    flag's value.
    """
    rest: list[str] = []
    bare: list[str] = []
    flag_value = False
    for i, arg in enumerate(argv):
        if flag_value:
            rest.append(arg)
            flag_value = False
        elif arg.startswith("-"):
            rest.append(arg)
            following = argv[i + 1] if i + 1 < len(argv) else ""
            flag_value = arg in HYDRA_VALUE_FLAGS or (
                arg in ("--info", "-i") and following in HYDRA_INFO_TOPICS
            )
        elif is_positional(arg):
            bare.append(arg)
        else:
            rest.append(arg)
    if not bare:
        return rest
    given = [a for a in rest if a.lstrip("+").partition("=")[0] == key]
    if given:
        raise ValueError(
            f"{given[0]} and the bare arguments {bare} both give {key}: give them one way, "
            f"as bare arguments or as {key}=[a,b]"
        )
    return [*rest, f"{key}=[{','.join(quote_override_value(a) for a in bare)}]"]


def entry(
    config_name: str,
    task: Callable[[DictConfig], Any],
    renames: dict[str, str] | None = None,
    positional: str | None = None,
) -> Callable[[], Any]:
    """The Hydra main of a command: compose ``conf/<config_name>.yaml`` and run ``task`` on it.

    ``renames`` maps override keys typed on the command line to config keys (:func:`rename_overrides`);
    ``positional`` names the list key that takes the bare arguments (:func:`positional_overrides`).
    """
    register_resolvers()
    register_sweeper()  # hparams_search's sweeper (a Hydra plugin outside hydra_plugins/)

    # the trusted targets also cover the callbacks Hydra builds itself (hydra.callbacks: MergeShards,
    # OptunaSummaryCallback), which Hydra 1.4 warns about when no whitelist is given
    @hydra.main(config_path=CONF_DIR, config_name=config_name, execution_whitelist=trusted_targets())
    def hydra_main(cfg: DictConfig) -> Any:
        quiet()
        warn_deprecated_choices()
        return run_task(task, cfg)

    if not renames and not positional:
        hydra_main.__doc__ = task.__doc__
        return hydra_main

    def main() -> Any:
        argv = sys.argv[1:]
        if positional:
            try:
                argv = positional_overrides(argv, positional)
            except ValueError as err:  # the arguments contradict each other: a refusal, before Hydra
                if os.environ.get("HYDRA_FULL_ERROR") == "1":
                    raise
                report_refusal(f"dfd.{config_name}", err)
                raise SystemExit(1) from None
        if renames:
            argv = rename_overrides(argv, renames)
        sys.argv[1:] = argv
        return hydra_main()

    main.__doc__ = task.__doc__
    return main
