"""Studies: one Optuna study per family in one storage, equal budgets, resume, workers.

The experiment's own study (named ``<experiment>``, no trials) holds what explains
the storage: the resolved config, the profile and its recommendation, library
versions, the data fingerprint, and later the evaluation and verdict. Each family
has ``<experiment>/<family>`` with its search space in its user attributes.
"""

from __future__ import annotations

import hashlib
import logging
import os
import platform
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pandas as pd
from optuna.storages import JournalStorage, RDBStorage, RetryHeartbeatStaleTrialCallback
from optuna.storages.journal import JournalFileBackend
from optuna.trial import TrialState

from workbench.config import DEEP_FAMILIES, NAME_PATTERN, ExperimentConfig, make_config
from workbench.data.dataset import Dataset
from workbench.data.sources import load
from workbench.errors import ConfigError, StudyError
from workbench.models.system import MAXIMIZE, check_metric
from workbench.models.train import default_threads
from workbench.profiling.profile import DataProfile, profile
from workbench.study import attrs
from workbench.study.baselines import baseline_unavailable
from workbench.study.budget import BudgetState, budget_state
from workbench.study.defaults import default_configs, fit_to_space, required_values
from workbench.study.objective import Objective, OverBudget, TrialData
from workbench.study.space import Space, load_space, narrow, space_from_dict, space_to_dict
from workbench.study.validation import plan_validation

HEARTBEAT_S = 30  # RDB storages: a trial whose heartbeat stops for GRACE_S is failed and re-queued
GRACE_S = 90
ATTR_CONFIG, ATTR_PROFILE, ATTR_VERSIONS, ATTR_FINGERPRINT = "config", "profile", "versions", "data_fingerprint"
ATTR_METRIC, ATTR_SPACE, ATTR_SPACE_CHANGES, ATTR_SKIPPED = "metric", "space", "space_changes", "skipped"
ATTR_SPLIT, ATTR_VALIDATION, ATTR_HEARTBEAT = "split", "validation", "heartbeat"


# --------------------------------------------------------------------------- storage


def open_storage(url: str, *, heartbeat_s: int = HEARTBEAT_S, grace_s: int = GRACE_S) -> optuna.storages.BaseStorage:
    """SQLite (default), any RDB URL (PostgreSQL for distributed runs) or a journal file.

    Server databases get heartbeats, so a trial whose worker died on any machine is
    re-queued after ``grace_s``. Local files (SQLite, journal) are swept on start instead
    (see :func:`requeue_dead_trials`): immediate, and no heartbeat write per trial.
    """
    path = local_file(url)
    if path is not None:
        _make_folder(path.parent)
    if url.startswith("journal:"):
        return JournalStorage(JournalFileBackend(str(path)))
    if "://" not in url:
        raise ConfigError(
            f"Unknown storage {url!r}. Use 'sqlite:///runs/exp/study.db', 'postgresql://user@host:5432/db' "
            "or 'journal:runs/exp/study.log'."
        )
    url = _postgres_driver(url)
    kwargs: dict[str, Any] = {}
    if path is not None:
        kwargs["engine_kwargs"] = {"connect_args": {"timeout": 60}}  # several local workers share the file
    else:
        kwargs.update(
            heartbeat_interval=heartbeat_s, grace_period=grace_s, heartbeat_stale_trial_callback=_retry_once()
        )
    try:
        # Two commands that create the same new storage at once race to create its tables
        # ("table studies already exists"): one creates it at a time (a lock file beside a
        # local file), and a server database is retried, as the loser then finds it made.
        with _creation_lock(path):
            storage = _retry(lambda: _rdb_storage(url, kwargs), attempts=1 if path is not None else 5)
    except Exception as exc:  # unreachable server, missing driver, bad URL
        raise StudyError(f"Cannot open storage {url!r}: {type(exc).__name__}: {exc}") from exc
    if path is not None:
        _fast_sqlite(storage)
    return storage


