"""Typed experiment configs: YAML → validated object; unknown keys are errors.

.. code-block:: yaml

    name: gunpoint            # the experiment; runs/<name>/ holds its storage and results
    data: GunPoint            # a built-in dataset or a file path
    families: [mlp, conv1d, hybrid]
    baselines: [linear, gbm, minirocket]
    budget: {trials: 20}      # per family: trials, time_s or epochs
"""

from __future__ import annotations

import os
import re
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator

from workbench.candidates import BASELINES, DEEP_FAMILIES
from workbench.errors import ConfigError, option_everywhere, short_repr

# An experiment name is one folder under runs_dir: '.', '..' and hidden names would leave it.
NAME_PATTERN = r"^[A-Za-z0-9_-][A-Za-z0-9_.-]*$"


UNITS = {"s": 1, "m": 60, "min": 60, "h": 3600}
MAX_TIME_LIMIT_S = 365 * 86400.0


def parse_duration(value: str | float | int) -> float:
    """Seconds from ``600``, ``"90s"``, ``"10m"``, ``"1.5h"`` or ``"1h30m"``."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    else:
        text = str(value).strip().lower().replace(" ", "")
        parts = re.findall(r"(\d+(?:\.\d+)?)(h|min|m|s)?", text)
        if not parts or "".join(n + u for n, u in parts) != text:
            raise ConfigError(f"time_limit {value!r} is not a duration: write e.g. 600, 90s, 10m or 1h30m.")
        seconds = sum(float(n) * UNITS[u or "s"] for n, u in parts)
    if not seconds > 0:
        raise ConfigError(f"time_limit must be positive, but got {short_repr(value, 40)}.")
    if not seconds <= MAX_TIME_LIMIT_S:  # inf, NaN, or a number of 310 digits
        raise ConfigError(
            f"time_limit {short_repr(value, 40)} is beyond any study ({MAX_TIME_LIMIT_S / 86400:.0f} days at most): "
            "give a duration such as 10m or 2h, or leave the time limit out to run the whole trial budget."
        )
    return seconds


def expand_path(path: str) -> str:
    """``~`` and ``$VARS`` in a path expanded, as a shell would (a folder named '~' is never meant)."""
    return os.path.expandvars(os.path.expanduser(path))


def check_name(name: str) -> str:
    """An experiment name is a single folder name: no path, no '.' or '..' (``NAME_PATTERN``)."""
    if not re.fullmatch(NAME_PATTERN, name):
        raise ConfigError(
            f"Experiment name {short_repr(name, 60)} is not a plain folder name: use letters, digits, '_', '-' and "
            f"'.', not starting with '.' (e.g. {option_everywhere('name', 'gunpoint-2')})."
        )
    return name


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Budget(_Strict):
    """The same budget for every family, counted across runs and workers."""

    trials: int | None = Field(default=20, ge=1, description="finished trials per family")
    time_s: float | None = Field(default=None, gt=0, description="summed trial wall time per family")
    epochs: int | None = Field(default=None, ge=1, description="summed training epochs per family")

    @model_validator(mode="after")
    def _one_at_least(self) -> Budget:
        if self.trials is None and self.time_s is None and self.epochs is None:
            raise ValueError("budget needs at least one of trials, time_s or epochs")
        return self


class Sampler(_Strict):
    name: Literal["tpe", "random"] = "tpe"
    n_startup_trials: int | None = Field(default=None, ge=1, description="random trials before TPE; default budget/4")


class Pruner(_Strict):
    name: Literal["median", "hyperband", "none"] = "median"
    n_startup_trials: int = Field(default=3, ge=0)
    n_warmup_steps: int = Field(default=5, ge=0)


class Validation(_Strict):
    """How a trial is validated on the training split (the test split is never used)."""

    strategy: Literal["auto", "holdout", "kfold", "group", "time"] = Field(
        default="auto",
        description="auto: holdout for large data, k-fold for small, group when the data has groups, "
        "time-ordered (time) for windows of long recordings",
    )
    fraction: float = Field(default=0.25, gt=0, lt=1, description="holdout: the validation share")
    folds: int = Field(default=5, ge=2, description="kfold/group: folds per repeat")
    repeats: int | None = Field(default=None, ge=1, description="kfold: repeats of the folds; default 1")
    min_per_class: int = Field(
        default=25,
        ge=1,
        description="auto: holdout only if its validation part holds at least this many of the rarest class",
    )


class Evaluation(_Strict):
    top_k: int = Field(default=2, ge=1, description="best configurations of each family re-trained")
    seeds: int = Field(default=5, ge=2, description="seeds per configuration (paired across families)")
    replicates: Literal["auto", "seeds", "folds", "parts"] = Field(
        default="auto",
        description="seeds re-trains on the whole training split; after a k-fold study, folds scores the best "
        "trial's fold models on the test split instead (at most `seeds` of them; baselines re-fitted per fold): "
        "2-5x cheaper, but models of 4/5 of the data score 0-4.5 points lower; parts scores the models the study "
        "trained on `seeds` disjoint parts of the test split (no re-training); auto: parts on large data, else seeds",
    )
    test_fraction: float = Field(
        default=0.25, gt=0, lt=1, description="held-out test share when the data has no official split"
    )


class ExperimentConfig(_Strict):
    name: str
    data: str
    test_data: str | None = Field(
        default=None, description="a test split of your own: a file read like data (its samples are never studied)"
    )
    split_column: str | None = Field(default=None, description="CSV/Parquet: the column that says train or test")
    layout: str | None = None
    target: str | None = None
    task: Literal["binary", "multiclass", "regression", "per_step"] | None = Field(
        default=None, description="what the labels are; default: inferred from them (and said)"
    )
    window: int | None = Field(default=None, ge=1, description="cut a long recording into windows of this many steps")
    step: int | None = Field(default=None, ge=1, description="steps between windows (default: the window size)")
    window_label: Literal["last", "majority", "mean", "per_step"] = "last"
    time_column: str | None = None
    group_column: str | None = Field(default=None, description="windows: the recording id; otherwise a group")
    check_layout: bool = Field(
        default=True, description="false: accept many channels of very short sequences (a swapped layout, usually)"
    )
    impute: Literal["ffill", "zero"] | None = Field(
        default=None, description="fill NaN values: ffill (the last value, forward) or zero; default: refuse them"
    )
    families: list[str] = Field(default_factory=lambda: list(DEEP_FAMILIES))
    baselines: list[str] = Field(default_factory=lambda: list(BASELINES))
    budget: Budget = Budget()
    time_limit: float | None = Field(
        default=None,
        description="one wall-clock budget for the whole experiment (studies, baselines, evaluation), in seconds "
        "or as '10m', '90s', '1h30m'; spread from measured costs",
    )
    stop_when_done: bool = Field(
        default=True,
        description="end a family's search when more trials are unlikely to beat the validation noise "
        "(workbench/study/stopping.py); false runs the whole trial budget",
    )
    metric: str | None = None
    max_epochs: int | None = Field(
        default=None,
        ge=1,
        description="epochs per run at most; unset: 60, lengthened on small data to min_steps optimiser steps",
    )
    min_steps: int = Field(
        default=1000,
        ge=0,
        description="runs without max_epochs are lengthened to at least this many optimiser steps (tiny data)",
    )
    patience: int | None = Field(default=15, ge=1)
    trial_cost_cap: float | None = Field(
        default=3.0,
        gt=0,
        description="a sampled deep configuration whose training would cost more than this many times the "
        "family's first proven default's (timed on the CPU that trains it) is not trained; null: no cap",
    )
    validation: Validation = Validation()
    storage: str | None = None
    runs_dir: str = "runs"
    sampler: Sampler = Sampler()
    pruner: Pruner = Pruner()
    seed: int = Field(default=0, ge=0, le=2**32 - 1, description="seeds the split, the folds, the sampler and training")
    evaluation: Evaluation = Evaluation()
    use_profile_hints: bool = True
    start_from_defaults: bool = True  # each deep family's first trials: its proven defaults (study/defaults.py)
    profile_budget_s: float = Field(default=30.0, ge=0)
    spaces_dir: str | None = None  # default: the spaces shipped inside the package (workbench/configs/spaces)

    def load_options(self) -> dict[str, Any]:
        """How ``data`` is read: the keyword arguments of :func:`workbench.load`."""
        return {
            "test": self.test_data,
            "split_column": self.split_column,
            "layout": self.layout,
            "target": self.target,
            "task": self.task,
            "window": self.window,
            "step": self.step,
            "window_label": self.window_label if self.window is not None else None,
            "time_col": self.time_column,
            "group_col": self.group_column,
            "impute": self.impute,
            "check_layout": None if self.check_layout else False,
        }

    @field_validator("time_limit", mode="before")
    @classmethod
    def _duration(cls, v: Any) -> float | None:
        return None if v is None else parse_duration(v)

    @field_validator("name")
    @classmethod
    def _folder_name(cls, v: str) -> str:
        return check_name(v)

    @field_validator("runs_dir", "spaces_dir", "data", "test_data")
    @classmethod
    def _expanded_path(cls, v: str | None) -> str | None:
        return None if v is None else expand_path(v)

    @field_validator("storage")
    @classmethod
    def _expanded_storage(cls, v: str | None) -> str | None:
        for prefix in ("sqlite:///", "journal:"):
            if v is not None and v.startswith(prefix) and not v.startswith("sqlite:////"):
                return prefix + expand_path(v.removeprefix(prefix))
        return v

    @field_validator("families", "baselines")
    @classmethod
    def _known_names(cls, v: list[str], info: ValidationInfo) -> list[str]:
        valid = DEEP_FAMILIES if info.field_name == "families" else BASELINES
        unknown = [name for name in v if name not in valid]
        if unknown:
            raise ValueError(
                f"unknown {info.field_name} {short_repr(unknown)}; valid {info.field_name}: {', '.join(valid)}"
            )
        return v

    @property
    def run_dir(self) -> Path:
        return Path(self.runs_dir) / self.name

    @property
    def storage_url(self) -> str:
        """The storage, defaulting to an SQLite file in the run folder (nothing to start)."""
        return self.storage or default_storage_url(self.runs_dir, self.name)

    @property
    def all_families(self) -> list[str]:
        return [*self.families, *self.baselines]


def default_storage_url(runs_dir: str | Path, name: str) -> str:
    """An experiment's storage when none is given: ``runs/<name>/study.db``."""
    return f"sqlite:///{(Path(runs_dir) / check_name(name) / 'study.db').as_posix()}"


