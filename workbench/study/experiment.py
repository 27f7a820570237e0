"""An experiment: its config, data split and profile, one Optuna study per family in one storage.

The experiment's own study (named ``<experiment>``, no trials) holds what explains the
storage: the resolved config, the profile and its recommendation, library versions, the
data fingerprint, and later the evaluation and verdict (keys in ``attrs``). Each family has
``<experiment>/<family>`` with its search space in its user attributes.
"""

from __future__ import annotations

import platform
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pandas as pd

from workbench.candidates import CANDIDATES
from workbench.config import RESUMABLE_KEYS, ExperimentConfig, check_name, fixed_differences, make_config
from workbench.data.labels import OBVIOUS_TASKS
from workbench.errors import ConfigError, StudyError, interface, option, option_everywhere
from workbench.models import devices
from workbench.models.baselines import baseline_unavailable
from workbench.models.metrics import MAXIMIZE, check_metric
from workbench.profiling.data_profile import DataProfile, profile
from workbench.study.attrs import (
    ATTR_CONFIG,
    ATTR_DATA_NAMES,
    ATTR_FINGERPRINT,
    ATTR_HEARTBEAT,
    ATTR_METRIC,
    ATTR_PROFILE,
    ATTR_SCALE,
    ATTR_SKIPPED,
    ATTR_SPACE,
    ATTR_SPACE_CHANGES,
    ATTR_SPLIT,
    ATTR_TIME_LIMIT,
    ATTR_TIME_STOPPED,
    ATTR_VALIDATION,
    ATTR_VERSIONS,
)
from workbench.study.defaults import (
    enqueue_defaults,
    required_values,
)
from workbench.study.events import Echo, Note, ProfileStarted, emit
from workbench.study.experiment_data import ExperimentData, experiment_data, keep_in_run_folder
from workbench.study.scale import REFERENCE_BATCH, baseline_space
from workbench.study.space import Space, load_space, narrow, space_to_dict
from workbench.study.status import status_frame
from workbench.study.storage import (
    GRACE_S,
    HEARTBEAT_S,
    StorageFile,
    check_grace,
    check_storage_file,
    check_storage_url,
    local_file,
    open_storage,
)
from workbench.study.time_limit import TimeLimit


def study_name(experiment: str, family: str) -> str:
    return f"{experiment}/{family}"


def versions() -> dict[str, str]:
    import aeon
    import lightning
    import sklearn
    import torch

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "lightning": lightning.__version__,
        "optuna": optuna.__version__,
        "scikit-learn": sklearn.__version__,
        "aeon": aeon.__version__,
        "numpy": np.__version__,
        "pandas": pd.__version__,
        "device": "cuda: " + torch.cuda.get_device_name(0)
        if torch.cuda.is_available()
        else f"cpu: {platform.machine()}",
    }


# --------------------------------------------------------------------------- setup


