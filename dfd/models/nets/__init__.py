"""Detector networks: plain ``nn.Module`` s with one interface, in timm's manner.

Every net takes the same leading constructor arguments ``(num_classes=1, pretrained=False,
dropout, [input_size])``; ``pretrained=False`` is the class default and configs turn it on.
``forward_features(x) -> [B, num_features]`` is the pooled embedding that
``forward_head(features) -> logits[B, num_classes]`` classifies, and ``forward`` is the two in
turn (``num_classes=1`` gives one fake logit); :class:`dfd.models.nets.base.Net` supplies them.
``net.input_spec`` declares the input size and normalisation the data side must produce
(``None`` for nets that read no face crops); ``net.backbone`` and ``net.head`` name the parts
that fine-tuning controls address. One file per family; configs in ``conf/model/``.

Every net declares its test size as the class attribute ``small_config`` (constructor keyword
arguments that run a batch in well under a second on CPU), and ``example_inputs()`` gives random
arguments of its ``forward`` at that size (a batch of face crops unless the net overrides it).
The contract tests (``tests/models/nets/test_package.py``), the training tests
(``tests/test_train_zoo.py``) and the export tests (``tests/inference/test_export.py``) build
every net of :data:`NETS` from these two; no test keeps a table of nets.

Adding a net touches its module, one line here, its config and its own test:

1. ``dfd/models/nets/<family>.py``: the class, subclassing :class:`~dfd.models.nets.base.Net`,
   with ``small_config`` (and ``example_inputs`` if it reads more than face crops);
2. its dotted name in :data:`NETS` below (the allow-list of what runs and exported folders may
   build, kept explicit so that trusting a net is a visible decision);
3. ``conf/model/<name>.yaml``: its config (``net._target_`` the same dotted name);
4. ``tests/models/nets/test_<family>.py``: the facts of its paper (shapes, parameter counts).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from torch import nn

#: The registry: every net class of dfd, by the dotted name configs, runs and exported folders use.
#: Loading a run (``dfd.artifacts.runs``) or an exported folder (``dfd.inference.export``) builds only
#: these (and classes a user names in ``DFD_TRUSTED_TARGETS`` for runs);
#: ``tests/models/nets/test_package.py`` checks it lists every net class in this package and
#: every net a ``conf/model/`` file names.
NETS = (
    "dfd.models.nets.audio_cnn.AudioCNN",
    "dfd.models.nets.avff.AVFF",
    "dfd.models.nets.f3net.F3Net",
    "dfd.models.nets.foundation.FoundationNet",
    "dfd.models.nets.hybrid_vit_cnn.HybridViTCNN",
    "dfd.models.nets.mesonet.Meso4",
    "dfd.models.nets.mesonet.MesoInception4",
    "dfd.models.nets.temporal.FTCN",
    "dfd.models.nets.temporal.TALL",
    "dfd.models.nets.temporal.TemporalHead",
    "dfd.models.nets.timm_net.TimmNet",
    "dfd.models.nets.xception.Xception",
)


def net_class(target: str) -> type[nn.Module]:
    """The registered net class named ``target`` (one of :data:`NETS`), imported."""
    if target not in NETS:
        raise ValueError(
            f"{target!r} is not a registered net; expected one of {list(NETS)} (dfd.models.nets.NETS)"
        )
    module, _, name = target.rpartition(".")
    return getattr(importlib.import_module(module), name)
