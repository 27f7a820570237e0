"""The MLP family: from one ``nn.Linear`` (depth 0) to a deep stack.

It sees the flattened ``(N, C·L)`` view; for per-step labels it is applied
pointwise, to the C channels at each time step.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from workbench.models.blocks import Standardize, activation, apply_mask, length_mask, norm_flat
from workbench.models.params import MLPParams
from workbench.models.spec import DataSpec


def mlp_stack(
    in_features: int, width: int, depth: int, act: str, norm: str, dropout: float
) -> tuple[nn.Sequential, int]:
    """``depth`` hidden layers of ``width``; returns the stack and its output size."""
    layers: list[nn.Module] = []
    size = in_features
    for _ in range(depth):
        layers += [nn.Linear(size, width), norm_flat(norm, width), activation(act), nn.Dropout(dropout)]
        size = width
    return nn.Sequential(*layers), size


class MLPNet(nn.Module):
    def __init__(self, spec: DataSpec, params: MLPParams) -> None:
        super().__init__()
        self.per_step = spec.per_step
        self.length = spec.length
        # Tabular features each have their own scale; ordered channels share one per channel.
        stat_length = spec.length if not spec.ordered and not spec.per_step else 1
        self.standardize = Standardize((1, spec.n_channels, stat_length))
        in_features = spec.n_channels if self.per_step else spec.n_channels * spec.length
        norm = "layer" if self.per_step and params.norm == "batch" else params.norm
        self.hidden, size = mlp_stack(in_features, params.width, params.depth, params.activation, norm, params.dropout)
        self.out = nn.Linear(size, spec.n_outputs)

    def forward(
        self, x: torch.Tensor, lengths: torch.Tensor | None = None, static: torch.Tensor | None = None
    ) -> torch.Tensor:
        mask = length_mask(lengths, x)
        x = apply_mask(self.standardize(x), mask)  # (N, C, L)
        if self.per_step:
            h = self.out(self.hidden(x.transpose(1, 2)))  # (N, L, K): the same MLP at every step
            return h.transpose(1, 2)  # (N, K, L)
        if x.shape[-1] < self.length:  # a batch of shorter sequences: pad to the trained length
            x = F.pad(x, (0, self.length - x.shape[-1]))
        return self.out(self.hidden(x.flatten(1)))  # (N, K)