@dataclass
class StoredExperiment:
    """An experiment as its storage holds it: enough to show its status and report on it.
    Opened by :func:`read_experiment` without loading data, profiling or writing anything."""

    config: ExperimentConfig
    storage: optuna.storages.BaseStorage
    metric: str
    profile: DataProfile | None
    families: list[str]  # runnable families, in order
    skipped: dict[str, str]
    validation: dict[str, Any]  # the validation plan's summary (ValidationPlan.to_dict)
    data_names: dict[str, Any]  # {"channels": [...], "positions": [...] or None}; empty before it was stored

    @property
    def maximize(self) -> bool:
        return MAXIMIZE[self.metric]

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.config.name!r}: {', '.join(self.families)} on {self.config.data!r}, "
            f"storage {self.config.storage_url!r})"
        )

    def _repr_html_(self) -> str:
        from workbench.display import card

        frame = status_frame(self)
        rows = frame.astype(object).where(frame.notna(), None).itertuples(index=False)
        lines = [f"data {self.config.data} · metric {self.metric} · storage {self.config.storage_url}"]
        if self.profile is not None:
            r = self.profile.recommendation
            lines.append(f"the profile recommends {r.family} ({r.confidence_label} confidence)")
        return card(f"Experiment {self.config.name}", lines, (list(frame.columns), rows))

    def study(self, family: str) -> optuna.Study:
        try:
            return optuna.load_study(study_name=study_name(self.config.name, family), storage=self.storage)
        except KeyError:  # Optuna's "Record does not exist": deleted by another tool (a dashboard's DELETE)
            raise StudyError(
                f"Experiment {self.config.name!r} has lost its {family} study: "
                f"{study_name(self.config.name, family)!r} is no longer in {self.config.storage_url!r} (deleted "
                "by another tool?), and with it every trial of that family. Restore the storage from a copy, or "
                f"start a new experiment ({option('name', f'{self.config.name}-2')})."
            ) from None

    def meta(self) -> optuna.Study:
        return optuna.load_study(study_name=self.config.name, storage=self.storage)

    def time_limit(self) -> TimeLimit | None:
        """The time limit of the experiment's current run, as the command that started it stored it
        (None without one): every process, wherever it runs, reads this one."""
        stored = self.meta().user_attrs.get(ATTR_TIME_LIMIT)
        return None if stored is None else TimeLimit(**stored)

    def time_stop(self, family: str, limit: TimeLimit | None) -> str | None:
        """Why the time limit ``limit`` ended the family's trials, as stored when it did; None if it did not."""
        stopped = self.study(family).user_attrs.get(ATTR_TIME_STOPPED)
        if limit is None or not stopped or stopped.get("deadline") != limit.deadline:
            return None  # never stopped, or by the limit of an earlier run
        return str(stopped["reason"])


@dataclass(repr=False)  # StoredExperiment's short repr, not one of every field
class Experiment(StoredExperiment):
    """An experiment ready to run trials and evaluate: with its data and fixed split."""

    data: ExperimentData
    opened: StorageFile | None = None  # the storage's file as this process opened it (local storages)

    def check_storage(self, what: str) -> None:
        """A StudyError that says what was lost if the storage file was deleted, moved, replaced or
        damaged since it was opened (``storage.check_storage_file``); ``what`` is about to be stored."""
        check_storage_file(self.opened, what=what)


def prepare(
    config: ExperimentConfig,
    *,
    heartbeat_s: int | None = None,
    grace_s: int | None = None,
    echo: Echo = print,
    from_store: bool = False,
) -> Experiment:
    """Create (or reopen) the experiment in its storage. Idempotent: a second run resumes.

    The heartbeat settings (``recovery.py``) default to those the experiment was started
    with, so that every worker judges staleness alike. ``from_store``: the data from the copy in
    the run folder where the experiment keeps one (large data, :func:`keep_in_run_folder`): what
    its workers, resumes and evaluations read, while the command that starts it loads the source."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # our progress lines replace Optuna's per-study logs
    check_storage_url(config.storage_url)  # before the data is read: a URL no study can use is refused at once
    data = experiment_data(config, from_store=from_store)
    if data.dataset.task_inferred and not data.dataset.task_inferred.startswith(OBVIOUS_TASKS):
        with interface("config"):
            emit(echo, Note(data.dataset.task_text()))
    metric = check_metric(data.dataset.task, config.metric)
    if metric == "loss" and config.baselines:
        raise ConfigError("metric 'loss' cannot score the baselines; use a metric such as 'bal_acc' or 'rmse'.")
    storage = open_storage(config.storage_url)
    meta, stored = _claim(config, storage)
    storage, meta, beat = _with_heartbeats(config, storage, meta, stored, heartbeat_s, grace_s)
    _check_resume(config, stored, data.fingerprint, echo)
    # Written before anything slow: an experiment killed while profiling still says what it was.
    meta.set_user_attr(ATTR_CONFIG, config.model_dump())
    meta.set_user_attr(ATTR_HEARTBEAT, beat)
    prof = _profile(config, data, meta, stored, echo)
    if ATTR_VERSIONS not in stored:  # the versions the experiment started with
        meta.set_user_attr(ATTR_VERSIONS, versions())
    meta.set_user_attr(ATTR_FINGERPRINT, data.fingerprint)
    data = keep_in_run_folder(config, data)
    _store_data_facts(meta, data, metric, echo)
    families, skipped = _family_studies(config, data, storage, metric, prof)
    meta.set_user_attr(ATTR_SKIPPED, skipped)
    return Experiment(
        config,
        storage,
        metric,
        prof,
        families,
        skipped,
        meta.user_attrs[ATTR_VALIDATION],
        meta.user_attrs[ATTR_DATA_NAMES],
        data,
        opened=StorageFile.of(config.storage_url),
    )


def _with_heartbeats(
    config: ExperimentConfig,
    storage: optuna.storages.BaseStorage,
    meta: optuna.Study,
    stored: dict[str, Any],
    heartbeat_s: int | None,
    grace_s: int | None,
) -> tuple[optuna.storages.BaseStorage, optuna.Study, dict[str, int]]:
    """The storage opened with the heartbeat settings given, else those the experiment started
    with, else the defaults; refused if a healthy worker's heartbeat cannot keep within them."""
    beat = stored.get(ATTR_HEARTBEAT, {})
    heartbeat_s, grace_s = heartbeat_s or beat.get("interval", HEARTBEAT_S), grace_s or beat.get("grace", GRACE_S)
    check_grace(heartbeat_s, grace_s)
    if (heartbeat_s, grace_s) != (HEARTBEAT_S, GRACE_S):
        storage = open_storage(config.storage_url, heartbeat_s=heartbeat_s, grace_s=grace_s)
        meta = optuna.load_study(study_name=config.name, storage=storage)
    return storage, meta, {"interval": heartbeat_s, "grace": grace_s}