# What a resumed experiment may change. Every other key fixes what a trial means (the data and how
# it is read, the spaces, epochs and steps, validation, metric, sampler, pruner, seed …): the
# experiment keeps the values it started with, so that its trials stay comparable in one history
# and one leaderboard. A resume with other values is refused, with the differences listed.
RESUMABLE_KEYS = (
    "budget",  # raise it to run more trials (or lower it to stop sooner)
    "time_limit",  # each run of the experiment has its own wall-clock budget
    "stop_when_done",  # turn the stopping rule off to spend the whole trial budget
    "families",  # add or drop a family; each family's study keeps its own space
    "baselines",
    "evaluation.top_k",  # the final evaluation re-trains; it never changes a trial
    "evaluation.seeds",
    "evaluation.replicates",
    "storage",  # where the experiment is, not what it is
    "runs_dir",
    "profile_budget_s",  # the profile is stored when the experiment starts and reused
    "trial_cost_cap",  # decides which sampled configurations are trained, never what a trained one scores
)


def fixed_differences(started: ExperimentConfig, now: ExperimentConfig) -> list[str]:
    """The settings that differ between the config an experiment started with and ``now``,
    leaving out those a resume may change (:data:`RESUMABLE_KEYS`): ``["max_epochs: 200 → 5", …]``."""
    before, after = _flatten(started.model_dump()), _flatten(now.model_dump())
    return [
        f"{key}: {short_repr(before.get(key), 40)} → {short_repr(after.get(key), 40)}"
        for key in sorted(before.keys() | after.keys())
        if before.get(key) != after.get(key) and not _resumable(key)
    ]


