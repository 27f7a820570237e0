"""Search spaces: read from YAML, checked against each family's parameters, narrowed
by the profile's hints, and turned into suggestions. The only module that calls
``trial.suggest_*``; models and baselines receive plain values.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
import yaml

from workbench.candidates import CANDIDATES
from workbench.config import packaged_config_text
from workbench.errors import ConfigError

SPACE_FIELDS = {"choices", "low", "high", "log", "step"}


@dataclass(frozen=True)
class Param:
    """One dimension: categorical ``choices``, or an int/float range."""

    name: str
    choices: tuple[Any, ...] | None = None
    low: int | float | None = None
    high: int | float | None = None
    log: bool = False
    step: float | None = None

    @property
    def is_int(self) -> bool:
        return type(self.low) is int and type(self.high) is int

    def to_dict(self) -> dict[str, Any]:
        return {
            k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(self).items() if v is not None
        }


Space = dict[str, Param]


def valid_params(family: str) -> set[str]:
    """Every parameter a family (or baseline) accepts: model and training values."""
    from workbench.models.baselines import BASELINE_PARAMS
    from workbench.models.params import TrainParams
    from workbench.models.registry import FAMILIES

    if family not in CANDIDATES:
        raise ConfigError(f"Unknown family {family!r}. Valid: {', '.join(CANDIDATES)}.")
    if CANDIDATES[family].deep:
        return set(FAMILIES[family].params.__dataclass_fields__) | set(TrainParams.__dataclass_fields__)
    return set(BASELINE_PARAMS[family])


def parse_param(name: str, spec: Any, where: str) -> Param:
    if not isinstance(spec, dict) or not spec or set(spec) - SPACE_FIELDS:
        raise ConfigError(
            f"{where}: parameter {name!r} must be {{choices: [...]}} or {{low, high, log?, step?}}, got {spec!r}."
        )
    if "choices" in spec:
        choices = spec["choices"]
        if not isinstance(choices, list) or not choices or set(spec) != {"choices"}:
            raise ConfigError(f"{where}: {name!r} needs a non-empty choices list and nothing else, got {spec!r}.")
        return Param(name, choices=tuple(choices))
    if "low" not in spec or "high" not in spec:
        raise ConfigError(f"{where}: range {name!r} needs both low and high, got {spec!r}.")
    low, high = _number(spec["low"], name, where), _number(spec["high"], name, where)
    if not low <= high or (spec.get("log") and low <= 0):
        raise ConfigError(f"{where}: range {name!r} needs low ≤ high (and low > 0 with log), got {spec!r}.")
    return Param(name, low=low, high=high, log=bool(spec.get("log", False)), step=spec.get("step"))


def _number(value: Any, name: str, where: str) -> int | float:
    """YAML 1.1 reads ``1e-3`` (no dot, or no exponent sign) as a string: such numbers are read as floats."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{where}: range {name!r} needs numbers for low and high, got {value!r}.") from None