def _check_resume(config: ExperimentConfig, stored: dict[str, Any], fingerprint: str, echo: Echo) -> None:
    """A resume runs on the same data with settings that keep its trials comparable; what it
    may change (the budget, the families) is said."""
    if ATTR_FINGERPRINT in stored and stored[ATTR_FINGERPRINT] != fingerprint:
        raise StudyError(
            f"Experiment {config.name!r} in this storage was run on different data (fingerprint "
            f"{stored[ATTR_FINGERPRINT]}, now {fingerprint}). Use a new experiment name or storage."
        )
    if ATTR_CONFIG not in stored:
        return
    previous = make_config(stored[ATTR_CONFIG])
    if differences := fixed_differences(previous, config):
        raise ConfigError(_changed_settings(config.name, differences))
    if previous.budget != config.budget:
        emit(
            echo,
            Note(f"note: the budget changed since the last run: {_budget_text(previous)} → {_budget_text(config)}"),
        )
    if previous.all_families != config.all_families:
        emit(
            echo,
            Note(f"note: the families changed since the last run: {previous.all_families} → {config.all_families}"),
        )


def _profile(
    config: ExperimentConfig, data: ExperimentData, meta: optuna.Study, stored: dict[str, Any], echo: Echo
) -> DataProfile:
    """The profile of the training split: as stored, or run now (within its budget) and stored."""
    if ATTR_PROFILE in stored:
        return DataProfile.from_dict(stored[ATTR_PROFILE])
    if (budget_s := profile_budget(config)) > 0:
        emit(echo, ProfileStarted(config.data, budget_s))
        prof = profile(data.train, budget_s=budget_s, seed=config.seed)
    else:
        prof = profile(data.train, model_test=False, seed=config.seed)
    meta.set_user_attr(ATTR_PROFILE, prof.to_dict())
    return prof


def _store_data_facts(meta: optuna.Study, data: ExperimentData, metric: str, echo: Echo) -> None:
    """What every later reader needs of the data without loading it: the metric, the split, the
    validation plan, the recipe's scale (also said) and the channel and position names."""
    meta.set_user_attr(ATTR_METRIC, metric)
    meta.set_user_attr(ATTR_SPLIT, data.split)
    meta.set_user_attr(ATTR_VALIDATION, data.trial.plan.to_dict())
    meta.set_user_attr(ATTR_SCALE, data.scale.notes())
    for line in data.scale.notes():
        emit(echo, Note(line))
    names = {"channels": list(data.dataset.channel_names), "positions": data.dataset.position_names}
    meta.set_user_attr(ATTR_DATA_NAMES, {k: list(v) if v is not None else None for k, v in names.items()})


