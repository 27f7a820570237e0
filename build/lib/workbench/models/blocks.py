"""Layers shared by the families: activations, norms, masks, masked pooling,
and input standardisation that travels with the model."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn

ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "relu": nn.ReLU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "tanh": nn.Tanh,
    "elu": nn.ELU,
}
NORMS = ("none", "batch", "layer")
POOLINGS = ("avg", "max", "avgmax")


def activation(name: str) -> nn.Module:
    return ACTIVATIONS[name]()


def length_mask(lengths: torch.Tensor | None, x: torch.Tensor) -> torch.Tensor | None:
    """``(N, 1, L)`` float mask for ``x (N, C, L)``; None when all lengths are full."""
    if lengths is None:
        return None
    positions = torch.arange(x.shape[-1], device=x.device)
    return (positions[None, :] < lengths[:, None]).unsqueeze(1).to(x.dtype)


def apply_mask(x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Zero the padding so that the next 'same' convolution sees what it would
    see at the end of an unpadded sequence: zeros."""
    return x if mask is None else x * mask


def masked_pool(x: torch.Tensor, mask: torch.Tensor | None, how: str) -> torch.Tensor:
    """Global pooling over L that ignores padding: ``(N, C, L)`` → ``(N, C)`` or ``(N, 2C)``."""
    if mask is None:
        avg = x.mean(dim=-1)
        mx = x.amax(dim=-1)
    else:
        avg = (x * mask).sum(dim=-1) / mask.sum(dim=-1).clamp_min(1.0)
        mx = x.masked_fill(mask == 0, torch.finfo(x.dtype).min).amax(dim=-1)
    if how == "avg":
        return avg
    if how == "max":
        return mx
    return torch.cat([avg, mx], dim=1)


def summary_features(x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Order-free per-channel statistics ``(N, 4C)``: mean, std, min, max over real positions."""
    if mask is None:
        mean = x.mean(dim=-1)
        std = x.std(dim=-1, unbiased=False)
        return torch.cat([mean, std, x.amin(dim=-1), x.amax(dim=-1)], dim=1)
    count = mask.sum(dim=-1).clamp_min(1.0)
    mean = (x * mask).sum(dim=-1) / count
    var = (((x - mean.unsqueeze(-1)) * mask) ** 2).sum(dim=-1) / count
    big = torch.finfo(x.dtype).max
    mn = x.masked_fill(mask == 0, big).amin(dim=-1)
    mx = x.masked_fill(mask == 0, -big).amax(dim=-1)
    return torch.cat([mean, var.sqrt(), mn, mx], dim=1)


class Standardize(nn.Module):
    """``(x - mean) / std`` with statistics fitted on the training split only.

    Held as buffers, so a checkpoint or an exported model standardises raw
    input itself. Statistics are per channel ``(1, C, 1)`` for ordered data and
    per position ``(1, 1, L)``-shaped as ``(1, C, L)`` for tabular features,
    whose columns each have their own scale.
    """

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, shape: tuple[int, ...]) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(shape))
        self.register_buffer("std", torch.ones(shape))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std

    @torch.no_grad()
    def fit_(self, values: np.ndarray, axes: tuple[int, ...]) -> None:
        """Set mean/std from ``values`` (NaN marks padding) over ``axes``; a constant gets std 1."""
        values = np.asarray(values, dtype=np.float64)  # float32 sums of 1e30-scale values overflow to inf
        mean = np.nanmean(values, axis=axes, keepdims=True)
        std = np.nanstd(values, axis=axes, keepdims=True)
        self.mean.copy_(torch.from_numpy(mean.reshape(self.mean.shape).astype(np.float32)))
        self.std.copy_(torch.from_numpy(np.where(std > 1e-8, std, 1.0).reshape(self.std.shape).astype(np.float32)))


def norm1d(kind: str, channels: int) -> nn.Module:
    """Normalisation over channels of ``(N, C, L)``; 'layer' is GroupNorm(1), batch-independent."""
    if kind == "batch":
        return nn.BatchNorm1d(channels)
    if kind == "layer":
        return nn.GroupNorm(1, channels)
    return nn.Identity()


def norm_flat(kind: str, features: int) -> nn.Module:
    """Normalisation over features of ``(N, F)`` (or ``(..., F)`` for 'layer')."""
    if kind == "batch":
        return nn.BatchNorm1d(features)
    if kind == "layer":
        return nn.LayerNorm(features)
    return nn.Identity()
