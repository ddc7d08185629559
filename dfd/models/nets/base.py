"""The base class of every registered net: timm's ``forward_features`` → ``forward_head`` = ``forward``.

A net builds ``self.backbone`` and ``self.head`` (the names fine-tuning addresses) and sets
``num_classes``, ``num_features`` and ``input_spec``; :class:`Net` supplies the rest. Nets whose
features are more than ``backbone(x)`` (two streams, pooling, checks on the input) override
:meth:`Net.forward_features`. Each net also declares its test size (:attr:`Net.small_config`), from
which the contract, training and export tests build every registered net.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import nn

from dfd.core.input_spec import InputSpec


class Net(nn.Module):
    """``forward(x) = forward_head(forward_features(x))``, with ``forward_features`` the pooled
    embedding [B, num_features] and ``forward_head`` the logits [B, num_classes].

    Subclasses set :attr:`small_config` (constructor keyword arguments of an instance that runs a
    batch in well under a second on CPU) and, when they read more than one batch of face crops,
    :meth:`example_inputs`.
    """

    #: Constructor keyword arguments at test size; every registered net declares its own.
    small_config: ClassVar[dict[str, Any]]
    #: Input size and normalisation the data side produces (``None``: the net reads no face crops).
    input_spec: InputSpec | None
    num_classes: int
    num_features: int
    backbone: nn.Module
    head: nn.Module

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled features [B, num_features]: the backbone's output."""
        return self.backbone(x)

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        """Logits [B, num_classes] from :meth:`forward_features`."""
        return self.head(features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))

    def example_inputs(self, batch_size: int = 2, seed: int = 0) -> tuple[torch.Tensor, ...]:
        """Random arguments of :meth:`forward` at this instance's size: a batch of face crops
        [B, 3, S, S] with S = ``input_spec.size``."""
        if self.input_spec is None:
            raise NotImplementedError(
                f"{type(self).__name__} reads no face crops (input_spec is None): it must define example_inputs"
            )
        size = self.input_spec.size
        return (torch.randn(batch_size, 3, size, size, generator=torch.Generator().manual_seed(seed)),)


def linear_head(num_features: int, num_classes: int, dropout: float) -> nn.Sequential:
    """Dropout → Linear(num_features, num_classes): the head of most nets (state-dict keys ``1.*``)."""
    return nn.Sequential(nn.Dropout(dropout), nn.Linear(num_features, num_classes))