def _postgres_driver(url: str) -> str:
    """``postgresql://`` (SQLAlchemy 2.1: psycopg 3, which the workbench depends on) also for
    the short ``postgres://`` form and for ``+psycopg2`` URLs when psycopg2 is not installed."""
    import importlib.util

    prefixes = ["postgres://"] + (["postgresql+psycopg2://"] if importlib.util.find_spec("psycopg2") is None else [])
    for prefix in prefixes:
        if url.startswith(prefix):
            return "postgresql://" + url.removeprefix(prefix)
    return url


def local_file(url: str) -> Path | None:
    """The file of a local storage (SQLite or journal); None for a server database."""
    if url.startswith("sqlite:///"):
        return Path(url.removeprefix("sqlite:///"))
    if url.startswith("journal:"):
        return Path(url.removeprefix("journal:").removeprefix("//"))
    return None


def _make_folder(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StudyError(
            f"Cannot create the run folder {folder}: {exc.strerror}. Choose a writable folder with --runs-dir "
            "(runs_dir in the config) or --storage."
        ) from exc


def _rdb_storage(url: str, kwargs: dict[str, Any]) -> RDBStorage:
    with warnings.catch_warnings():  # heartbeats are "experimental" since Optuna 2.8; we rely on them
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return RDBStorage(url, **kwargs)


def _retry(make: Callable[[], RDBStorage], *, attempts: int) -> RDBStorage:
    import sqlalchemy.exc

    for attempt in range(attempts):
        try:
            return make()
        except (sqlalchemy.exc.OperationalError, sqlalchemy.exc.IntegrityError, sqlalchemy.exc.ProgrammingError):
            if attempt == attempts - 1:
                raise
            time.sleep(0.2 * (attempt + 1))
    raise AssertionError("unreachable")


@contextmanager
def _creation_lock(path: Path | None) -> Iterator[None]:
    if path is None:
        yield
        return
    import fcntl

    with open(path.with_name(path.name + ".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _fast_sqlite(storage: RDBStorage) -> None:
    """Atomic claims of enqueued trials (see ``begin_immediate``), and a write-ahead log with
    NORMAL sync: a commit no longer waits for an fsync of the whole database, which every
    per-epoch report of every trial paid; still crash-safe for the database (a power cut may
    lose the last commits, never corrupt the file)."""
    import sqlalchemy

    def pragmas(connection: Any, _: Any) -> None:
        connection.isolation_level = None  # SQLAlchemy's "begin" below opens every transaction
        cursor = connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    def begin_immediate(connection: Any) -> None:
        # Optuna claims an enqueued trial by reading it as WAITING and writing RUNNING with
        # SELECT ... FOR UPDATE, which SQLite ignores: two local workers both claimed the same
        # proven default and the second's tell failed ("Cannot tell a COMPLETE trial"). Taking
        # the write lock at BEGIN makes each read-then-write transaction atomic.
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    sqlalchemy.event.listen(storage.engine, "connect", pragmas)
    sqlalchemy.event.listen(storage.engine, "begin", begin_immediate)
    storage.engine.dispose()  # connections opened before the listener get the pragmas on reopen


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


# --------------------------------------------------------------------------- data


@dataclass(frozen=True)
class ExperimentData:
    """The dataset and its fixed split: the test part is never seen by a trial."""

    dataset: Dataset
    train: Dataset  # what studies see, divided into validation folds
    test: Dataset  # never passed to a trial
    trial: TrialData
    split: str


def experiment_data(config: ExperimentConfig) -> ExperimentData:
    ds = load(config.data, layout=config.layout, target=config.target)
    if ds.has_official_split:
        train, test = ds.official_split()
        split = f"official split of the source: {train.n_samples} train / {test.n_samples} test"
    else:
        train, test = ds.split(config.evaluation.test_fraction, seed=config.seed)
        split = (
            f"seeded split (seed {config.seed}): {train.n_samples} train / {test.n_samples} test "
            f"({config.evaluation.test_fraction:.0%} held out)"
        )
    plan = plan_validation(train, config.validation, seed=config.seed)
    return ExperimentData(ds, train, test, TrialData(train, plan), split)


# --------------------------------------------------------------------------- setup


@dataclass
class Experiment:
    config: ExperimentConfig
    storage: optuna.storages.BaseStorage
    data: ExperimentData
    metric: str
    profile: DataProfile | None
    families: list[str]  # runnable families, in order
    skipped: dict[str, str]

    @property
    def maximize(self) -> bool:
        return MAXIMIZE[self.metric]

    def study(self, family: str) -> optuna.Study:
        return optuna.load_study(study_name=study_name(self.config.name, family), storage=self.storage)

    def meta(self) -> optuna.Study:
        return optuna.load_study(study_name=self.config.name, storage=self.storage)


def prepare(
    config: ExperimentConfig,
    *,
    heartbeat_s: int = HEARTBEAT_S,
    grace_s: int = GRACE_S,
    echo: Callable[[str], object] = print,
) -> Experiment:
    """Create (or reopen) the experiment in its storage. Idempotent: a second run resumes."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # our progress lines replace Optuna's per-study logs
    data = experiment_data(config)
    metric = check_metric(data.dataset.task, config.metric)
    if metric == "loss" and config.baselines:
        raise ConfigError("metric 'loss' cannot score the baselines; use a metric such as 'bal_acc' or 'rmse'.")
    storage = open_storage(config.storage_url, heartbeat_s=heartbeat_s, grace_s=grace_s)
    fingerprint = data.dataset.fingerprint()
    meta = optuna.create_study(study_name=config.name, storage=storage, load_if_exists=True)
    stored = meta.user_attrs
    if ATTR_FINGERPRINT in stored and stored[ATTR_FINGERPRINT] != fingerprint:
        raise StudyError(
            f"Experiment {config.name!r} in this storage was run on different data (fingerprint "
            f"{stored[ATTR_FINGERPRINT]}, now {fingerprint}). Use a new experiment name or storage."
        )
    if ATTR_CONFIG in stored:
        previous = make_config(stored[ATTR_CONFIG])
        if previous.budget != config.budget:
            echo(f"note: the budget changed since the last run: {_budget_text(previous)} → {_budget_text(config)}")
        if previous.all_families != config.all_families:
            echo(f"note: the families changed since the last run: {previous.all_families} → {config.all_families}")
    # Written before anything slow: an experiment killed while profiling still says what it was.
    meta.set_user_attr(ATTR_CONFIG, config.model_dump())
    meta.set_user_attr(ATTR_HEARTBEAT, {"interval": heartbeat_s, "grace": grace_s})
    if ATTR_PROFILE in stored:
        prof: DataProfile | None = DataProfile.from_dict(stored[ATTR_PROFILE])
    elif config.profile_budget_s > 0:
        echo(f"profiling {config.data} (model-based order test budget {config.profile_budget_s:.0f} s) …")
        prof = profile(data.train, budget_s=config.profile_budget_s, seed=config.seed)
        meta.set_user_attr(ATTR_PROFILE, prof.to_dict())
    else:
        prof = profile(data.train, model_test=False, seed=config.seed)
        meta.set_user_attr(ATTR_PROFILE, prof.to_dict())
    if ATTR_VERSIONS not in stored:  # the versions the experiment started with
        meta.set_user_attr(ATTR_VERSIONS, versions())
    meta.set_user_attr(ATTR_FINGERPRINT, fingerprint)
    meta.set_user_attr(ATTR_METRIC, metric)
    meta.set_user_attr(ATTR_SPLIT, data.split)
    meta.set_user_attr(ATTR_VALIDATION, data.trial.plan.to_dict())

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
            space = load_space(family, config.spaces_dir)
            changes: list[str] = []
            size = {"n_train": data.train.n_samples, "length": data.dataset.max_length}
            if family in DEEP_FAMILIES:
                hints = prof.recommendation.hints if config.use_profile_hints and prof is not None else {}
                keep = required_values(family, **size)
                space, changes = narrow(space, hints, min_length=int(data.dataset.lengths.min()), keep=keep)
            study.set_user_attr(ATTR_SPACE, space_to_dict(space))
            study.set_user_attr(ATTR_SPACE_CHANGES, changes)
            enqueue_defaults(study, family, space, config, **size)
        families.append(family)
    meta.set_user_attr(ATTR_SKIPPED, skipped)
    return Experiment(config, storage, data, metric, prof, families, skipped)


def enqueue_defaults(
    study: optuna.Study, family: str, space: Space, config: ExperimentConfig, *, n_train: int, length: int
) -> None:
    """Queue the family's proven configurations as its first trials (within a trial budget).
    Defaults that a narrow space maps to the same values are queued once."""
    if not config.start_from_defaults:
        return
    fitted: list[dict[str, Any]] = []
    for params in default_configs(family, n_train=n_train, length=length):
        if (values := fit_to_space(params, space)) not in fitted:
            fitted.append(values)
    if config.budget.trials is not None:
        fitted = fitted[: config.budget.trials]
    for k, values in enumerate(fitted, start=1):
        study.enqueue_trial(values, user_attrs={attrs.DEFAULT: k}, skip_if_exists=True)


def _budget_text(config: ExperimentConfig) -> str:
    b = config.budget
    parts = [f"{b.trials} trials" if b.trials else "", f"{b.time_s:g} s" if b.time_s else ""]
    parts.append(f"{b.epochs} epochs" if b.epochs else "")
    return " / ".join(p for p in parts if p) + " per family"


def open_experiment(
    name: str,
    storage_url: str,
    *,
    heartbeat_s: int | None = None,
    grace_s: int | None = None,
    echo: Callable[[str], object] = print,
) -> Experiment:
    """Reopen an experiment from its storage alone (what ``workbench worker`` does).

    A missing SQLite file is an error, never created. The heartbeat settings default to
    those the experiment was started with, so that every worker judges staleness alike.
    """
    check_name(name)
    path = local_file(storage_url)
    if path is not None and not path.is_file():
        runs_dir = path.parent.parent
        raise StudyError(
            f"No experiment {name!r}: {path} does not exist. Experiments in {runs_dir}: "
            f"{local_experiments(runs_dir) or 'none'}. Start one with `workbench study <data or config.yaml>`."
        )
    storage = open_storage(storage_url, heartbeat_s=heartbeat_s or HEARTBEAT_S, grace_s=grace_s or GRACE_S)
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
    config = make_config(stored[ATTR_CONFIG], {"storage": storage_url})
    beat = stored.get(ATTR_HEARTBEAT, {})
    return prepare(
        config,
        heartbeat_s=heartbeat_s or beat.get("interval", HEARTBEAT_S),
        grace_s=grace_s or beat.get("grace", GRACE_S),
        echo=echo,
    )


def check_name(name: str) -> str:
    """An experiment name is a single folder name: no path, no '.' or '..' (see ``config.NAME_PATTERN``)."""
    if not re.fullmatch(NAME_PATTERN, name):
        raise ConfigError(
            f"Experiment name {name!r} is not a plain folder name: use letters, digits, '_', '-' and '.', "
            "not starting with '.' (e.g. 'gunpoint-2')."
        )
    return name


def local_experiments(runs_dir: Path) -> list[str]:
    """The experiments in a runs folder: its sub-folders holding a study.db."""
    return sorted(p.parent.name for p in Path(runs_dir).glob("*/study.db"))


# --------------------------------------------------------------------------- workers


def _sampler(exp: Experiment, family: str, n_trials_seen: int, worker_id: int) -> optuna.samplers.BaseSampler:
    # Seeded from the experiment seed, the worker and how many trials the storage already
    # holds: a restart or a second worker never repeats earlier proposals, while one worker
    # on one storage stays reproducible.
    key = f"{exp.config.seed}/{family}/{worker_id}/{n_trials_seen}".encode()
    seed = int.from_bytes(hashlib.sha256(key).digest()[:4], "little")
    cfg = exp.config.sampler
    if cfg.name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    budget_trials = exp.config.budget.trials or 20
    startup = cfg.n_startup_trials or max(3, budget_trials // 4)
    return optuna.samplers.TPESampler(seed=seed, n_startup_trials=startup, multivariate=True)


def _pruner(exp: Experiment) -> optuna.pruners.BasePruner:
    cfg = exp.config.pruner
    if cfg.name == "none":
        return optuna.pruners.NopPruner()
    if exp.data.trial.plan.strategy != "holdout":
        # Steps are folds: stop a trial whose fold scores are, paired, clearly worse than the
        # best trial's (epochs within a fold are pruned by the objective's median rule).
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.pruners.WilcoxonPruner(p_threshold=0.1, n_startup_steps=2)
    if cfg.name == "hyperband":
        return optuna.pruners.HyperbandPruner(
            min_resource=max(1, cfg.n_warmup_steps), max_resource=exp.config.max_epochs
        )
    return optuna.pruners.MedianPruner(n_startup_trials=cfg.n_startup_trials, n_warmup_steps=cfg.n_warmup_steps)


def requeue(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> bool:
    """Fail a RUNNING trial whose worker is gone and queue a copy with the same parameters
    (counted once in the budget: see ``budget.may_run``). False if it had finished already."""
    try:
        study._storage.set_trial_state_values(trial._trial_id, state=TrialState.FAIL)
    except optuna.exceptions.UpdateFinishedTrialError:
        return False  # another process finished or swept it first
    _retry_once()(study, study._storage.get_trial(trial._trial_id))
    return True


def _retry_once() -> RetryHeartbeatStaleTrialCallback:
    """Re-queue a dead worker's trial with its parameters (up to twice for the same configuration)."""
    with warnings.catch_warnings():  # heartbeat callbacks are "experimental" since Optuna 2.8; we rely on them
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return RetryHeartbeatStaleTrialCallback(max_retry=2)


def _has_heartbeat(study: optuna.Study) -> bool:
    heartbeat = getattr(study._storage, "get_heartbeat_interval", None)
    return heartbeat is not None and heartbeat() is not None


def requeue_dead_trials(study: optuna.Study) -> list[int]:
    """Fail and re-queue the RUNNING trials whose worker is gone; their numbers.

    Server databases: trials whose heartbeat stopped for the grace period, on any machine.
    Local files (SQLite, journal; no heartbeat write per trial): trials whose process on
    this host is gone, seen at once.
    """
    if _has_heartbeat(study):
        stale = set(study._storage._get_stale_trial_ids(study._study_id))  # type: ignore[attr-defined]
        dead = [t for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)) if t._trial_id in stale]
    else:
        host = socket.gethostname()
        dead = [
            t
            for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
            if (w := t.user_attrs.get(attrs.WORKER) or {}).get("host") == host and not _alive(int(w.get("pid", -1)))
        ]
    return [t.number for t in dead if requeue(study, t)]


def heartbeat_ages(study: optuna.Study) -> dict[int, float]:
    """Seconds since each RUNNING trial's last heartbeat (server databases; empty otherwise)."""
    if not _has_heartbeat(study):
        return {}
    import sqlalchemy
    from optuna.storages._rdb import models

    storage: Any = getattr(study._storage, "_backend", study._storage)  # the RDBStorage under Optuna's cache
    with storage.engine.connect() as conn:
        now = conn.execute(sqlalchemy.select(sqlalchemy.func.now())).scalar()
        rows = conn.execute(
            sqlalchemy.select(models.TrialModel.number, models.TrialHeartbeatModel.heartbeat)
            .join(models.TrialHeartbeatModel, models.TrialHeartbeatModel.trial_id == models.TrialModel.trial_id)
            .where(models.TrialModel.study_id == study._study_id, models.TrialModel.state == TrialState.RUNNING)
        ).all()
    now = now.replace(tzinfo=None)
    return {int(number): (now - beat.replace(tzinfo=None)).total_seconds() for number, beat in rows}


def _waits_for(study: optuna.Study) -> bool:
    """Whether a RUNNING trial may still end without its worker: then a worker whose budget
    is all paid for waits, to re-queue that trial if its worker dies (server databases: any
    trial, through its heartbeat; local files: a live process on this host)."""
    running = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    if _has_heartbeat(study):
        return bool(running)
    host = socket.gethostname()
    return any((t.user_attrs.get(attrs.WORKER) or {}).get("host") == host for t in running)


def _alive(pid: int) -> bool:
    """Whether the process runs. A zombie (killed, not yet reaped by its parent) does not."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True  # no /proc (macOS): os.kill's answer stands


class RoutineOverBudget(logging.Filter):
    """Workers race for the last trial of a budget; the loser's trial is marked as overflow and
    not counted. That is routine, so Optuna's failure warning and traceback for it are dropped
    (real failures still warn, and are recorded in the storage)."""

    def __init__(self) -> None:
        super().__init__()
        self.trials: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        words = record.getMessage().split()
        number = words[1] if len(words) > 1 and words[0] == "Trial" else None
        if record.exc_info and isinstance(record.exc_info[1], OverBudget):
            self.trials.add(str(number))
            return False
        return not (number in self.trials and "failed with value" in record.getMessage())


_ROUTINE_OVER_BUDGET = RoutineOverBudget()


class StudyInterrupted(KeyboardInterrupt):
    """Ctrl-C (or SIGTERM) during a study: the running trial was re-queued with the same
    parameters; the message says how to resume. The CLI prints it and exits 130."""


class _Signal(BaseException):
    """Raised by the worker's signal handler. Not a KeyboardInterrupt: Lightning turns that
    into ``sys.exit(1)`` and Optuna into a FAIL that is never re-queued."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


@contextmanager
def _interruptible() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set from the main thread
        return

    def handler(signum: int, _: Any) -> None:
        raise _Signal(signum)

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def run_worker(
    exp: Experiment,
    *,
    families: list[str] | None = None,
    worker_id: int = 0,
    threads: int | None = None,
    accelerator: str = "auto",
    echo: Callable[[str], object] = print,
) -> None:
    """Run trials for each family until its budget (counted in the storage) is used up.

    A worker whose budget is all paid for stays while other workers' trials run, so that a
    trial whose worker dies near the end is re-queued and the study never ends short.
    On Ctrl-C the current trial is re-queued and :class:`StudyInterrupted` is raised.
    """
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    logging.getLogger("optuna.study._optimize").addFilter(
        _ROUTINE_OVER_BUDGET
    )  # a filter already there is not added twice
    objectives = [
        Objective(
            family,
            space_from_dict(exp.study(family).user_attrs[ATTR_SPACE]),
            exp.data.trial,
            exp.config,
            exp.metric,
            threads=threads,
            accelerator=accelerator,
        )
        for family in families or exp.families
    ]
    objective: Objective | None = None
    try:
        with _interruptible():
            # Every family's budget first, then stay for other workers' running trials: a
            # worker never idles on one family while another still has budget.
            for wait in (False, True):
                for objective in objectives:
                    _run_family(exp, objective, worker_id, echo, wait=wait)
    except _Signal as interrupt:
        requeued = []
        if objective is not None and objective.current is not None:
            study = exp.study(objective.family)
            trial = study._storage.get_trial(objective.current._trial_id)
            if trial.state == TrialState.RUNNING and requeue(study, trial):
                requeued.append(f"trial {trial.number} of {objective.family}")
        what = f"{' and '.join(requeued)} re-queued with the same parameters; " if requeued else ""
        raise StudyInterrupted(
            f"interrupted ({signal.Signals(interrupt.signum).name}): {what}every finished trial is stored. "
            "Run the same command again to resume."
        ) from None


def _run_family(
    exp: Experiment, objective: Objective, worker_id: int, echo: Callable[[str], object], *, wait: bool
) -> None:
    """Run the family's trials until its budget is taken; with ``wait``, then stay until no
    trial of it runs, re-running any whose worker died."""
    family, budget = objective.family, exp.config.budget
    study = exp.study(family)
    study.pruner = _pruner(exp)
    _echo_requeued(family, requeue_dead_trials(study), echo)
    trials = study.get_trials(deepcopy=False)
    study.sampler = _sampler(exp, family, len(trials), worker_id)
    ran: list[optuna.trial.FrozenTrial] = []
    overflowed = False  # other workers took this worker's last slot
    last_wait_line = 0.0
    while True:
        state = budget_state(trials, budget)
        if not state.exhausted and not overflowed:
            study.optimize(
                objective,
                n_trials=1,
                catch=(Exception,),
                gc_after_trial=False,
                callbacks=[lambda _, trial: ran.append(trial)],
            )
            objective.current = None
            if attrs.overflow(ran[-1]):
                overflowed, trials = True, study.get_trials(deepcopy=False)
                continue
            trials = objective.trials_after(ran[-1])
            echo(progress_line(exp, family, trials, study.direction))
            continue
        if not state.trials_in_flight:
            return
        if requeued := requeue_dead_trials(study):
            _echo_requeued(family, requeued, echo)
            overflowed, trials = False, study.get_trials(deepcopy=False)
            continue
        if not wait or not _waits_for(study):
            return  # (local file: the running trials belong to other hosts' workers)
        if time.monotonic() - last_wait_line > 30:
            echo(f"[{family:<10}] budget taken; {waiting_text(study)}")
            last_wait_line = time.monotonic()
        interval = study._storage.get_heartbeat_interval() if _has_heartbeat(study) else None  # type: ignore[attr-defined]
        time.sleep(min(interval or 1, 5))
        trials = study.get_trials(deepcopy=False)


def _echo_requeued(family: str, numbers: list[int], echo: Callable[[str], object]) -> None:
    if numbers:
        echo(f"[{family:<10}] re-queued trial(s) {numbers}: their worker stopped")


def waiting_text(study: optuna.Study) -> str:
    """What a worker with no budget left waits for: the running trials, and how long until a
    silent one is declared dead and re-queued."""
    ages = heartbeat_ages(study)
    storage: Any = getattr(study._storage, "_backend", study._storage)
    grace = storage.grace_period if ages else None
    stale = [age for age in ages.values() if grace is not None and age > 2 * storage.heartbeat_interval]
    if stale and grace is not None:
        return f"waiting for a stale trial ({max(0.0, grace - max(stale)):.0f} s left)"
    running = len(study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)))
    return f"waiting for {running} running trial(s) of other workers"


