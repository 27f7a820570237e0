"""Storages: opening them (SQLite, PostgreSQL, journal files) safely from many processes, and
finding the trials whose worker died, to re-queue them with the same parameters."""

from __future__ import annotations

import copy
import datetime
import os
import socket
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
from optuna.storages import JournalStorage, RDBStorage, RetryHeartbeatStaleTrialCallback
from optuna.storages.journal import JournalFileBackend
from optuna.trial import TrialState

from workbench.errors import ConfigError, StudyError
from workbench.study import attrs

HEARTBEAT_S = 30  # server databases: a trial whose heartbeat stops for GRACE_S is failed and re-queued
GRACE_S = 90


def open_storage(
    url: str, *, heartbeat_s: int = HEARTBEAT_S, grace_s: int = GRACE_S, read_only: bool = False
) -> optuna.storages.BaseStorage:
    """SQLite (default), any RDB URL (PostgreSQL for distributed runs) or a journal file.

    Server databases get heartbeats, so a trial whose worker died on any machine is
    re-queued after ``grace_s``. Local files (SQLite, journal) are swept on start instead
    (see :func:`requeue_dead_trials`): immediate, and no heartbeat write per trial.
    ``read_only`` creates no folder and takes no lock: for commands that only read.
    """
    path = local_file(url)
    if path is not None and not read_only:
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
        kwargs.update(heartbeat_interval=heartbeat_s, grace_period=grace_s, heartbeat_stale_trial_callback=Requeue())
    try:
        # Two commands that create the same new storage at once race to create its tables
        # ("table studies already exists"): workbench commands create a local file one at a
        # time (a lock file beside it), and every open is retried, as the loser then finds the
        # tables made: other tools (optuna.load_study, optuna-dashboard) take no lock.
        with _creation_lock(None if read_only else path):
            storage = _retry(lambda: _rdb_storage(url, kwargs), attempts=5)
    except Exception as exc:  # unreachable server, missing driver, bad URL
        raise StudyError(f"Cannot open storage {url!r}: {type(exc).__name__}: {exc}") from exc
    if path is not None and not read_only:  # a reader takes no write lock and changes no setting
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


