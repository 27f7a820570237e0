"""LITE, the conv1d family's light Inception-style architecture (``arch: lite``).

After Ismail-Fawaz, Devanne, Berretti, Weber and Forestier, "LITE: Light Inception with
boosTing tEchniques for Time Series Classification", IEEE DSAA 2023; written here from the
paper's description. Three ideas make it about 2% of InceptionTime's size at a similar
accuracy, which suits a CPU:

- **multiplexing**: the first layer runs convolutions of three lengths side by side
  (``kernel_size``, half and a quarter of it), so it sees short and long patterns at once;
- **custom filters**: fixed, untrained filters that detect increases, decreases and peaks
  at several scales, concatenated to the first layer's output;
- **depthwise-separable, dilated layers** after it: a per-channel convolution with a
  dilation that grows (2, 4, ...) and a 1x1 mixing convolution, a fraction of a full
  convolution's cost.

Every layer is 'same'-padded and zeroes the padding after itself, like the stack blocks in
``conv1d.py``, and global pooling is masked, so a padded sequence gives exactly the output
it gives alone. The paper's model has no residual connections; ``residual: true`` adds one
around each separable layer (InceptionTime's idea).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from workbench.models.blocks import ConvUnit, activation, apply_mask, norm1d
from workbench.models.params import Conv1dParams

FILTER_SIZES = (2, 4, 8, 16, 32, 64)


def odd(k: int) -> int:
    """The odd kernel length at or just above ``k``: 'same' padding of an even kernel costs a
    padded copy of the input."""
    return max(1, k + 1 - k % 2)


def custom_filters(kernel_size: int) -> list[np.ndarray]:
    """The fixed filters, at the scales up to twice the head kernel: increase detectors
    (alternating -1, +1: large where the signal rises step after step), decrease detectors
    (their negation) and peak detectors (a positive bump between two negative lobes of
    squared ramps, 1.5 times the scale long)."""
    sizes = [s for s in FILTER_SIZES if s <= max(2, 2 * kernel_size)]
    filters = []
    for s in sizes:
        alternating = np.where(np.arange(s) % 2 == 0, -1.0, 1.0)
        filters += [alternating, -alternating]
    for s in sizes[1:]:
        quarter = s // 4
        ramp = np.linspace(0.0, 1.0, quarter + 1)[1:] ** 2
        lobe = np.concatenate([ramp, ramp[::-1]])  # up then down, s // 2 long
        filters.append(np.concatenate([-lobe, 2 * lobe, -lobe]))
    return filters


class FixedFilters(nn.Conv1d):
    """The custom filters applied to every input channel on its own (groups = channels),
    as one frozen convolution: each filter is centred in a common odd length so that it sees
    what its own 'same'-padded convolution would."""

    def __init__(self, channels: int, kernel_size: int) -> None:
        filters = custom_filters(kernel_size)
        width = odd(max(len(f) for f in filters) + 1)
        centre = (width - 1) // 2
        bank = np.zeros((len(filters), width), dtype=np.float32)
        for i, f in enumerate(filters):
            start = centre - (len(f) - 1) // 2  # PyTorch's 'same' puts (k - 1) // 2 steps on the left
            bank[i, start : start + len(f)] = f
        super().__init__(channels, channels * len(filters), width, padding="same", groups=channels, bias=False)
        with torch.no_grad():
            self.weight.copy_(torch.from_numpy(np.tile(bank, (channels, 1))[:, None, :]))
        self.weight.requires_grad_(False)


class MultiplexLayer(nn.Module):
    """LITE's first layer: convolutions of three lengths side by side and the fixed filters,
    concatenated, normalised and activated."""

    def __init__(self, c_in: int, p: Conv1dParams) -> None:
        super().__init__()
        lengths = sorted({odd(p.kernel_size // 2**i) for i in range(3)}, reverse=True)
        self.convs = nn.ModuleList(nn.Conv1d(c_in, p.channels, k, padding="same", bias=False) for k in lengths)
        self.fixed = FixedFilters(c_in, p.kernel_size)
        self.out_channels = p.channels * len(lengths) + self.fixed.out_channels
        self.norm = norm1d(p.norm, self.out_channels)
        self.act = activation(p.activation)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        parts = [conv(x) for conv in self.convs] + [torch.relu(self.fixed(x))]
        return apply_mask(self.act(self.norm(torch.cat(parts, dim=1), mask)), mask)


def separable_block(c_in: int, c_out: int, kernel_size: int, dilation: int, p: Conv1dParams) -> ConvUnit:
    """A depthwise convolution (one filter per channel, dilated) and a 1x1 convolution that
    mixes the channels: the cost of a full convolution divided by about the kernel length."""
    conv = nn.Sequential(
        nn.Conv1d(c_in, c_in, kernel_size, dilation=dilation, padding="same", groups=c_in, bias=False),
        nn.Conv1d(c_in, c_out, 1, bias=False),
    )
    return ConvUnit(conv, c_in, c_out, norm=p.norm, act=p.activation, dropout=p.dropout, residual=p.residual)


class LiteBackbone(nn.Module):
    """``(N, C, L)`` → ``(N, channels, L)``: the multiplexing layer, then ``depth - 1``
    separable layers with kernels halving from ``kernel_size // 2`` (``kernels: shrinking``,
    the paper's) or all ``kernel_size // 2`` (``fixed``), and dilation ``growth**i``."""

    def __init__(self, n_channels: int, p: Conv1dParams) -> None:
        super().__init__()
        first = MultiplexLayer(n_channels, p)
        layers: list[nn.Module] = [first]
        c_in = first.out_channels
        for i in range(1, p.depth):
            shrink = 2**i if p.kernels == "shrinking" else 2
            kernel = max(3, odd(p.kernel_size // shrink))
            layers.append(separable_block(c_in, p.channels, kernel, int(p.dilation_growth**i), p))
            c_in = p.channels
        self.blocks = nn.ModuleList(layers)
        self.out_channels = c_in

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        for block in self.blocks:
            x = block(x, mask)
        return x