def _family_studies(
    config: ExperimentConfig,
    data: ExperimentData,
    storage: optuna.storages.BaseStorage,
    metric: str,
    prof: DataProfile | None,
) -> tuple[list[str], dict[str, str]]:
    """One study per family that can run on this data (created, or reopened as it is), and the
    reasons of those that cannot. A new study's space is fixed at its creation and its proven
    defaults queued first."""
    families, skipped = [], {}
    direction = optuna.study.StudyDirection.MAXIMIZE if MAXIMIZE[metric] else optuna.study.StudyDirection.MINIMIZE
    for family in config.all_families:
        reason = baseline_unavailable(family, data.dataset)
        if reason:
            skipped[family] = reason
            continue
        study = optuna.create_study(
            study_name=study_name(config.name, family), storage=storage, direction=direction, load_if_exists=True
        )
        if ATTR_SPACE not in study.user_attrs:  # fixed at creation: a resumed study keeps its space
            sizes = {
                **data.default_sizes,
                "gpu": devices.has_gpu(),
            }  # LITE joins the defaults where trials train on a GPU
            space, changes = _family_space(config, data, family, prof, sizes)
            study.set_user_attr(ATTR_SPACE, space_to_dict(space))
            study.set_user_attr(ATTR_SPACE_CHANGES, changes)
            enqueue_defaults(study, family, space, config, **sizes)
        families.append(family)
    return families, skipped


def _family_space(
    config: ExperimentConfig, data: ExperimentData, family: str, prof: DataProfile | None, sizes: dict[str, Any]
) -> tuple[Space, list[str]]:
    """A new study's search space: the shipped (or the user's) space, narrowed by the profile's
    hints and the data's size, never past the family's proven defaults; and what was changed."""
    space = load_space(family, config.spaces_dir)
    if CANDIDATES[family].deep:
        hints = prof.recommendation.hints if config.use_profile_hints and prof is not None else {}
        return narrow(
            space,
            hints,
            min_length=int(data.dataset.lengths.min()),
            keep=required_values(family, **sizes),
            max_downsample=sizes["downsample"],
            batch_growth=(data.scale.batch_size or REFERENCE_BATCH) // REFERENCE_BATCH,
        )
    if data.scale.large:
        return baseline_space(family, space)
    return space, []


PROFILE_SHARE = 0.05  # of a time limit, the profile's budget at most: the studies need the time


def profile_budget(config: ExperimentConfig) -> float:
    """The profile's budget: ``profile_budget_s``, within its share of the experiment's time limit."""
    if config.time_limit is None:
        return config.profile_budget_s
    return min(config.profile_budget_s, PROFILE_SHARE * config.time_limit)


CLAIM_WAIT_S = 10.0  # how long a second command waits for the first to store the config of a new experiment


def _claim(config: ExperimentConfig, storage: optuna.storages.BaseStorage) -> tuple[optuna.Study, dict[str, Any]]:
    """The experiment's own study and what it has stored. Creating a study is atomic (its
    name is unique in the storage), so when two commands start the same new experiment at
    once, exactly one creates it and writes its config; the other waits for that config and
    is then checked against it like any resume."""
    try:
        return optuna.create_study(study_name=config.name, storage=storage), {}
    except optuna.exceptions.DuplicatedStudyError:
        pass
    meta = optuna.load_study(study_name=config.name, storage=storage)
    deadline = time.monotonic() + CLAIM_WAIT_S
    while ATTR_CONFIG not in (stored := meta.user_attrs) and time.monotonic() < deadline:
        time.sleep(0.2)  # the creator writes the config right after creating the study
        meta = optuna.load_study(study_name=config.name, storage=storage)
    return meta, stored  # no config after the wait: its creator died first, and this run writes it


def _changed_settings(name: str, differences: list[str]) -> str:
    return (
        f"Experiment {name!r} was started with other settings, and its trials must stay comparable: "
        + "; ".join(differences[:12])
        + (f"; and {len(differences) - 12} more" if len(differences) > 12 else "")
        + f". A resume may change only {', '.join(RESUMABLE_KEYS)}. To run these settings, start a new experiment "
        f"({option_everywhere('name', f'{name}-2')}); to continue {name!r}, run it with the settings it "
        f"started with (`workbench worker {name} --storage <url>` reads them from its storage)."
    )


