"""The Conv1d family: 'same'-padded blocks, masked global pooling, no Flatten.

Padding is zeroed after every block, so a padded sequence gives exactly the
output the same sequence gives alone: masking is exact, not approximate.
"""

from __future__ import annotations

import torch
from torch import nn

from workbench.models.blocks import Standardize, activation, apply_mask, length_mask, masked_pool, norm1d
from workbench.models.params import Conv1dParams
from workbench.models.spec import DataSpec


class ConvBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, kernel_size: int, p: Conv1dParams, dilation: int) -> None:
        super().__init__()
        self.conv = nn.Conv1d(c_in, c_out, kernel_size, dilation=dilation, padding="same")
        self.norm = norm1d(p.norm, c_out)
        self.act = activation(p.activation)
        self.drop = nn.Dropout(p.dropout)
        self.skip: nn.Module | None = None
        if p.residual:
            self.skip = nn.Identity() if c_in == c_out else nn.Conv1d(c_in, c_out, 1)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        h = self.drop(self.act(self.norm(self.conv(x))))  # (N, C_out, L)
        if self.skip is not None:
            h = h + self.skip(x)
        return apply_mask(h, mask)


class ConvBackbone(nn.Module):
    """Blocks over ``(N, C, L)`` → ``(N, channels, L)``; the length is kept."""

    def __init__(self, n_channels: int, p: Conv1dParams) -> None:
        super().__init__()
        sizes = [n_channels, *p.block_widths()]
        kernels = p.block_kernels()
        self.blocks = nn.ModuleList(
            ConvBlock(sizes[i], sizes[i + 1], kernels[i], p, p.dilation_growth**i) for i in range(p.depth)
        )
        self.out_channels = sizes[-1]

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        for block in self.blocks:
            x = block(x, mask)
        return x


def pooled_features(channels: int, pooling: str) -> int:
    return channels * (2 if pooling == "avgmax" else 1)


def conv_head(channels: int, pooling: str, spec: DataSpec) -> nn.Module:
    """The output layer over pooled features; per-step: a 1x1 convolution that classifies
    every position and keeps L."""
    if spec.per_step:
        return nn.Conv1d(channels, spec.n_outputs, 1)
    return nn.Linear(pooled_features(channels, pooling), spec.n_outputs)


class Conv1dNet(nn.Module):
    def __init__(self, spec: DataSpec, params: Conv1dParams) -> None:
        super().__init__()
        self.per_step = spec.per_step
        self.pooling = params.pooling
        self.standardize = Standardize((1, spec.n_channels, 1))
        self.backbone = ConvBackbone(spec.n_channels, params)
        self.head = conv_head(self.backbone.out_channels, params.pooling, spec)

    def forward(
        self, x: torch.Tensor, lengths: torch.Tensor | None = None, static: torch.Tensor | None = None
    ) -> torch.Tensor:
        mask = length_mask(lengths, x)
        h = self.backbone(apply_mask(self.standardize(x), mask), mask)  # (N, channels, L)
        if self.per_step:
            return self.head(h)  # (N, K, L)
        return self.head(masked_pool(h, mask, self.pooling))  # (N, K)
