"""Tiny experiments for study tests: a small data file, small spaces, short trials."""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sqlalchemy.exc
from optuna.trial import FrozenTrial, TrialState

import workbench as wb
from workbench.config import ExperimentConfig, make_config
from workbench.study import attrs

SPACES = {
    "mlp.yaml": "width: {choices: [8, 16]}\ndepth: {low: 0, high: 1}\nlr: {low: 1.0e-3, high: 1.0e-2, log: true}\n",
    "conv1d.yaml": "channels: {choices: [4, 8]}\ndepth: {low: 1, high: 2}\nkernel_size: {choices: [3, 5]}\n"
    "lr: {low: 1.0e-3, high: 1.0e-2, log: true}\n",
    "linear.yaml": "C: {low: 0.01, high: 10.0, log: true}\n",
}


@pytest.fixture
def data_file(tmp_path: Path) -> Path:
    ds = wb.synthetic.ordered_motifs(72, 32, seed=2)
    path = tmp_path / "motifs.npz"
    np.savez(path, X=ds.X, y=ds.y)
    return path


@pytest.fixture
def spaces_dir(tmp_path: Path) -> Path:
    d = tmp_path / "spaces"
    d.mkdir()
    for name, text in SPACES.items():
        (d / name).write_text(text)
    return d


@pytest.fixture
def make_experiment(tmp_path: Path, data_file: Path, spaces_dir: Path) -> Callable[..., ExperimentConfig]:
    def make(**overrides: Any) -> ExperimentConfig:
        values: dict[str, Any] = {
            "name": "tiny",
            "data": str(data_file),
            "layout": "NCL",
            "families": ["mlp", "conv1d"],
            "baselines": [],
            "budget": {"trials": 4},
            "max_epochs": 4,
            "min_steps": 0,  # tiny runs: tests check the study's mechanics, not the recipe
            "stop_when_done": False,  # exact budgets; tests/study/test_cost.py turns the stopping rule on
            "patience": None,
            # One fit per trial keeps these tests short; test_validation.py covers k-fold and auto.
            "validation": {"strategy": "holdout"},
            "runs_dir": str(tmp_path / "runs"),
            "spaces_dir": str(spaces_dir),
            "profile_budget_s": 0,
            "evaluation": {"top_k": 1, "seeds": 2},
        }
        nested = {k: v for k, v in overrides.items() if "." not in k}
        values.update(nested)
        return make_config(values, {k: v for k, v in overrides.items() if "." in k})

    return make


def worker(name: str, storage: str, *extra: str) -> subprocess.Popen[bytes]:
    """A `workbench worker` process with a fast heartbeat."""
    cmd = [
        sys.executable,
        "-m",
        "workbench.cli",
        "worker",
        name,
        "--storage",
        storage,
        "--threads",
        "1",
        "--heartbeat",
        "1",
        "--grace",
        "3",
        *extra,
    ]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


# --------------------------------------------------------------------------- PostgreSQL


def _postgres_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        pytest.fail("PostgreSQL server binaries are missing: `make test` installs them (scripts/system-packages).")
    return Path(found[-1]).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PostgresServer:
    """A real PostgreSQL server started by the test setup, which a test may stop and start again
    (a database outage, a restart)."""

    def __init__(self, root: Path) -> None:
        self.bindir = _postgres_bin()
        self.as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        self.root, self.data, self.port = root, root / "data", _free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/workbench"

    def _ctl(self, *args: str) -> None:
        cmd = [*self.as_postgres, str(self.bindir / "pg_ctl"), "-D", str(self.data), *args]
        subprocess.run(cmd, check=True, capture_output=True)

    def init(self) -> None:
        if self.as_postgres:  # initdb refuses to run as root; the server's files belong to 'postgres'
            shutil.chown(self.root, "postgres", "postgres")
        self.root.chmod(0o755)
        subprocess.run(
            [*self.as_postgres, str(self.bindir / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres"],
            check=True,
            capture_output=True,
        )
        self.start()
        import sqlalchemy

        admin = sqlalchemy.create_engine(
            f"postgresql://postgres@127.0.0.1:{self.port}/postgres", isolation_level="AUTOCOMMIT"
        )
        with admin.connect() as conn:
            conn.execute(sqlalchemy.text("CREATE DATABASE workbench"))
        admin.dispose()

    def start(self) -> None:
        opts = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c max_connections=200"
        self._ctl("-o", opts, "-l", str(self.root / "log"), "-w", "start")

    def stop(self) -> None:
        self._ctl("-m", "fast", "-w", "stop")


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A real PostgreSQL server for the session, started (and stopped) by the test setup."""
    server = PostgresServer(Path(tempfile.mkdtemp(prefix="workbench-pg-", dir="/tmp")))
    try:
        server.init()
        yield server
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):
            server.stop()
        shutil.rmtree(server.root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_url(postgres: PostgresServer) -> str:
    # The URL form the README shows (psycopg 3 under SQLAlchemy 2.1; `+psycopg2` failed to import).
    return postgres.url


# Reading a study that a starting `workbench study` is still creating: the family's study does not
# exist yet, or this test's reader creates the tables at the same moment as the study does.
# A storage the command under test is still creating: a test's own optuna.load_study takes no
# lock and may race its tables (the UNIQUE constraint on alembic_version; make test, 2026-12-02).
NOT_READY = (KeyError, sqlalchemy.exc.OperationalError, sqlalchemy.exc.IntegrityError)


def wait_for(predicate: Callable[[], bool], timeout: float = 120.0, step: float = 0.2) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return
        time.sleep(step)
    raise TimeoutError("condition not met in time")


def used_slot(t: FrozenTrial) -> bool:
    """A trial that used a slot of the budget: finished by its own run (a killed trial's copy
    uses the slot instead; an overflow trial never had one)."""
    return t.state in (TrialState.COMPLETE, TrialState.PRUNED) or attrs.failed_itself(t)