class Requeue(RetryHeartbeatStaleTrialCallback):
    """Queue a copy of a dead worker's trial with its parameters, at most ``MAX_RETRIES`` times
    for the same configuration. The copy drops the dead worker's ``worker`` attribute (until
    its new worker writes its own, nothing may take it for the dead one's) and the
    ``requeued`` mark."""

    def __init__(self) -> None:
        with warnings.catch_warnings():  # "experimental" since Optuna 2.8; we rely on it
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            super().__init__(max_retry=attrs.MAX_RETRIES)

    def __call__(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        trial = copy.copy(trial)
        trial.user_attrs = {k: v for k, v in trial.user_attrs.items() if k != attrs.WORKER}
        # a deep copy: Optuna appends to retry_history in place, and a cached trial must not change
        trial.system_attrs = copy.deepcopy({k: v for k, v in trial.system_attrs.items() if k != attrs.REQUEUED})
        super().__call__(study, trial)


def trial_id_of(study: optuna.Study, storage: optuna.storages.BaseStorage, number: int) -> int:
    """The storage's id of the study's trial ``number``, which its per-trial writes take."""
    return storage.get_trial_id_from_study_id_trial_number(storage.get_study_id_from_name(study.study_name), number)


def requeue(study: optuna.Study, storage: optuna.storages.BaseStorage, trial: optuna.trial.FrozenTrial) -> bool:
    """Fail a RUNNING trial whose worker is gone and queue a copy with the same parameters
    (counted once in the budget: see ``budget.may_run``). False if it had finished already,
    or another process failed it first: exactly one copy is queued."""
    trial_id = trial_id_of(study, storage, trial.number)
    try:
        # The mark first: if this worker is killed after failing the trial and before writing
        # its copy, the mark tells the other workers to write it (``attrs.awaiting_copy``).
        storage.set_trial_system_attr(trial_id, attrs.REQUEUED, True)
        study.tell(trial.number, state=TrialState.FAIL)
    # ValueError: "Cannot tell a FAIL trial", another worker failed it since `trial` was read;
    # RuntimeError: UpdateFinishedTrialError, it finished between tell's read and its write.
    except (ValueError, RuntimeError):
        return False
    Requeue()(study, trial)
    return True


@dataclass(frozen=True)
class Heartbeat:
    interval: int
    grace: int


def heartbeat(storage: optuna.storages.BaseStorage) -> Heartbeat | None:
    """A server database's heartbeat settings; None for local files (no heartbeats)."""
    if isinstance(storage, RDBStorage) and storage.heartbeat_interval is not None:
        return Heartbeat(int(storage.heartbeat_interval), int(storage.grace_period or 2 * storage.heartbeat_interval))
    return None


def requeue_dead_trials(study: optuna.Study, storage: optuna.storages.BaseStorage) -> list[int]:
    """Fail and re-queue the RUNNING trials whose worker is gone; their numbers.

    Server databases: trials whose heartbeat stopped for the grace period, on any machine.
    Local files (SQLite, journal; no heartbeat write per trial): trials whose process on
    this host is gone, seen at once, and trials that never named their worker (after a minute).
    Either way, also the trials whose re-queueing worker was killed before it wrote their copy.
    """
    trials = study.get_trials(deepcopy=False)
    running = [t for t in trials if t.state == TrialState.RUNNING]
    beat = heartbeat(storage)
    if beat is not None:
        ages = heartbeat_ages(study, storage)
        dead = [t for t in running if ages.get(t.number, 0.0) > beat.grace]
    else:
        dead = [t for t in running if _dead_locally(t)]
    awaiting = attrs.awaiting_copy(trials)
    orphans = [t for t in trials if t.number in awaiting and _seconds_since(t.datetime_complete) > ORPHANED_S]
    for t in orphans:
        Requeue()(study, t)
    return [t.number for t in dead if requeue(study, storage, t)] + [t.number for t in orphans]


UNNAMED_S = 60  # a live worker names itself on a trial milliseconds after asking for it
ORPHANED_S = 30  # a re-queue writes its copy milliseconds after failing the trial


def _seconds_since(when: datetime.datetime | None) -> float:
    """Seconds since a trial's start or end, as Optuna stores them (local time); 0 when unset."""
    return 0.0 if when is None else (datetime.datetime.now() - when).total_seconds()


def _dead_locally(t: optuna.trial.FrozenTrial) -> bool:
    """A local file's RUNNING trial whose process on this host is gone, or that never named its
    worker: a worker killed between asking for the trial and writing its pid left it so."""
    if attrs.WORKER not in t.user_attrs:
        return _seconds_since(t.datetime_start) > UNNAMED_S
    pid = _local_pid(t)
    return pid is not None and not alive(pid)


def _local_pid(t: optuna.trial.FrozenTrial) -> int | None:
    """The pid of the trial's worker when it runs on this host; None for another host or a
    trial whose worker has not written itself yet."""
    worker = t.user_attrs.get(attrs.WORKER) or {}
    return int(worker.get("pid", -1)) if worker.get("host") == socket.gethostname() else None


def heartbeat_ages(study: optuna.Study, storage: optuna.storages.BaseStorage) -> dict[int, float]:
    """Seconds since each RUNNING trial's last heartbeat (server databases; empty otherwise).
    Read with one query of Optuna's tables, as its own stale-trial check reads them."""
    if heartbeat(storage) is None:
        return {}
    import sqlalchemy

    query = sqlalchemy.text(
        "SELECT t.number, h.heartbeat FROM trials t JOIN trial_heartbeats h ON h.trial_id = t.trial_id "
        "JOIN studies s ON s.study_id = t.study_id WHERE s.study_name = :name AND t.state = 'RUNNING'"
    )
    engine: Any = storage.engine  # type: ignore[attr-defined]
    with engine.connect() as conn:
        now = conn.execute(sqlalchemy.select(sqlalchemy.func.now())).scalar().replace(tzinfo=None)
        rows = conn.execute(query, {"name": study.study_name}).all()
    return {int(number): (now - beat.replace(tzinfo=None)).total_seconds() for number, beat in rows}


def waits_for(study: optuna.Study, storage: optuna.storages.BaseStorage) -> bool:
    """Whether a RUNNING trial may still end without its worker: then a worker whose budget
    is all paid for waits, to re-queue that trial if its worker dies (server databases: any
    trial, through its heartbeat; local files: a live process on this host). Also whether a
    re-queued trial still awaits its copy."""
    trials = study.get_trials(deepcopy=False)
    if attrs.awaiting_copy(trials):
        return True
    running = [t for t in trials if t.state == TrialState.RUNNING]
    if heartbeat(storage) is not None:
        return bool(running)
    return any(_local_pid(t) is not None or attrs.WORKER not in t.user_attrs for t in running)


def alive(pid: int) -> bool:
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
