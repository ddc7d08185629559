"""Start-up checks of the run keys users type most, before any data or model is built.

A typo such as ``trainer.max_epochs=abc`` or a ``ckpt_path`` that does not exist should fail
in the first second with a message that names the key, not after the data and model are built
or deep inside Lightning. :data:`RUN_KEYS` maps each checked key to its rule; keys a config
does not have are skipped, so every command shares one table.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

#: A rule returns None when the value is fine, else what was expected.
Rule = Callable[[Any], str | None]

PRECISIONS = ("64-true", "32-true", "16-true", "bf16-true", "16-mixed", "bf16-mixed",
              "64", "32", "16", "bf16", "transformer-engine", "transformer-engine-float16")  # fmt: skip


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def integer(minimum: int | None = None, null: bool = False) -> Rule:
    """An integer (at least ``minimum``), or null when allowed."""

    def rule(value: Any) -> str | None:
        if value is None and null:
            return None
        if not _is_int(value) or (minimum is not None and value < minimum):
            bound = f" >= {minimum}" if minimum is not None else ""
            return f"an integer{bound}" + (" or null" if null else "")
        return None

    return rule


def number(minimum: float | None = None, exclusive: bool = False, null: bool = False) -> Rule:
    """A number (above, or at least, ``minimum``), or null when allowed."""

    def rule(value: Any) -> str | None:
        if value is None and null:
            return None
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if ok and minimum is not None:
            ok = value > minimum if exclusive else value >= minimum
        if not ok:
            bound = f" {'>' if exclusive else '>='} {minimum}" if minimum is not None else ""
            return f"a number{bound}" + (" or null" if null else "")
        return None

    return rule


def batches(value: Any) -> str | None:
    """Lightning's ``limit_*_batches``: a count (int >= 0) or a fraction of the split (float in [0, 1])."""
    if value is None or (_is_int(value) and value >= 0):
        return None
    if isinstance(value, float) and 0.0 <= value <= 1.0:
        return None
    return "a batch count (integer >= 0) or a fraction in [0.0, 1.0]"


def devices(value: Any) -> str | None:
    """Lightning's ``devices``: ``auto``, a count (``-1`` = all), or a list of device indices."""
    if value == "auto" or (_is_int(value) and (value >= 1 or value == -1)):
        return None
    if OmegaConf.is_list(value) or isinstance(value, list | tuple):
        return None if all(_is_int(v) and v >= 0 for v in value) else "a list of device indices"
    if isinstance(value, str) and value.replace(",", "").strip().isdigit():
        return None
    return "auto, a device count (-1 = all) or a list of device indices"


def choice(*options: Any) -> Rule:
    def rule(value: Any) -> str | None:
        return None if value in options or str(value) in map(str, options) else f"one of {list(options)}"

    return rule


def existing_file(null: bool = False) -> Rule:
    def rule(value: Any) -> str | None:
        if value is None and null:
            return None
        if isinstance(value, str) and Path(value).expanduser().is_file():
            return None
        return (
            "an existing file"
            + (" (or null)" if null else "")
            + f"; {Path(str(value)).expanduser().resolve()} is not one"
        )

    return rule


#: The file that makes a folder a model: an exported model, an exported ensemble, a ``dfd.ensemble`` run.
MODEL_FOLDER_FILES = ("dfd_model.json", "dfd_ensemble.json", "ensemble.json")


def model_path(null: bool = False) -> Rule:
    """A checkpoint file, or a model folder: exported (``dfd_model.json``), an exported ensemble
    (``dfd_ensemble.json``) or a ``dfd.ensemble`` run (``ensemble.json``)."""

    def rule(value: Any) -> str | None:
        if (value is None and null) or value == "auto":  # auto: dfd.train resumes its run's last.ckpt, if any
            return None
        path = Path(str(value)).expanduser()
        if isinstance(value, str) and (
            path.is_file() or any((path / f).is_file() for f in MODEL_FOLDER_FILES)
        ):
            return None
        return (
            "a checkpoint file, an exported model or ensemble folder, or a dfd.ensemble run folder"
            + (" (or null)" if null else "") + f"; {path.resolve()} is none of these"
        )  # fmt: skip

    return rule


