"""The hybrid family: a Conv1d backbone for order, an MLP branch for what has
no order (static features, or order-free summaries of the sequence).

It is the conv1d model plus a correction: the conv path (backbone, pooling,
output layer) is exactly :class:`~workbench.models.conv1d.Conv1dNet`'s, and a
fused head over the pooled sequence features and the branch adds to its logits
through a zero-initialised output layer. At initialisation the hybrid *is* its
conv backbone's model, so an uninformative branch starts at, and can stay at,
no effect instead of pulling the fusion below conv1d.
"""

from __future__ import annotations

import torch
from torch import nn

from workbench.models.blocks import (
    Standardize,
    activation,
    apply_mask,
    length_mask,
    summary_features,
    true_lengths,
    upsample,
)
from workbench.models.conv1d import backbone, conv_head, pool, pooled_features, sequence_view
from workbench.models.mlp import mlp_stack
from workbench.models.params import HybridParams
from workbench.models.spec import DataSpec


class HybridNet(nn.Module):
    def __init__(self, spec: DataSpec, params: HybridParams) -> None:
        super().__init__()
        conv = params.conv()
        self.spec = spec
        self.per_step = spec.per_step
        self.pooling = conv.pooling
        self.lengths = conv.lengths
        self.downsample = conv.downsample
        self.use_static = spec.n_static > 0
        self.standardize = Standardize((1, spec.n_channels, 1))
        self.standardize_static = Standardize((1, max(spec.n_static, 1)))
        self.backbone = backbone(spec.n_channels, conv)
        self.head = conv_head(self.backbone.out_channels, conv.pooling, spec)  # the conv1d model's own output
        branch_in = spec.n_static if self.use_static else 4 * spec.n_channels
        self.branch = nn.Sequential(nn.Linear(branch_in, params.branch_width), activation(params.activation))
        width = self.backbone.out_channels
        seq_features = width if self.per_step else pooled_features(width, conv.pooling, spec)
        size = seq_features + params.branch_width
        if self.per_step:  # fuse at every step with 1x1 convolutions
            layers: list[nn.Module] = []
            for _ in range(params.head_depth):
                layers += [
                    nn.Conv1d(size, params.head_width, 1),
                    activation(params.activation),
                    nn.Dropout(params.dropout),
                ]
                size = params.head_width
            self.fusion = nn.Sequential(*layers)
        else:
            self.fusion, size = mlp_stack(
                size, params.head_width, params.head_depth, params.activation, "none", params.dropout
            )
        self.correction: nn.Module = (
            nn.Conv1d(size, spec.n_outputs, 1) if self.per_step else nn.Linear(size, spec.n_outputs)
        )
        for weight in self.correction.parameters():  # the fusion starts as the conv model's prediction
            nn.init.zeros_(weight)

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
        seq, seq_mask = sequence_view(x, lengths, self.spec, self.lengths, self.downsample)
        h = self.backbone(seq, seq_mask)  # (N, channels, L / downsample)
        if self.per_step:
            h = upsample(h, self.downsample, x.shape[-1])
            fused = torch.cat([h, b.unsqueeze(-1).expand(-1, -1, h.shape[-1])], dim=1)
            return self.head(h) + self.correction(self.fusion(fused))  # (N, K, L)
        pooled = pool(h, seq_mask, true_lengths(lengths, x), self.pooling, self.spec)
        return self.head(pooled) + self.correction(self.fusion(torch.cat([pooled, b], dim=1)))  # (N, K)