def _budget_text(config: ExperimentConfig) -> str:
    b = config.budget
    parts = [f"{b.trials} trials" if b.trials else "", f"{b.time_s:g} s" if b.time_s else ""]
    parts.append(f"{b.epochs} epochs" if b.epochs else "")
    return " / ".join(p for p in parts if p) + " per family"


def open_experiment(
    name: str,
    storage_url: str,
    *,
    runs_dir: str | Path | None = None,
    heartbeat_s: int | None = None,
    grace_s: int | None = None,
    echo: Echo = print,
) -> Experiment:
    """Reopen an experiment to run or evaluate it, from its storage alone (what ``workbench
    worker`` does): the data is loaded again, and checked against the stored fingerprint.
    Its files go to the run folder of the storage it was opened from (:func:`runs_dir_of`)."""
    stored = read_experiment(name, storage_url, runs_dir=runs_dir)
    return prepare(stored.config, heartbeat_s=heartbeat_s, grace_s=grace_s, echo=echo, from_store=True)


def runs_dir_of(name: str, storage_url: str, runs_dir: str | Path | None, stored: str) -> str:
    """Where an experiment's files (results, report, fold models) belong when it is reopened:
    beside the storage it was opened from when that is its own ``<runs>/<name>/study.db`` (a
    copy of a runs folder, or a moved one, writes into itself, never into the original); else the
    runs folder the caller names; else the one it was started with."""
    path = local_file(storage_url)
    if path is not None and path.name == "study.db" and path.parent.name == name:
        return str(path.parent.parent)
    return str(runs_dir) if runs_dir is not None else stored


def read_experiment(name: str, storage_url: str, *, runs_dir: str | Path | None = None) -> StoredExperiment:
    """Open an experiment read-only, for ``status``, ``report`` and ``dashboard``: it never
    loads the data, never profiles and never writes to the storage (a missing SQLite file is
    an error, never created), so it is instant while a study runs. ``runs_dir``: see
    :func:`runs_dir_of`."""
    check_name(name)
    path = local_file(storage_url)
    if path is not None and not path.is_file():
        runs_dir = path.parent.parent
        raise StudyError(
            f"No experiment {name!r}: {path} does not exist. Experiments in {runs_dir}: "
            f"{local_experiments(runs_dir) or 'none'}. Start one with `workbench study <data or config.yaml>`."
        )
    storage = open_storage(storage_url, read_only=True)
    try:
        meta = optuna.load_study(study_name=name, storage=storage)
    except KeyError:
        names = sorted({s.study_name.split("/")[0] for s in optuna.get_all_study_summaries(storage)})
        raise StudyError(f"No experiment {name!r} in {storage_url!r}. Experiments there: {names or 'none'}.") from None
    stored = meta.user_attrs
    if ATTR_CONFIG not in stored or ATTR_PROFILE not in stored:
        how = (
            f"`workbench study {stored[ATTR_CONFIG]['data']} --name {name}` (or its config file)"
            if ATTR_CONFIG in stored
            else "`workbench study` with its data or config"
        )
        raise StudyError(
            f"Experiment {name!r} was interrupted before it started (it has no "
            f"{'profile' if ATTR_CONFIG in stored else 'config'} yet); run {how} to continue."
        )
    folder = runs_dir_of(name, storage_url, runs_dir, stored[ATTR_CONFIG].get("runs_dir", "runs"))
    config = make_config(stored[ATTR_CONFIG], {"storage": storage_url, "runs_dir": folder})
    skipped = stored.get(ATTR_SKIPPED, {})
    return StoredExperiment(
        config,
        storage,
        stored[ATTR_METRIC],
        DataProfile.from_dict(stored[ATTR_PROFILE]),
        [f for f in config.all_families if f not in skipped],
        skipped,
        stored.get(ATTR_VALIDATION, {}),
        stored.get(ATTR_DATA_NAMES, {}),
    )


def local_experiments(runs_dir: Path) -> list[str]:
    """The experiments in a runs folder: its sub-folders holding a study.db."""
    return sorted(p.parent.name for p in Path(runs_dir).glob("*/study.db"))