def progress_line(
    exp: Experiment,
    family: str,
    trials: list[optuna.trial.FrozenTrial],
    direction: optuna.study.StudyDirection,
) -> str:
    state = budget_state(trials, exp.config.budget)
    pruned = sum(t.state == TrialState.PRUNED for t in trials)
    failed = sum(t.state == TrialState.FAIL and attrs.failure(t) is not None for t in trials)
    best = _best_value(trials, direction)
    # From the family's own trial times in the storage: right after a resume, and per family.
    left = state.seconds * (1 - state.fraction) / state.fraction if 0 < state.fraction < 1 else 0.0
    budget = exp.config.budget
    done = f"{state.trials_done}/{budget.trials} trials" if budget.trials else f"{state.trials_done} trials"
    best_text = "–" if best is None else f"{best:.4f}"
    return (
        f"[{family:<10}] {done} · best val_{exp.metric} {best_text} · pruned {pruned} · failed {failed} · "
        f"budget {state.fraction:.0%} · ~{left:.0f} s left for this family"
    )


def _best_value(trials: list[optuna.trial.FrozenTrial], direction: optuna.study.StudyDirection) -> float | None:
    values = [t.value for t in trials if t.state == TrialState.COMPLETE and t.value is not None]
    if not values:
        return None
    return max(values) if direction == optuna.study.StudyDirection.MAXIMIZE else min(values)


