"""Loading torch files without running code from them.

``torch.load`` with ``weights_only=False`` unpickles arbitrary objects: a ``.pth`` or ``.ckpt``
someone else made can run a shell command the moment it is opened. dfd's own checkpoints hold
plain data only (tensors, numbers, strings, lists and dicts; configs as dicts), so every load in
dfd is ``weights_only=True``. A file that needs pickle is refused with the name of the key that
opts in, for files you made yourself or trust.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import torch

from dfd.core.errors import DfdError


class UnsafeCheckpoint(DfdError, pickle.UnpicklingError):
    """A torch file that holds more than plain data, refused without an explicit opt-in."""


def load_torch_file(path: str | Path, allow_pickle: bool = False, opt_in: str = "allow_pickle=true") -> Any:
    """``torch.load(path)`` on CPU with ``weights_only=True``; full unpickling only with ``allow_pickle``.

    ``opt_in`` is the config key (and value) that sets ``allow_pickle`` for the caller's command,
    named in the error.
    """
    if allow_pickle:
        return torch.load(path, map_location="cpu", weights_only=False)
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        reason = str(err).strip().splitlines()
        detail = next(
            (line for line in reason if "Unsupported global" in line or "GLOBAL" in line),
            reason[0] if reason else "",
        )
        # torch's own advice (add_safe_globals) is for the file's author, not for whoever was handed it
        detail = detail.split(" was not an allowed global")[0].split(". Please use")[0]
        raise UnsafeCheckpoint(
            f"{path} holds more than tensors and plain data ({detail.strip()}), so opening it could run code "
            f"from whoever made it. dfd refused it. If you made the file or trust its source, add {opt_in}"
        ) from None