#: Key → rule. Only keys present in the composed config are checked.
RUN_KEYS: dict[str, Rule] = {
    "seed": integer(0),
    "ckpt_path": model_path(null=True),
    # dfd.compare: checkpoints or model folders (an imported published detector)
    "ckpt_a": model_path(),
    "ckpt_b": model_path(),
    # dfd.protocol: the published detector evaluated beside dfd's
    "published_path": model_path(null=True),
    "split": choice("val", "test"),
    "trainer.max_epochs": integer(-1, null=True),
    "trainer.min_epochs": integer(0, null=True),
    "trainer.max_steps": integer(-1, null=True),
    "trainer.devices": devices,
    "trainer.num_nodes": integer(1),
    "trainer.precision": choice(*PRECISIONS),
    "trainer.accumulate_grad_batches": integer(1),
    "trainer.check_val_every_n_epoch": integer(1, null=True),
    "trainer.log_every_n_steps": integer(1, null=True),
    "trainer.gradient_clip_val": number(0.0, null=True),
    "trainer.limit_train_batches": batches,
    "trainer.limit_val_batches": batches,
    "trainer.limit_test_batches": batches,
    "data.batch_size": integer(1),
    "data.num_workers": integer(0),
    "data.frames_per_video": integer(1, null=True),
    "data.max_samples_per_class": integer(1, null=True),
    "model.optimizer.lr": number(0.0, exclusive=True),
    "preprocess.num_frames": integer(),
    "preprocess.num_workers": integer(0),
    "preprocess.shard": integer(0),
    "preprocess.num_shards": integer(1),
    "preprocess.landmarks": choice("none", "mtcnn5", "dlib68"),
    "batch_size": integer(1, null=True),
}


def clip_problems(cfg: DictConfig) -> list[str]:
    """A temporal net (``model.net.clip_len`` set, :mod:`dfd.models.nets.temporal`) reads clips
    [B, T, 3, S, S] and a frame net single crops: the data must give what the model reads
    (``data.clips``, ``conf/data/base/crops.yaml``), else the run would fail at its first batch."""
    net = OmegaConf.select(cfg, "model.net", default=None)
    data = cfg.get("data") if isinstance(cfg, DictConfig) else None
    if not isinstance(net, DictConfig) or not isinstance(data, DictConfig):
        return []
    name = str(net.get("_target_", "the net")).rpartition(".")[2]
    temporal = "clip_len" in net  # not resolved: the key, not its value, marks a temporal net
    clips = bool(data.get("clips", False))
    if temporal and not clips:
        return [f"data.clips={clips}: {name} reads clips of face crops; set data.clips=true"]
    if clips and not temporal:
        return [
            f"data.clips=true: {name} reads single face crops; set data.clips=false or choose a "
            "temporal model (model=ftcn, model=tall, model=temporal_head)"
        ]
    return []


def validate_run_keys(cfg: DictConfig, rules: dict[str, Rule] | None = None) -> None:
    """Raise ``ValueError`` naming every checked key whose value breaks its rule, and a model and
    data that disagree on clips (:func:`clip_problems`)."""
    problems = clip_problems(cfg) if rules is None else []
    for key, rule in (rules or RUN_KEYS).items():
        if not _has_key(cfg, key.split(".")):
            continue
        value = OmegaConf.select(cfg, key)
        expected = rule(value)
        if expected is not None:
            problems.append(f"{key}={value!r}: expected {expected}")
    if problems:
        raise ValueError("invalid run keys (fix the overrides):\n  " + "\n  ".join(problems))


def _has_key(cfg: DictConfig, parts: list[str]) -> bool:
    """Whether the key exists with a value (missing ``???`` values are Hydra's to report)."""
    node: Any = cfg
    for p in parts:
        if not isinstance(node, DictConfig) or p not in node:
            return False
        if OmegaConf.is_missing(node, p):
            return False
        node = node[p]
    return True
