"""The hybrid family: a Conv1d backbone for order, an MLP branch for what has
no order (static features, or order-free summaries of the sequence), fused
before the output layer."""

from __future__ import annotations

import torch
from torch import nn

from workbench.models.blocks import Standardize, activation, apply_mask, length_mask, masked_pool, summary_features
from workbench.models.conv1d import ConvBackbone
from workbench.models.mlp import mlp_stack
from workbench.models.params import HybridParams
from workbench.models.spec import DataSpec


class HybridNet(nn.Module):
    def __init__(self, spec: DataSpec, params: HybridParams) -> None:
        super().__init__()
        conv = params.conv()
        self.per_step = spec.per_step
        self.pooling = conv.pooling
        self.use_static = spec.n_static > 0
        self.standardize = Standardize((1, spec.n_channels, 1))
        self.standardize_static = Standardize((1, max(spec.n_static, 1)))
        self.backbone = ConvBackbone(spec.n_channels, conv)
        branch_in = spec.n_static if self.use_static else 4 * spec.n_channels
        self.branch = nn.Sequential(nn.Linear(branch_in, params.branch_width), activation(params.activation))
        seq_features = conv.channels if self.per_step else conv.channels * (2 if conv.pooling == "avgmax" else 1)
        fused = seq_features + params.branch_width
        if self.per_step:  # fuse at every step with 1x1 convolutions
            layers: list[nn.Module] = []
            size = fused
            for _ in range(params.head_depth):
                layers += [
                    nn.Conv1d(size, params.head_width, 1),
                    activation(params.activation),
                    nn.Dropout(params.dropout),
                ]
                size = params.head_width
            self.head = nn.Sequential(*layers)
        else:
            self.head, size = mlp_stack(
                fused, params.head_width, params.head_depth, params.activation, "none", params.dropout
            )
        self.out: nn.Module = nn.Conv1d(size, spec.n_outputs, 1) if self.per_step else nn.Linear(size, spec.n_outputs)

    def forward(
        self, x: torch.Tensor, lengths: torch.Tensor | None = None, static: torch.Tensor | None = None
    ) -> torch.Tensor:
        mask = length_mask(lengths, x)
        x = apply_mask(self.standardize(x), mask)  # (N, C, L)
        if self.use_static:
            if static is None:
                raise ValueError("This hybrid model was trained with static features: pass static=(N, S).")
            unordered = self.standardize_static(static)
        else:
            unordered = summary_features(x, mask)  # (N, 4C)
        b = self.branch(unordered)  # (N, B)
        h = self.backbone(x, mask)  # (N, channels, L)
        if self.per_step:
            fused = torch.cat([h, b.unsqueeze(-1).expand(-1, -1, h.shape[-1])], dim=1)
            return self.out(self.head(fused))  # (N, K, L)
        fused = torch.cat([masked_pool(h, mask, self.pooling), b], dim=1)
        return self.out(self.head(fused))  # (N, K)
