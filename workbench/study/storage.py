"""Storages: opening them (SQLite, PostgreSQL, journal files) safely from many processes, with
the heartbeats that find the trials whose worker died (``recovery.py``)."""

from __future__ import annotations

import contextlib
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
from optuna.storages import JournalStorage, RDBStorage
from optuna.storages.journal import JournalFileBackend

from workbench.errors import ConfigError, StudyError
from workbench.study.recovery import Requeue

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
            "run the same command again to start the experiment anew (a moved folder's copy opens with --runs-dir)."
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