def run_study(
    config: ExperimentConfig,
    *,
    workers: int = 1,
    trials_per_gpu: int = 1,
    accelerator: str = "auto",
    heartbeat_s: int = HEARTBEAT_S,
    grace_s: int = GRACE_S,
    echo: Callable[[str], object] = print,
) -> Experiment:
    """Prepare the experiment, then run its trials here or in ``workers`` processes.

    With CUDA GPUs, one worker per GPU (``CUDA_VISIBLE_DEVICES``), times
    ``trials_per_gpu`` for small models; on CPU, the cores are divided among them.
    """
    exp = prepare(config, heartbeat_s=heartbeat_s, grace_s=grace_s, echo=echo)
    for family, reason in exp.skipped.items():
        echo(f"[{family:<10}] skipped: {reason}")
    gpus = _gpu_count() if accelerator in ("auto", "cuda", "gpu") else 0
    if gpus:
        workers = max(workers, gpus * trials_per_gpu)
    if workers <= 1:
        run_worker(exp, accelerator=accelerator, echo=echo)
        return exp
    threads = max(1, default_threads() // workers)
    procs = []
    for i in range(workers):
        env = dict(os.environ)
        if gpus:
            env["CUDA_VISIBLE_DEVICES"] = str(i % gpus)
        cmd = [
            sys.executable,
            "-m",
            "workbench.cli",
            "worker",
            config.name,
            "--storage",
            config.storage_url,
            "--worker-id",
            str(i),
            "--threads",
            str(threads),
            "--heartbeat",
            str(heartbeat_s),
            "--grace",
            str(grace_s),
        ]
        procs.append(subprocess.Popen(cmd, env=env))
    echo(f"started {workers} workers ({threads} thread(s) each{', one per GPU' if gpus else ''})")
    try:
        while any(p.poll() is None for p in procs):  # reaps each worker as it exits, killed ones too
            time.sleep(0.5)
        codes = [p.returncode for p in procs]
    except KeyboardInterrupt:  # Ctrl-C reached the workers too: each re-queues its trial and exits
        for p in procs:
            p.wait()
        raise StudyInterrupted(
            "interrupted: the workers re-queued their running trials; every finished trial is stored. "
            "Run the same command again to resume."
        ) from None
    unfinished = [f for f in exp.families if not budget_state(exp.study(f).get_trials(), config.budget).exhausted]
    if unfinished:  # a worker that died is made up for by the others; only all of them dying ends short
        raise StudyError(
            f"worker exit codes {codes} and {unfinished} not finished; the storage keeps every finished trial, "
            "rerun to resume."
        )
    if any(codes):
        echo(f"note: worker exit codes {codes}; the other workers re-ran the trials of those that stopped")
    return exp


def _gpu_count() -> int:
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


# --------------------------------------------------------------------------- status


def status_frame(exp: Experiment) -> pd.DataFrame:
    """One row per family: progress against the budget, best so far, pruned and failed counts."""
    rows: list[dict[str, Any]] = []
    for family in exp.config.all_families:
        if family in exp.skipped:
            rows.append({"family": family, "status": f"skipped: {exp.skipped[family]}"})
            continue
        study = exp.study(family)
        trials = study.get_trials(deepcopy=False)
        state: BudgetState = budget_state(trials, exp.config.budget)
        status = "done" if state.exhausted else ("running" if state.trials_in_flight else "open")
        if state.trials_in_flight and "stale" in (waiting := waiting_text(study)):
            status = waiting
        rows.append(
            {
                "family": family,
                "status": status,
                "trials": state.trials_done,
                "budget": exp.config.budget.trials,
                "running": state.trials_in_flight,
                "complete": sum(t.state == TrialState.COMPLETE for t in trials),
                "pruned": sum(t.state == TrialState.PRUNED for t in trials),
                "failed": sum(t.state == TrialState.FAIL and attrs.failure(t) is not None for t in trials),
                f"best val_{exp.metric}": _best_value(trials, study.direction),
                "epochs": state.epochs,
                "seconds": round(state.seconds, 1),
            }
        )
    return pd.DataFrame(rows)


def validation_lines(exp: Experiment) -> list[str]:
    """The validation strategy and why, then the per-fold scores of each family's best trial."""
    plan = exp.data.trial.plan
    lines = [f"validation: {plan.describe()}"]
    for family in exp.families:
        study = exp.study(family)
        complete = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)) if t.value is not None]
        if not complete:
            continue
        best = (max if study.direction == optuna.study.StudyDirection.MAXIMIZE else min)(
            complete,
            key=lambda t: float(t.value),  # type: ignore[arg-type]
        )
        scores = attrs.fold_scores(best)
        if plan.strategy == "holdout" or not scores:
            lines.append(f"  {family:<10} best trial {best.number}: val_{exp.metric} {best.value:.4f}")
            continue
        values = np.array([scores[i] for i in sorted(scores)])
        lines.append(
            f"  {family:<10} best trial {best.number}: val_{exp.metric} {values.mean():.4f} ± {values.std(ddof=1):.4f} "
            f"over {len(values)} folds [{' '.join(f'{v:.3f}' for v in values)}]"
        )
    return lines
