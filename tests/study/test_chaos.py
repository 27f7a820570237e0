"""Chaos: workers killed with SIGKILL at random moments, one of them in the last trials of a
budget. Whatever the timing, every family ends with exactly its budget of finished trials,
no finished trial is lost, and every killed trial is re-queued once (issue 16).

The seed of each run is in the failure message; ``CHAOS_SEED=<n>`` replays it."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import optuna
import pytest
import yaml
from optuna.trial import FrozenTrial, TrialState

from workbench.config import ExperimentConfig
from workbench.study import attrs, open_storage, prepare

from .conftest import NOT_READY, used_slot, wait_for, worker

Make = Callable[..., ExperimentConfig]
BUDGET = 6
FAMILIES = ("mlp", "conv1d")


@dataclass
class Chaos:
    config: ExperimentConfig
    rng: random.Random
    killed: list[tuple[str, int]] = field(default_factory=list)  # (family, trial number) killed mid-run
    completed: dict[tuple[str, int], dict[str, object]] = field(default_factory=dict)  # seen COMPLETE: params

    def __post_init__(self) -> None:
        self.storage = open_storage(self.config.storage_url)  # one connection pool for the whole test

    def study(self, family: str) -> optuna.Study:
        return optuna.load_study(study_name=f"{self.config.name}/{family}", storage=self.storage)

    def trials(self) -> dict[str, list[FrozenTrial]]:
        return {family: self.study(family).get_trials() for family in FAMILIES}

    def remember_completed(self) -> None:
        for family, trials in self.trials().items():
            for t in trials:
                if t.state == TrialState.COMPLETE:
                    self.completed[(family, t.number)] = t.params

    def victims(self, *, near_end: bool) -> list[tuple[str, FrozenTrial]]:
        """Running trials worth killing: not a second retry (those are not re-queued again), and
        with ``near_end`` only in a family whose budget is nearly taken."""
        out = []
        for family, trials in self.trials().items():
            taken = sum(used_slot(t) for t in trials)
            if near_end and taken < BUDGET - 2:
                continue
            for t in trials:
                if (
                    t.state == TrialState.RUNNING
                    and "worker" in t.user_attrs
                    # a re-queued copy carries its dead worker's pid until its new worker writes its own
                    and alive(int(t.user_attrs["worker"]["pid"]))
                    and len(attrs.retry_history(t)) < attrs.MAX_RETRIES
                ):
                    out.append((family, t))
        return out

    def done(self) -> bool:
        return all(
            sum(used_slot(t) for t in trials) >= BUDGET and not any(t.state == TrialState.RUNNING for t in trials)
            for trials in self.trials().values()
        )

    def kill_one(self, *, near_end: bool, timeout: float = 120) -> int | None:
        """SIGKILL the worker of a random running trial; its pid, or None if none ran in time."""
        end = time.monotonic() + timeout
        while time.monotonic() < end and not self.done():
            if candidates := self.victims(near_end=near_end):
                self.remember_completed()
                family, trial = self.rng.choice(candidates)
                pid = int(trial.user_attrs["worker"]["pid"])
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    continue
                time.sleep(0.3)
                now = self.study(family).get_trials()[trial.number]
                if now.state == TrialState.RUNNING or (now.state == TrialState.FAIL and not used_slot(now)):
                    self.killed.append((family, trial.number))  # killed mid-trial, not just after it
                return pid
            time.sleep(0.1)
        return None

    def check(self) -> None:
        for family, trials in self.trials().items():
            numbers = [t.number for t in trials]
            assert len(numbers) == len(set(numbers)), f"{family}: duplicate trial numbers"
            assert [t for t in trials if t.state in (TrialState.RUNNING, TrialState.WAITING)] == [], family
            finished = [t for t in trials if used_slot(t)]
            assert len(finished) == BUDGET, f"{family}: {len(finished)} finished trials, budget {BUDGET}"
        for (family, number), params in self.completed.items():
            t = self.study(family).get_trials()[number]
            assert t.state == TrialState.COMPLETE and t.params == params, f"{family} trial {number} was lost"
        for family, number in self.killed:
            # retry_history ends with the trial a copy re-runs (failed_trial names the first of a chain)
            copies = [t for t in self.study(family).get_trials() if attrs.retry_history(t)[-1:] == [number]]
            assert len(copies) == 1, f"{family} trial {number} killed, re-queued {len(copies)} times: " + self.describe(
                family
            )
            killed = self.study(family).get_trials()[number]
            # The copy keeps every value the killed trial drew. Killed before or while drawing them,
            # it has fewer (or none): its copy draws the rest.
            assert copies[0].state.is_finished() and killed.params.items() <= copies[0].params.items()

    def describe(self, family: str) -> str:
        """Every trial of the family, for a failure message."""
        return (
            "\n".join(
                f"#{t.number} {t.state.name} worker={t.user_attrs.get('worker')} system={t.system_attrs} "
                f"failure={(attrs.failure(t) or '')[-200:]!r} overflow={attrs.overflow(t)} "
                f"start={t.datetime_start} end={t.datetime_complete}"
                for t in self.study(family).get_trials()
            )
            + f"\nkilled: {self.killed}"
        )


def alive(pid: int) -> bool:
    """Whether the process runs. A zombie (killed, not yet reaped by its parent) does not."""
    try:
        os.kill(pid, 0)
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (ProcessLookupError, FileNotFoundError):
        return False


def started(chaos: Chaos) -> bool:
    try:
        chaos.trials()
    except NOT_READY:
        return False
    return True


def chaos_config(make_experiment: Make, name: str, storage: str) -> ExperimentConfig:
    return make_experiment(
        name=name, families=list(FAMILIES), storage=storage, max_epochs=80, **{"budget.trials": BUDGET}
    )


def seeded() -> random.Random:
    seed = int(os.environ.get("CHAOS_SEED", random.SystemRandom().randrange(10**6)))
    print(f"chaos seed {seed}")
    return random.Random(seed)


@pytest.mark.slow
def test_chaos_on_postgresql_four_workers(make_experiment: Make, postgres_url: str) -> None:
    rng = seeded()
    config = chaos_config(make_experiment, f"chaos-{rng.randrange(10**9)}", postgres_url)
    prepare(config, heartbeat_s=1, grace_s=3, echo=lambda _: None)
    chaos = Chaos(config, rng)
    procs = [worker(config.name, postgres_url, "--worker-id", str(i + 1)) for i in range(4)]
    for near_end in (False, False, True):
        time.sleep(rng.uniform(0.0, 3.0))
        pid = chaos.kill_one(near_end=near_end)
        if (pid is not None and rng.random() < 0.5) or all(p.poll() is not None for p in procs):
            procs.append(worker(config.name, postgres_url, "--worker-id", str(len(procs) + 1)))  # a replacement
    live = [p for p in procs if p.returncode != -signal.SIGKILL]
    for p in live:
        out = p.communicate(timeout=600)[0]
        assert p.returncode in (0, -signal.SIGKILL), out.decode() if out else ""
    assert len(chaos.killed) >= 2, f"seed: see stdout; killed {chaos.killed}"
    chaos.check()


@pytest.mark.slow
def test_chaos_on_sqlite_with_two_local_workers(make_experiment: Make, tmp_path: Path) -> None:
    rng = seeded()
    config = chaos_config(make_experiment, "chaos", f"sqlite:///{tmp_path}/chaos.db")
    prepare(config, heartbeat_s=1, grace_s=3, echo=lambda _: None)  # `study` keeps the stored heartbeat
    path = tmp_path / "chaos.yaml"
    path.write_text(yaml.safe_dump(config.model_dump()))
    command = [sys.executable, "-m", "workbench.cli", "study", str(path), "--workers", "2", "--no-evaluate"]
    chaos = Chaos(config, rng)
    study = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    wait_for(lambda: Path(f"{tmp_path}/chaos.db").is_file())
    wait_for(lambda: started(chaos))  # past profiling: the families' studies exist
    for near_end in (False, True):
        time.sleep(rng.uniform(0.0, 2.0))
        chaos.kill_one(near_end=near_end)
    out = study.communicate(timeout=600)[0].decode()
    for _ in range(3):  # both workers killed: the study says so and a rerun resumes, as a user would
        if study.returncode == 0:
            break
        assert "rerun to resume" in out, out
        study = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        out = study.communicate(timeout=600)[0].decode()
    assert study.returncode == 0, out
    assert len(chaos.killed) >= 1, f"killed {chaos.killed}"
    chaos.check()
