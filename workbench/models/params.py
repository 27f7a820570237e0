"""Typed parameters of each family and of training, checked on construction.

Plain values only: a study turns Optuna suggestions into these, a user writes
them by hand, and the models never see Optuna.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, TypeVar

from workbench.errors import ConfigError
from workbench.models.blocks import ACTIVATIONS, NORMS, POOLINGS

KERNEL_SCHEDULES = ("fixed", "shrinking")
WIDTH_SCHEDULES = ("flat", "fcn")
LENGTH_TREATMENTS = ("resample", "mask")
ARCHITECTURES = ("stack", "lite")


def _choice(name: str, value: Any, valid: tuple[str, ...] | list[str]) -> None:
    if value not in valid:
        raise ConfigError(
            f"The '{name}' parameter must be one of {{{', '.join(map(repr, valid))}}}. Got {value!r} instead."
        )


def _positive(name: str, value: Any, minimum: float = 1) -> None:
    if not isinstance(value, int | float) or isinstance(value, bool) or value < minimum:
        raise ConfigError(f"The '{name}' parameter must be a number ≥ {minimum}, but got {value!r}.")


def _fraction(name: str, value: Any) -> None:
    if not isinstance(value, int | float) or not 0.0 <= value < 1.0:
        raise ConfigError(f"The '{name}' parameter must be in [0, 1), but got {value!r}.")


@dataclass(frozen=True)
class MLPParams:
    """``depth=0`` is a single ``nn.Linear``: the "just use a Linear layer" answer."""

    width: int = 128
    depth: int = 1
    activation: str = "relu"
    norm: str = "none"
    dropout: float = 0.0

    def __post_init__(self) -> None:
        _positive("width", self.width)
        _positive("depth", self.depth, 0)
        _choice("activation", self.activation, list(ACTIVATIONS))
        _choice("norm", self.norm, NORMS)
        _fraction("dropout", self.dropout)


@dataclass(frozen=True)
class Conv1dParams:
    """'Same'-padded convolutions, then masked global pooling: ``arch: stack`` is ``depth``
    plain blocks (FCN, ResNet-like), ``arch: lite`` is LITE (``models/lite.py``): a
    multi-scale first layer with fixed filters, then ``depth - 1`` separable dilated layers,
    ``channels`` filters per convolution."""

    arch: str = "stack"
    channels: int = 32
    depth: int = 3
    kernel_size: int = 7
    dilation_growth: int = 1  # block i uses dilation growth**i
    residual: bool = True
    norm: str = "batch"
    activation: str = "relu"
    dropout: float = 0.0
    pooling: str = "avg"
    kernels: str = "fixed"  # "shrinking": kernel_size in the first block down to 3 in the last (FCN's 8/5/3)
    widths: str = "flat"  # "fcn": the middle blocks twice as wide as `channels` (FCN's 128/256/128)
    # Whole sequences of different lengths: "resample" interpolates each to one length (the
    # training median; published UCR results stretch to the longest), "mask" keeps true time
    # and masks the padding exactly.
    lengths: str = "resample"
    # Average every `downsample` consecutive steps before the first block: a long, smooth series
    # costs 1/downsample as much and each block sees downsample× further (defaults.py chooses it).
    downsample: int = 1

    def __post_init__(self) -> None:
        _choice("arch", self.arch, ARCHITECTURES)
        _positive("downsample", self.downsample)
        _positive("channels", self.channels)
        _positive("depth", self.depth)
        _positive("kernel_size", self.kernel_size)
        _positive("dilation_growth", self.dilation_growth)
        _choice("norm", self.norm, NORMS)
        _choice("activation", self.activation, list(ACTIVATIONS))
        _choice("pooling", self.pooling, POOLINGS)
        _choice("kernels", self.kernels, KERNEL_SCHEDULES)
        _choice("widths", self.widths, WIDTH_SCHEDULES)
        _choice("lengths", self.lengths, LENGTH_TREATMENTS)
        _fraction("dropout", self.dropout)

    def block_kernels(self) -> list[int]:
        """The kernel size of each block."""
        if self.kernels == "fixed" or self.depth == 1 or self.kernel_size <= 3:
            return [self.kernel_size] * self.depth
        last = self.depth - 1
        between = [3 + (self.kernel_size - 3) * (last - i) // last for i in range(1, last)]
        # Odd in between: an even kernel with 'same' padding costs a padded copy of the input.
        return [self.kernel_size, *(k - 1 + k % 2 for k in between), 3]

    def block_widths(self) -> list[int]:
        """The output channels of each block."""
        if self.widths == "flat":
            return [self.channels] * self.depth
        return [2 * self.channels if 0 < i < self.depth - 1 else self.channels for i in range(self.depth)]

    def receptive_field(self) -> int:
        """The input steps one output position sees."""
        blocks = 1 + sum((k - 1) * int(self.dilation_growth**i) for i, k in enumerate(self.block_kernels()))
        return blocks * self.downsample


@dataclass(frozen=True)
class HybridParams:
    """A Conv1d backbone and an MLP branch over unordered inputs, fused before the output."""

    arch: str = "stack"
    channels: int = 32
    depth: int = 3
    kernel_size: int = 7
    dilation_growth: int = 1
    residual: bool = True
    norm: str = "batch"
    activation: str = "relu"
    dropout: float = 0.0
    pooling: str = "avg"
    kernels: str = "fixed"
    widths: str = "flat"
    lengths: str = "resample"
    downsample: int = 1
    branch_width: int = 32
    head_width: int = 64
    head_depth: int = 1

    def __post_init__(self) -> None:
        self.conv()  # validates the backbone's fields
        _positive("branch_width", self.branch_width)
        _positive("head_width", self.head_width)
        _positive("head_depth", self.head_depth, 0)

    def conv(self) -> Conv1dParams:
        names = {f.name for f in dataclasses.fields(Conv1dParams)}
        return Conv1dParams(**{k: v for k, v in dataclasses.asdict(self).items() if k in names})


@dataclass(frozen=True)
class TrainParams:
    """Optimisation, shared by every family."""

    lr: float = 1e-3
    weight_decay: float = 1e-4
    batch_size: int = 32
    optimizer: str = "adamw"
    schedule: str = "cosine"
    grad_clip: float = 1.0

    def __post_init__(self) -> None:
        if not isinstance(self.lr, int | float) or not 0 < self.lr <= 10:
            raise ConfigError(f"The 'lr' parameter must be in (0, 10], but got {self.lr!r}.")
        if not isinstance(self.weight_decay, int | float) or self.weight_decay < 0:
            raise ConfigError(f"The 'weight_decay' parameter must be ≥ 0, but got {self.weight_decay!r}.")
        _positive("batch_size", self.batch_size)
        _choice("optimizer", self.optimizer, ("adamw", "adam", "sgd"))
        _choice("schedule", self.schedule, ("none", "cosine", "onecycle"))
        if not isinstance(self.grad_clip, int | float) or self.grad_clip < 0:
            raise ConfigError(
                f"The 'grad_clip' parameter must be ≥ 0 (0 disables clipping), but got {self.grad_clip!r}."
            )


P = TypeVar("P")


def from_values(cls: type[P], values: dict[str, Any], *, family: str) -> P:
    """Build ``cls`` from a dict, naming unknown keys and the valid ones."""
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise ConfigError(f"Unknown parameter(s) {unknown} for {family}. Valid parameters: {', '.join(fields)}.")
    return cls(**{name: _typed(name, value, str(fields[name].type)) for name, value in values.items()})


def _typed(name: str, value: Any, kind: str) -> Any:
    """``value`` as the parameter's type (a whole float such as YAML's ``2.0`` as an int), or a
    ConfigError that names the parameter, the type and what was given."""
    whole_float = isinstance(value, float) and value.is_integer()
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "int" and (whole_float or (number and isinstance(value, int))):
        return int(value)
    if kind == "float" and number:
        return value
    if (kind == "str" and isinstance(value, str)) or (kind == "bool" and isinstance(value, bool)):
        return value
    wanted = {"int": "a whole number", "float": "a number", "str": "a name", "bool": "true or false"}.get(kind, kind)
    raise ConfigError(f"The '{name}' parameter must be {wanted}, but got {value!r}.")