def load_space(family: str, spaces_dir: str | Path | None = None) -> Space:
    """Read ``<spaces_dir>/<family>.yaml`` and refuse parameters the family does not have."""
    if spaces_dir is None:
        where, text = f"{family}.yaml (shipped)", packaged_config_text(f"spaces/{family}.yaml")
    else:
        path = Path(spaces_dir) / f"{family}.yaml"
        if not path.is_file():
            raise ConfigError(
                f"No search space for {family!r}: {str(path)!r} does not exist (spaces_dir={str(spaces_dir)!r})."
            )
        where, text = path.name, path.read_text()
    raw = yaml.safe_load(text) or {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{where} must map parameter names to their ranges.")
    valid = valid_params(family)
    unknown = sorted(set(raw) - valid)
    if unknown:
        raise ConfigError(f"{where}: unknown parameter(s) {unknown} for {family!r}. Valid: {', '.join(sorted(valid))}.")
    space = {name: parse_param(name, spec, where) for name, spec in raw.items()}
    check_bounds(family, space, where)
    return space


def check_bounds(family: str, space: Space, where: str) -> None:
    """Refuse a range or choice that every trial drawing it would fail with (e.g. ``lr``
    from 1e6 to 1e8): each end of a range and each choice is checked as the family's
    parameters check it, when the experiment starts rather than trial after trial."""
    for name, param in space.items():
        for value in param.choices if param.choices is not None else (param.low, param.high):
            problem = _invalid(family, name, value)
            if problem:
                allowed = (
                    f"choices {list(param.choices)}" if param.choices is not None else f"[{param.low}, {param.high}]"
                )
                raise ConfigError(
                    f"{where}: {name!r} {allowed} allows {value!r}, which every trial drawing it would fail with. "
                    f"{problem} Change the space before starting."
                )


def _invalid(family: str, name: str, value: Any) -> str | None:
    from workbench.models.params import TrainParams, from_values
    from workbench.models.registry import FAMILIES

    if CANDIDATES[family].deep:
        model = FAMILIES[family].params
        cls = model if name in model.__dataclass_fields__ else TrainParams
        try:
            from_values(cls, {name: value}, family=family)
        except ConfigError as exc:
            return str(exc)
        return None
    from workbench.models.baselines import parameter_problem

    return parameter_problem(family, {name: value})


def narrow(
    space: Space,
    hints: dict[str, Any],
    *,
    min_length: int,
    keep: dict[str, list[Any]] | None = None,
    max_downsample: int | None = None,
    batch_growth: int = 1,
) -> tuple[Space, list[str]]:
    """Intersect categorical choices with the profile's hints and with what the data allows.

    ``keep`` holds values a hint may not remove (those of the family's proven defaults);
    only the data (a kernel longer than the shortest sequence, a ``downsample`` beyond
    ``max_downsample``: averaging that would lose the series' detail) can. ``batch_growth``:
    large data's batch over the defaults' 16 (``scale.py``), by which the batch choices grow.
    Returns the narrowed space and one line per change, for the study's record.
    """
    out = dict(space)
    changes: list[str] = []
    for name, param in space.items():
        if param.choices is None:
            continue
        choices = list(param.choices)
        hinted = hints.get(name)
        if isinstance(hinted, list):
            protected = (keep or {}).get(name, [])
            kept = [c for c in choices if c in hinted or c in protected]
            if kept and kept != choices:
                changes.append(f"{name}: {choices} → {kept} (profile hint)")
                choices = kept
        if name == "kernel_size":
            fitting = [k for k in choices if k <= min_length]
            if fitting != choices:
                fitting = fitting or [min(min_length, min(choices))]
                changes.append(f"kernel_size: {choices} → {fitting} (shortest sequence has {min_length} steps)")
                choices = fitting
        if name == "downsample" and max_downsample is not None:
            fitting = [k for k in choices if k <= max_downsample] or [1]
            if fitting != choices:
                changes.append(
                    f"downsample: {choices} → {fitting} (averaging more steps would lose the series' detail "
                    "or leave too few steps: study/defaults.py)"
                )
                choices = fitting
        if name == "batch_size" and batch_growth > 1:
            grown = [int(c) * batch_growth for c in choices]
            changes.append(f"batch_size: {choices} → {grown} (large data: study/scale.py)")
            choices = grown
        out[name] = dataclasses.replace(param, choices=tuple(choices))
    return out, changes


def space_to_dict(space: Space) -> dict[str, dict[str, Any]]:
    return {name: p.to_dict() for name, p in space.items()}


def space_from_dict(values: dict[str, dict[str, Any]]) -> Space:
    return {
        name: Param(**{**spec, "choices": tuple(spec["choices"]) if "choices" in spec else None})
        for name, spec in values.items()
    }


def suggest(trial: optuna.Trial, space: Space) -> dict[str, Any]:
    """Ask the trial for one value of every parameter."""
    params: dict[str, Any] = {}
    for name, p in space.items():
        if p.choices is not None:
            params[name] = trial.suggest_categorical(name, list(p.choices))
        elif p.is_int:
            params[name] = trial.suggest_int(name, int(p.low), int(p.high), log=p.log, step=int(p.step or 1))  # type: ignore[arg-type]
        else:
            params[name] = trial.suggest_float(name, float(p.low), float(p.high), log=p.log, step=p.step)  # type: ignore[arg-type]
    return params
