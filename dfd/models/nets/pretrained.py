"""Pretrained weights for every timm-based net, and loading of local weight files.

Two entry points:

* :func:`create_timm_model` wraps ``timm.create_model``. With ``pretrained=True`` it first
  looks for the weights in the local caches (Hugging Face hub cache, torch hub cache) and
  loads them from there without touching the network. If they are not cached it checks, in
  at most a few seconds, that the weight host can be reached; offline (``HF_HUB_OFFLINE=1``
  or no route to the host) it raises :class:`PretrainedWeightsUnavailable` at once, with the
  two ways out (``model.net.pretrained=false`` or ``model.weights_path=...``). Without that
  check a miss costs ~50 s of retries inside huggingface_hub before a cryptic error.
* :func:`load_weights` loads a local state dict, a plain ``torch.save`` dict or a Lightning
  checkpoint into a net, strips wrapper prefixes (``net.``, ``model.``, ``module.``) and
  reports missing, unexpected and shape-mismatched keys.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import timm
import torch
from torch import nn

from dfd.core.errors import DfdError
from dfd.core.input_spec import InputSpec
from dfd.core.safe_load import load_torch_file

log = logging.getLogger(__name__)

#: Seconds allowed for the DNS lookup plus TCP connect of the reachability probe.
REACHABILITY_TIMEOUT_S = 3.0

#: Wrapper prefixes stripped from checkpoint keys, outermost first (Lightning module → net).
STRIP_PREFIXES = ("module.", "model.", "net.", "_orig_mod.")


class PretrainedWeightsUnavailable(DfdError, RuntimeError):
    """Pretrained weights were requested but cannot be obtained (offline, or no cache)."""


def _offline_by_env() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


def _cached_weight_file(model_name: str) -> str | None:
    """Path of the already-downloaded weight file timm would fetch for ``model_name``, if any."""
    if model_name.startswith(("hf-hub:", "local-dir:")):
        return None
    cfg = timm.models.get_pretrained_cfg(model_name)
    if cfg is None:
        return None
    if cfg.hf_hub_id:
        from huggingface_hub import try_to_load_from_cache

        repo_id, _, revision = cfg.hf_hub_id.partition("@")
        # timm prefers the safetensors twin of the default pytorch_model.bin.
        names = [cfg.hf_hub_filename] if cfg.hf_hub_filename else ["model.safetensors", "pytorch_model.bin"]
        for filename in names:
            found = try_to_load_from_cache(repo_id, filename, revision=revision or None)
            if isinstance(found, str):
                return found
    if cfg.url:
        path = Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(urlparse(cfg.url).path)
        if path.is_file():
            return str(path)
    return None


def _weight_host(model_name: str) -> tuple[str, int]:
    """(host, port) the download would contact: the proxy if one is set, else the hub or URL host."""
    for var in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        if os.environ.get(var):
            proxy = urlparse(os.environ[var])
            return proxy.hostname or "", proxy.port or 443
    from huggingface_hub import constants

    cfg = None if model_name.startswith("hf-hub:") else timm.models.get_pretrained_cfg(model_name)
    url = cfg.url if cfg is not None and not cfg.hf_hub_id and cfg.url else constants.ENDPOINT
    parsed = urlparse(url)
    return parsed.hostname or "", parsed.port or (443 if parsed.scheme == "https" else 80)


def _reachable(host: str, port: int, timeout: float = REACHABILITY_TIMEOUT_S) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _unavailable_message(model_name: str, reason: str) -> str:
    return (
        f"Cannot load ImageNet-pretrained weights for timm model '{model_name}': {reason}. "
        "Train from scratch with `model.net.pretrained=false`, or start from a local file with "
        "`model.net.pretrained=false model.weights_path=/path/to/weights.pth` (a state dict or a "
        "Lightning checkpoint); "
        "to use the hub, connect to the network and unset HF_HUB_OFFLINE."
    )


def create_timm_model(model_name: str, pretrained: bool, **kwargs: Any) -> nn.Module:
    """``timm.create_model`` that fails within seconds, and clearly, when weights are unreachable.

    Cached weights are loaded from disk without any network access, so a machine that has
    downloaded them once trains offline. ``kwargs`` go to ``timm.create_model`` unchanged.
    """
    if not pretrained:
        return timm.create_model(model_name, pretrained=False, **kwargs)
    cached = _cached_weight_file(model_name)
    if cached is not None:
        log.info("Loading pretrained weights of %s from the local cache %s", model_name, cached)
        overlay = {"file": cached, "source": ""}
        return timm.create_model(model_name, pretrained=True, pretrained_cfg_overlay=overlay, **kwargs)
    if _offline_by_env():
        raise PretrainedWeightsUnavailable(
            _unavailable_message(
                model_name, "HF_HUB_OFFLINE is set and the weights are not in the local cache"
            )
        )
    host, port = _weight_host(model_name)
    if not _reachable(host, port):
        raise PretrainedWeightsUnavailable(
            _unavailable_message(
                model_name,
                f"the weight host {host}:{port} is unreachable within {REACHABILITY_TIMEOUT_S:.0f} s",
            )
        )
    try:
        return timm.create_model(model_name, pretrained=True, **kwargs)
    except OSError as err:  # URLError, huggingface_hub's LocalEntryNotFoundError and HTTP errors
        raise PretrainedWeightsUnavailable(
            _unavailable_message(model_name, f"download failed ({err})")
        ) from err


def timm_input_spec(model: nn.Module, input_size: int | None = None) -> InputSpec:
    """The input contract of a timm model: its pretrained config's mean and std, at ``input_size``
    px (None: the config's own size)."""
    cfg = timm.data.resolve_model_data_config(model)
    return InputSpec(
        size=int(input_size or cfg["input_size"][-1]),
        mean=tuple(float(v) for v in cfg["mean"]),
        std=tuple(float(v) for v in cfg["std"]),
    )


def extract_state_dict(checkpoint: Mapping[str, Any]) -> dict[str, torch.Tensor]:
    """The tensor dict inside a checkpoint: Lightning's ``state_dict``, ``model_state_dict``, or itself."""
    for key in ("state_dict", "model_state_dict", "model", "net"):
        inner = checkpoint.get(key)
        if isinstance(inner, Mapping) and inner and all(isinstance(v, torch.Tensor) for v in inner.values()):
            return dict(inner)
    tensors = {k: v for k, v in checkpoint.items() if isinstance(v, torch.Tensor)}
    if not tensors:
        raise ValueError(
            f"No tensors found in the checkpoint (top-level keys: {sorted(checkpoint)[:10]}); expected a "
            "state dict or a dict with 'state_dict' / 'model_state_dict'."
        )
    return tensors


def strip_prefixes(state_dict: Mapping[str, torch.Tensor], target_keys: set[str]) -> dict[str, torch.Tensor]:
    """Remove wrapper prefixes (``module.``, ``model.``, ``net.``) until the keys match the target's.

    A prefix is stripped only where the stripped key is a key of the target or still carries
    another wrapper prefix, so a net with a real submodule named ``model`` keeps its keys.
    """
    out: dict[str, torch.Tensor] = {}
    for key, value in state_dict.items():
        while key not in target_keys:
            prefix = next((p for p in STRIP_PREFIXES if key.startswith(p)), None)
            if prefix is None:
                break
            key = key[len(prefix) :]
        out[key] = value
    return out


def load_weights(
    net: nn.Module, path: str | os.PathLike[str], allow_pickle: bool = False
) -> dict[str, list[str]]:
    """Load a local state dict or checkpoint into ``net`` non-strictly and report what did not fit.

    The file is read as plain data (``weights_only=True``): a file that needs pickle, which could
    run code, is refused unless ``allow_pickle`` (``model.allow_pickle=true``).

    Returns ``{"missing": [...], "unexpected": [...], "mismatched": [...]}`` (mismatched = same
    key, different shape; those tensors are skipped). Raises ``ValueError`` if no key matches,
    which almost always means the file belongs to another architecture.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"model.weights_path={str(path)!r} does not exist; give a .pth/.pt/.ckpt file."
        )
    checkpoint = load_torch_file(path, allow_pickle, opt_in="model.allow_pickle=true")
    if not isinstance(checkpoint, Mapping):
        raise ValueError(
            f"{path} holds a {type(checkpoint).__name__}, expected a state dict or checkpoint dict."
        )
    target = net.state_dict()
    state_dict = extract_state_dict(checkpoint)
    if any(k.startswith("net.") for k in state_dict):
        # A dfd LightningModule checkpoint: the net is under `net.`; the rest is metric state.
        state_dict = {k: v for k, v in state_dict.items() if k.startswith("net.")}
    state_dict = strip_prefixes(state_dict, set(target))
    mismatched = [k for k, v in state_dict.items() if k in target and target[k].shape != v.shape]
    loadable = {k: v for k, v in state_dict.items() if k not in mismatched}
    result = net.load_state_dict(loadable, strict=False)
    report = {
        "missing": list(result.missing_keys),
        "unexpected": list(result.unexpected_keys),
        "mismatched": mismatched,
    }
    matched = len(loadable) - len(report["unexpected"])
    if matched == 0:
        raise ValueError(
            f"None of the {len(state_dict)} tensors in {path} match {type(net).__name__} "
            f"(first keys: {list(state_dict)[:3]}, expected e.g. {list(target)[:3]}); "
            "check that model.weights_path belongs to the selected model."
        )
    log.info(
        "Loaded %d/%d tensors of %s from %s; missing %d %s, unexpected %d %s, shape-mismatched %d %s",
        matched,
        len(target),
        type(net).__name__,
        path,
        len(report["missing"]),
        report["missing"][:5],
        len(report["unexpected"]),
        report["unexpected"][:5],
        len(mismatched),
        mismatched[:5],
    )
    return report
