"""Layers shared by the families: activations, norms, masks, masked pooling,
and input standardisation that travels with the model."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
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


def resample(x: torch.Tensor, lengths: torch.Tensor | None, length: int) -> torch.Tensor:
    """``(N, C, L)`` → ``(N, C, length)``: each sequence's own first ``lengths[i]`` steps
    linearly interpolated onto ``length`` evenly spaced points.

    The usual treatment of the UCR archive's variable-length sets (dl-4-tsc and
    InceptionTime stretch every series to the longest): gestures or words made at
    different speeds line up, and the padding is never read, so a sequence gives the same
    output whatever it was padded to."""
    n = true_lengths(lengths, x).to(x.dtype).clamp_min(1.0)
    grid = torch.linspace(0.0, 1.0, length, device=x.device, dtype=x.dtype)
    position = grid[None, :] * (n[:, None] - 1.0)  # (N, length) in [0, n - 1]
    left = position.floor().long()
    right = torch.minimum(left + 1, (n.long() - 1)[:, None])
    weight = (position - left.to(x.dtype)).unsqueeze(1)  # (N, 1, length)
    channels = x.shape[1]
    at_left = torch.gather(x, 2, left.unsqueeze(1).expand(-1, channels, -1))
    at_right = torch.gather(x, 2, right.unsqueeze(1).expand(-1, channels, -1))
    return at_left * (1.0 - weight) + at_right * weight


def downsample(x: torch.Tensor, mask: torch.Tensor | None, factor: int) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``(N, C, L)`` → ``(N, C, ceil(L / factor))``: the mean of every ``factor`` consecutive
    steps, over real steps only, and the mask of the shorter sequences. Windows start at each
    sequence's first step, so a sequence gives the same output whatever it was padded to."""
    if factor == 1:
        return x, mask
    if mask is None:
        return F.avg_pool1d(x, factor, factor, ceil_mode=True), None
    counts = F.avg_pool1d(mask, factor, factor, ceil_mode=True)  # the share of real steps in each window
    means = F.avg_pool1d(x * mask, factor, factor, ceil_mode=True) / counts.clamp_min(1.0 / factor)
    return means, (counts > 0).to(x.dtype)


def upsample(h: torch.Tensor, factor: int, length: int) -> torch.Tensor:
    """Undo :func:`downsample` along L for per-step outputs: each step takes its window's value."""
    return h if factor == 1 else h.repeat_interleave(factor, dim=-1)[..., :length]


def true_lengths(lengths: torch.Tensor | None, x: torch.Tensor) -> torch.Tensor:
    """``(N,)`` each sequence's real length: ``lengths``, or the full L when there is no padding."""
    return torch.full((x.shape[0],), x.shape[-1], device=x.device) if lengths is None else lengths


def relative_length(n_steps: torch.Tensor, trained_length: int) -> torch.Tensor:
    """``(N, 1)``: each sequence's length over the longest seen in training.

    Masked pooling or resampling makes a model blind to how long a sequence is, and on
    variable-length data the length is often a strong cue (PickupGestureWiimoteZ: the length
    alone classifies 42% of the test gestures, 10 classes). A padded model without the mask
    would read it from the padding; here it is given explicitly, whatever the padding."""
    return (n_steps.float() / float(trained_length)).unsqueeze(1)


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

    @property
    def in_channels(self) -> int:
        """The channels it expects on axis 1 (the shape doctor checks inputs against it)."""
        return int(self.mean.shape[1])

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


