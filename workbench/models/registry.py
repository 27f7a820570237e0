"""Family names → parameter types and builders; the one place that knows them all."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from torch import nn

from workbench.errors import ConfigError, short_repr
from workbench.models.conv1d import Conv1dNet
from workbench.models.hybrid import HybridNet
from workbench.models.mlp import MLPNet
from workbench.models.params import Conv1dParams, HybridParams, MLPParams, TrainParams, from_values
from workbench.models.spec import DataSpec


@dataclass(frozen=True)
class Family:
    name: str
    params: type[Any]
    build: Callable[[DataSpec, Any], nn.Module]
    ordered_only: bool  # convolves along L, so needs L to be a real axis


FAMILIES: dict[str, Family] = {
    "mlp": Family("mlp", MLPParams, MLPNet, ordered_only=False),
    "conv1d": Family("conv1d", Conv1dParams, Conv1dNet, ordered_only=True),
    "hybrid": Family("hybrid", HybridParams, HybridNet, ordered_only=True),
}


def get_family(name: str) -> Family:
    if name not in FAMILIES:
        raise ConfigError(f"Unknown family {name!r}. Valid families: {', '.join(map(repr, FAMILIES))}.")
    return FAMILIES[name]


def split_params(family: str, values: dict[str, Any] | None) -> tuple[Any, TrainParams]:
    """One flat dict (as a study or a user writes it) → (model params, train params)."""
    fam = get_family(family)
    if values is not None and not isinstance(values, Mapping):
        raise ConfigError(
            f"params must map parameter names to values, e.g. {{'depth': 2, 'lr': 0.001}}, but got "
            f"{type(values).__name__} {short_repr(values, 60)}."
        )
    values = dict(values or {})
    train_keys = set(TrainParams.__dataclass_fields__)
    train = {k: values.pop(k) for k in list(values) if k in train_keys}
    model_keys = set(fam.params.__dataclass_fields__)
    unknown = sorted(set(values) - model_keys)
    if unknown:
        raise ConfigError(
            f"Unknown parameter(s) {unknown} for family {family!r}. Valid parameters: "
            f"{', '.join(sorted(model_keys))} (model) and {', '.join(sorted(train_keys))} (training)."
        )
    return from_values(fam.params, values, family=family), from_values(TrainParams, train, family="training")


def build_model(family: str, params: Any, spec: DataSpec) -> nn.Module:
    """Build the family's network for data of ``spec``, refusing impossible combinations."""
    fam = get_family(family)
    if isinstance(params, Conv1dParams | HybridParams) and params.kernel_size > spec.min_length:
        raise ConfigError(
            f"kernel_size={params.kernel_size} is longer than the shortest sequence "
            f"({spec.min_length} steps). Valid kernel sizes for this data: 1..{spec.min_length}."
        )
    return fam.build(spec, params)
