"""Storages: opening them (SQLite, PostgreSQL, journal files) safely from many processes, with
the heartbeats that find the trials whose worker died (``recovery.py``)."""

from __future__ import annotations

import contextlib
import math
import os
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import optuna
from optuna.storages import JournalStorage, RDBStorage
from optuna.storages.journal import JournalFileBackend

from workbench.errors import ConfigError, StudyError, option, option_name
from workbench.study.recovery import Requeue

T = TypeVar("T")

HEARTBEAT_S = 10  # a running trial beats every HEARTBEAT_S; one silent for GRACE_S is failed and re-queued
GRACE_S = 60


def open_storage(
    url: str, *, heartbeat_s: int = HEARTBEAT_S, grace_s: int = GRACE_S, read_only: bool = False
) -> optuna.storages.BaseStorage:
    """SQLite (default), any RDB URL (PostgreSQL for distributed runs) or a journal file.

    SQL storages get heartbeats, so that a trial whose worker died, on any machine, is failed
    and re-queued after ``grace_s`` (``recovery.py``); journal files have none.
    ``read_only`` creates no folder, takes no lock and sends no heartbeat: for commands that
    only read.
    """
    check_storage_url(url)
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
    else:  # a server: a pooled connection that a restart closed is found and replaced before it is used
        kwargs["engine_kwargs"] = {"pool_pre_ping": True}
    if not read_only:
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


MIN_BEATS_PER_GRACE = 3  # a grace period spans at least this many heartbeats


def check_grace(heartbeat_s: float, grace_s: float) -> None:
    """Refuse a grace period a healthy worker's heartbeat cannot keep within: its running trials
    would be failed as stale ("their worker stopped") and run twice."""
    if grace_s < MIN_BEATS_PER_GRACE * heartbeat_s:
        least = math.ceil(MIN_BEATS_PER_GRACE * heartbeat_s)
        raise ConfigError(
            f"A grace period of {grace_s:g} s is shorter than {MIN_BEATS_PER_GRACE} heartbeats (one every "
            f"{heartbeat_s:g} s): healthy workers' running trials would be failed as stale and run twice. Give "
            f"{option('grace_s', least)} or more, or a shorter {option_name('heartbeat_s')}."
        )


def check_storage_url(url: str) -> None:
    """Refuse the storage URLs a study cannot work with, saying why: an in-memory SQLite database
    (each process, and each open, gets an empty one of its own: the workers, the evaluation and
    every later command would find nothing) and SQLite URL options (``?mode=ro`` makes a
    database no study can write, and the workers read ``x.db?mode=ro`` as a file name)."""
    if url.startswith("sqlite:") and (not url.startswith("sqlite:///") or url.startswith("sqlite:///:memory:")):
        raise ConfigError(
            f"Storage {url!r} is an in-memory SQLite database: each process, and each later command, would see an "
            "empty database of its own, so the study's workers, its evaluation and `workbench status` could not "
            "find its trials. Use a file, e.g. sqlite:///runs/exp/study.db (or leave "
            f"{option_name('storage')} out for the default)."
        )
    if url.startswith("sqlite:///") and "?" in url:
        raise ConfigError(
            f"Storage {url!r} carries SQLite options after '?' ({url.split('?', 1)[1]!r}): a study writes to its "
            "storage from several processes, which read the URL as a file name. Give the file alone, e.g. "
            f"{url.split('?', 1)[0]!r}."
        )


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
            f"Cannot create the run folder {folder}: {exc.strerror}. Choose a writable folder with "
            f"{option_name('runs_dir')} or {option_name('storage')}."
        ) from exc


class WorkbenchStorage(RDBStorage):
    """Optuna's RDB storage, whose heartbeat outlives a moment without its database: a beat that
    fails (a server restarting, a file locked for a moment) is skipped, and the next one tries
    again. In Optuna's own, the failure ended the heartbeat thread with a traceback on the
    terminal, and its healthy trial was failed as stale once the grace period passed."""

    def record_heartbeat(self, trial_id: int) -> None:
        try:
            super().record_heartbeat(trial_id)
        except Exception as exc:
            if storage_cause(exc) is None:
                raise  # a bug, not the database


def _rdb_storage(url: str, kwargs: dict[str, Any]) -> RDBStorage:
    with warnings.catch_warnings():  # heartbeats are "experimental" since Optuna 2.8; we rely on them
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return WorkbenchStorage(url, **kwargs)


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


@dataclass(frozen=True)
class StorageFile:
    """A local storage's file as a study opened it. SQLite goes on writing into a file that was
    deleted, moved or truncated under it (into an unlinked inode, or over a damaged one) and says
    nothing: every trial since is lost without a word. :func:`check_storage_file` tells."""

    path: Path
    device: int
    inode: int
    sqlite: bool  # else a journal file

    @classmethod
    def of(cls, url: str) -> StorageFile | None:
        """The file of a local storage (None for a server database, or a file not yet there)."""
        path = local_file(url)
        if path is None:
            return None
        try:
            st = path.stat()
        except OSError:
            return None
        return cls(path, st.st_dev, st.st_ino, url.startswith("sqlite:"))