def _resumable(key: str) -> bool:
    return any(key == k or key.startswith(k + ".") for k in RESUMABLE_KEYS)


def _flatten(values: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, dict):
            flat |= _flatten(value, f"{prefix}{key}.")
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _valid_keys(model: type[BaseModel], prefix: str = "") -> list[str]:
    return [f"{prefix}{k}" for k in model.model_fields]


def _explain(exc: ValidationError, model: type[BaseModel]) -> ConfigError:
    lines = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "config"
        if err["type"] == "extra_forbidden":
            parent: type[BaseModel] = model
            for part in err["loc"][:-1]:
                annotation = parent.model_fields[str(part)].annotation
                if isinstance(annotation, type) and issubclass(annotation, BaseModel):
                    parent = annotation
            lines.append(f"unknown key {where!r}; valid keys here: {', '.join(_valid_keys(parent))}")
        elif err["type"] == "value_error":  # our own validators' messages say what was given and the fix
            lines.append(f"{where}: {str(err['msg']).removeprefix('Value error, ')}")
        else:
            lines.append(f"{where}: {err['msg']} (got {short_repr(err.get('input'))})")
    return ConfigError("Invalid experiment config:\n  " + "\n  ".join(lines[:MAX_LISTED]))


MAX_LISTED = 20  # problems listed in one error; a hostile or machine-made config can hold thousands