class MaskedBatchNorm1d(nn.BatchNorm1d):
    """BatchNorm over ``(N, C, L)`` whose batch statistics count real positions only.

    With padding, ``nn.BatchNorm1d`` averages the zeroed padding into the mean and the
    variance, and the padding's share changes from batch to batch: a sequence's features
    then depend on which sequences it was batched with. Here the moments are taken over
    N and each sequence's unpadded L, and the running statistics follow those moments.
    Without a mask (equal lengths) it is ``nn.BatchNorm1d`` exactly; in eval mode it uses
    the running statistics, so a padded sequence normalises as it would alone.
    """

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        if mask is None or not self.training or x.dim() != 3:
            return super().forward(x)
        count = mask.sum() * 1.0  # real positions in the batch (mask is (N, 1, L))
        mean = (x * mask).sum(dim=(0, 2)) / count.clamp_min(1.0)
        var = (((x - mean[None, :, None]) * mask) ** 2).sum(dim=(0, 2)) / count.clamp_min(1.0)
        tracked = self.num_batches_tracked
        if self.running_mean is not None and self.running_var is not None and tracked is not None:
            with torch.no_grad():
                tracked.add_(1)
                momentum = self.momentum if self.momentum is not None else 1.0 / float(tracked)
                unbiased = var * count / (count - 1).clamp_min(1.0)  # as nn.BatchNorm1d stores it
                self.running_mean.lerp_(mean.detach(), momentum)
                self.running_var.lerp_(unbiased.detach(), momentum)
        y = (x - mean[None, :, None]) * torch.rsqrt(var + self.eps)[None, :, None]
        if self.affine:
            y = y * self.weight[None, :, None] + self.bias[None, :, None]
        return y


class MaskedLayerNorm1d(nn.GroupNorm):
    """GroupNorm(1, C) over ``(N, C, L)`` whose per-sample statistics count real positions
    only; without a mask it is ``nn.GroupNorm(1, C)`` exactly."""

    def __init__(self, channels: int) -> None:
        super().__init__(1, channels)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        if mask is None:
            return super().forward(x)
        count = (mask.sum(dim=(1, 2), keepdim=True) * x.shape[1]).clamp_min(1.0)  # (N, 1, 1)
        mean = (x * mask).sum(dim=(1, 2), keepdim=True) / count
        var = (((x - mean) * mask) ** 2).sum(dim=(1, 2), keepdim=True) / count
        y = (x - mean) * torch.rsqrt(var + self.eps)
        return y * self.weight[None, :, None] + self.bias[None, :, None]


class NoNorm(nn.Identity):
    """The 'none' choice, with the masked norms' call signature."""

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        return x


def norm1d(kind: str, channels: int) -> nn.Module:
    """Normalisation over channels of ``(N, C, L)``, called as ``norm(x, mask)`` so that
    padding never enters its statistics; 'layer' is per sample, batch-independent."""
    if kind == "batch":
        return MaskedBatchNorm1d(channels)
    if kind == "layer":
        return MaskedLayerNorm1d(channels)
    return NoNorm()


class ConvUnit(nn.Module):
    """One convolution (any module over ``(N, C, L)`` that keeps L), then masked normalisation,
    activation and dropout, an optional residual connection, and the padding zeroed again:
    the unit every conv block of the families is made of."""

    def __init__(
        self, conv: nn.Module, c_in: int, c_out: int, *, norm: str, act: str, dropout: float, residual: bool
    ) -> None:
        super().__init__()
        self.conv = conv
        self.norm = norm1d(norm, c_out)
        self.act = activation(act)
        self.drop = nn.Dropout(dropout)
        self.skip: nn.Module | None = None
        if residual:
            self.skip = nn.Identity() if c_in == c_out else nn.Conv1d(c_in, c_out, 1)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        h = self.drop(self.act(self.norm(self.conv(x), mask)))  # (N, C_out, L)
        if self.skip is not None:
            h = h + self.skip(x)
        return apply_mask(h, mask)


def norm_flat(kind: str, features: int) -> nn.Module:
    """Normalisation over features of ``(N, F)`` (or ``(..., F)`` for 'layer')."""
    if kind == "batch":
        return nn.BatchNorm1d(features)
    if kind == "layer":
        return nn.LayerNorm(features)
    return nn.Identity()