def check_storage_file(opened: StorageFile | None, *, what: str) -> None:
    """Raise a StudyError that says what was lost when the storage file the experiment opened is
    no longer there, is another file, or is damaged. ``what``: what is about to be stored ("the
    verdict"), for the message."""
    if opened is None:
        return
    path = opened.path
    try:
        st = path.stat()
    except FileNotFoundError:
        raise StudyError(
            f"The storage {path} was deleted or moved while the experiment ran. SQLite kept writing into the "
            f"vanished file, so every trial, the profile and the config since it went are lost, and {what} cannot "
            "be stored; nothing in this run can be resumed. Keep the runs folder in place while a study runs; "
            "run the same command again to start the experiment anew (a moved folder's copy opens with "
            f"{option_name('runs_dir')})."
        ) from None
    if (st.st_dev, st.st_ino) != (opened.device, opened.inode):
        raise StudyError(
            f"The storage {path} was replaced by another file while the experiment ran: what this run stored went "
            f"into the file it replaced, which is gone, and {what} is not stored. Run the same command again to "
            "resume from the file that is there now."
        )
    if opened.sqlite and (problem := _sqlite_problem(path)) is not None:
        raise StudyError(
            f"The storage {path} is damaged ({problem}): it was truncated or overwritten while the experiment "
            f"ran, its trials can no longer be read back, and {what} is not stored. Restore it from a copy, or "
            "delete it and run the same command again to start the experiment anew."
        )


def _sqlite_problem(path: Path) -> str | None:
    """What a fresh, read-only connection finds wrong with an SQLite file (None: intact)."""
    import sqlite3

    try:
        with contextlib.closing(sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True, timeout=60)) as db:
            result = db.execute("PRAGMA quick_check").fetchall()
    except sqlite3.DatabaseError as exc:
        return str(exc)
    if [row[0] for row in result] != ["ok"]:
        return "; ".join(str(row[0]) for row in result[:3])
    return None


# --------------------------------------------------------------------------- failures of the storage

STORAGE_WAIT_ENV = "WORKBENCH_STORAGE_WAIT_S"
STORAGE_WAIT_S = 120.0  # how long a worker waits for its storage to answer again before it gives up
PERMANENT = ("readonly", "read-only", "no space", "disk is full", "disk i/o error", "malformed")


class StorageFailure(BaseException):
    """The storage failed under a trial: not a failure of the trial. A BaseException, so that it
    passes Optuna's ``catch`` (which would store the trial as failed and count it against the
    budget); the worker re-queues the trial once the storage answers again (``worker.py``)."""

    def __init__(self, error: BaseException, trial: int | None = None) -> None:
        super().__init__(str(error))
        self.cause, self.trial = storage_cause(error) or error, trial  # the database's own error


def storage_cause(exc: BaseException) -> BaseException | None:
    """The database error behind ``exc``, when a failure of the storage caused it (a lost
    connection, a server down, a file that cannot be written or read); None for any other error.
    Optuna wraps them (``StorageInternalError``, "… e.g. exceeding max length") and, when its own
    clean-up fails in turn, hides them behind an ``AssertionError`` or ``UnboundLocalError``:
    the chain of causes holds the database's own error."""
    import sqlalchemy.exc

    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, StorageFailure):
            return current.cause
        if isinstance(current, sqlalchemy.exc.OperationalError | sqlalchemy.exc.InterfaceError):
            return current
        if type(current) is sqlalchemy.exc.DatabaseError:  # e.g. SQLite's "database disk image is malformed"
            return current
        if isinstance(current, sqlalchemy.exc.DBAPIError) and current.connection_invalidated:
            return current
        current = current.__cause__ or current.__context__
    return None


def is_permanent(cause: BaseException) -> bool:
    """A failure that waiting cannot mend: a read-only or full disk, a damaged file."""
    return any(word in storage_problem_text(cause).lower() for word in PERMANENT)


def storage_problem_text(cause: BaseException) -> str:
    """The database's own words for a failure, in one line (the SQL statement left out)."""
    text = str(getattr(cause, "orig", None) or cause).strip().splitlines()
    return text[0] if text else type(cause).__name__


def storage_wait_s() -> float:
    """``WORKBENCH_STORAGE_WAIT_S`` seconds (default 120), how long a worker waits for its storage."""
    text = os.environ.get(STORAGE_WAIT_ENV, "")
    try:
        return float(text) if text else STORAGE_WAIT_S
    except ValueError:
        raise ConfigError(
            f"{STORAGE_WAIT_ENV}={text!r} is not a number of seconds (e.g. {STORAGE_WAIT_ENV}=60)."
        ) from None


def storage_lost(cause: BaseException, waited_s: float | None) -> StudyError:
    """The error that ends a worker whose storage does not answer, or refuses its writes."""
    problem = storage_problem_text(cause)
    how_long = f" and did not answer for {waited_s:.0f} s" if waited_s else ""
    return StudyError(
        f"the storage failed ({problem}){how_long}. Nothing that finished was lost: every finished trial is "
        "in the storage, and a trial cut short is run again. Make the storage writable and reachable again "
        "(the server running, the file writable, the disk not full), then run the same command to resume."
    )


def retry_storage(action: Callable[[], T], *, echo: Callable[[str], object]) -> T:
    """``action()``, retried while the storage fails (every 2 s, for up to :func:`storage_wait_s`),
    saying so once; a failure that waiting cannot mend (a read-only or full disk, a damaged file)
    or that outlasts the wait ends in :func:`storage_lost`. Any other error is raised at once."""
    from workbench.interrupt import wait_or_stop

    started = time.monotonic()
    said = False
    while True:
        try:
            return action()
        except Exception as exc:
            cause = storage_cause(exc)
            if cause is None:
                raise
            waited = time.monotonic() - started
            if is_permanent(cause):
                raise storage_lost(cause, None) from None
            if waited > storage_wait_s():
                raise storage_lost(cause, waited) from None
            if not said:
                echo(
                    f"the storage does not answer ({storage_problem_text(cause)}); trying again for up to "
                    f"{storage_wait_s():.0f} s"
                )
                said = True
            wait_or_stop(2.0)