def make_config(values: dict[str, Any], overrides: dict[str, Any] | None = None) -> ExperimentConfig:
    """Validate a config dict; ``overrides`` (e.g. CLI flags) win, nested with dots: ``budget.trials``.

    ``data`` (and ``test_data``) may be data in memory, in any form :func:`workbench.load` reads:
    a :class:`~workbench.Dataset`, an ``(X, y)`` pair (with ``layout``) or a DataFrame (with
    ``target``). It is written once into the experiment's run folder (:func:`keep_in_memory_data`),
    and the config names that folder: every worker, resume and evaluation read those bytes."""
    merged = _deep_copy(values)
    if "validation_fraction" in merged:  # stored before validation strategies: resume as it ran, one holdout
        merged["validation"] = {"strategy": "holdout", "fraction": merged.pop("validation_fraction")}
    for key, value in (overrides or {}).items():
        if value is None:
            continue
        target = merged
        *parents, leaf = key.split(".")
        for p in parents:
            target = target.setdefault(p, {})
        target[leaf] = value
    if not isinstance(merged.get("data", ""), str | Path) or not isinstance(merged.get("test_data") or "", str | Path):
        merged = keep_in_memory_data(merged)
    try:
        return ExperimentConfig(**merged)
    except ValidationError as exc:
        raise _explain(exc, ExperimentConfig) from None


def study_config(source: Any, *, name: str | None = None, test: Any = None, **values: Any) -> ExperimentConfig:
    """A study's config from what a notebook has at hand: a config (``values`` override its keys),
    a dict of config keys, or the data itself, in any form :func:`workbench.load` reads (a
    :class:`~workbench.Dataset`, an ``(X, y)`` pair, a DataFrame, a file or a built-in name), with
    config keys as keyword arguments. ``test``: a test split of your own (``test_data``)."""
    overrides = {"name": name, "test_data": test, **values}
    if isinstance(source, ExperimentConfig):
        return make_config(source.model_dump(), overrides) if any(v is not None for v in overrides.values()) else source
    if isinstance(source, dict):
        return make_config(source, overrides)
    if isinstance(source, str | Path) and name is None:
        overrides["name"] = name_from(str(source))
    return make_config({"data": source}, overrides)


def name_from(source: str) -> str:
    """An experiment name from a data file's name: 'my data.csv' → 'my-data' (a folder name)."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", Path(source).stem).strip("-.")
    if not name:
        raise ConfigError(
            f"No experiment name can be made from {source!r}: pass one ({option_everywhere('name', 'my-data')})."
        )
    return name


SOURCE_FOLDER = "source"  # runs/<name>/source/: the data an experiment was given in memory


def keep_in_memory_data(values: dict[str, Any]) -> dict[str, Any]:
    """``values`` with data in memory written to ``<runs_dir>/<name>/source/`` (``data/store.py``)
    and named by that folder. The same data again reuses it; other data under the same name is
    refused, as a conflicting config is: nothing stored is overwritten."""
    from workbench.data import load
    from workbench.data.store import is_stored_dataset, read_meta, write_dataset

    data, test = values.get("data"), values.get("test_data")
    options = {k: values.get(k) for k in ("layout", "target", "task", "impute", "split_column")}
    options["time_col"], options["group_col"] = values.get("time_column"), values.get("group_column")
    if isinstance(data, tuple) and len(data) == 2:
        data, options["y"] = data
    if isinstance(test, tuple) and len(test) == 2 and not isinstance(test[0], str):
        test = (test[0], test[1])
    ds = load(data, test=test, **options)
    name = values.get("name") or ds.name
    folder = Path(expand_path(str(values.get("runs_dir") or "runs"))) / check_name(str(name)) / SOURCE_FOLDER
    fingerprint = ds.fingerprint()
    if is_stored_dataset(folder) and read_meta(folder).get("fingerprint") != fingerprint:
        raise ConfigError(
            f"Experiment {name!r} holds other data (in {folder}, fingerprint {read_meta(folder).get('fingerprint')}, "
            f"now {fingerprint}): an experiment keeps the data it started with. Give this data a new name "
            f"(name={str(name) + '-2'!r}), or delete {folder.parent} to start that experiment anew."
        )
    if not is_stored_dataset(folder):
        write_dataset(ds, folder, fingerprint=fingerprint)
    return {**values, "name": name, "data": str(folder), "test_data": None}


def load_config(path: str | Path, overrides: dict[str, Any] | None = None) -> ExperimentConfig:
    """Read an experiment YAML with ``yaml.safe_load`` and validate it strictly."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"Config file {str(p)!r} does not exist.")
    return config_from_yaml(p.read_text(), p.name, overrides)


MAX_CONFIG_BYTES = 1 << 20  # an experiment config is a page of YAML; 1 MiB is far beyond any real one


def config_from_yaml(text: str, where: str, overrides: dict[str, Any] | None = None) -> ExperimentConfig:
    if len(text) > MAX_CONFIG_BYTES:
        raise ConfigError(
            f"{where} holds {len(text):,} characters; an experiment config is at most {MAX_CONFIG_BYTES:,}."
        )
    try:
        _refuse_aliases(text, where)
        values = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{where} is not valid YAML: {short_repr(str(exc), 300)}") from exc
    if not isinstance(values, dict):
        raise ConfigError(f"{where} must hold a mapping of config keys, got {type(values).__name__}.")
    return make_config(values, overrides)


def _refuse_aliases(text: str, where: str) -> None:
    """Refuse YAML aliases (``*name``) before anything is built: nested anchors expand
    exponentially (a "billion laughs" config of a few lines exhausts memory), and no
    experiment config needs them. Scanning the tokens reads the text once, expanding nothing."""
    for token in yaml.scan(text, Loader=yaml.SafeLoader):
        if isinstance(token, yaml.AliasToken):
            line = token.start_mark.line + 1
            raise ConfigError(
                f"{where} line {line}: YAML aliases (*{token.value[:40]}) are not allowed in an experiment "
                "config: write the values out in full."
            )


def packaged_config_text(name: str) -> str:
    """A config the package ships (``demo.yaml``, ``spaces/<family>.yaml``), read through
    importlib.resources so that it is found in a wheel install as in a checkout. The
    checkout's ``configs/`` holds the same files for users to copy and edit."""
    resource = resources.files("workbench").joinpath("configs", *name.split("/"))
    if not resource.is_file():
        raise ConfigError(f"The workbench ships no config {name!r}.")
    return resource.read_text()


def _deep_copy(d: dict[str, Any]) -> dict[str, Any]:
    return {k: _deep_copy(v) if isinstance(v, dict) else v for k, v in d.items()}
