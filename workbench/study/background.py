"""Studies that run in background worker processes while the notebook stays free.

``handle = start_study(config, workers=N)`` prepares the experiment (profile included), starts
its workers as processes of their own and returns at once. The study lives in its storage and
in those processes, not in the kernel: a kernel restart leaves it running, and
``watch(name, storage=...)`` re-attaches to it, or to any stored experiment, by reading the
storage (read-only). ``evaluate`` and the report work as soon as it is done.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import pandas as pd

from workbench.config import ExperimentConfig, default_storage_url, study_config
from workbench.study.completion import check_finished, family_finished
from workbench.study.events import Echo
from workbench.study.experiment import Experiment, StoredExperiment, read_experiment
from workbench.study.follow import ProgressFollower
from workbench.study.launch import launch
from workbench.study.processes import WorkerPool
from workbench.study.status import status_frame
from workbench.study.time_limit import TimeLimit


@dataclass
class StudyHandle:
    """A study running in background processes: follow it, wait for it, or stop it."""

    exp: Experiment
    limit: TimeLimit | None
    pool: WorkerPool = field(repr=False)

    @property
    def name(self) -> str:
        return self.exp.config.name

    def __repr__(self) -> str:
        alive = self.pool.alive()
        return f"StudyHandle({self.name!r}: {alive} of {len(self.pool)} workers running; .watch(), .wait(), .stop())"

    def _repr_html_(self) -> str:
        from workbench.display import card

        frame = self.status()
        rows = frame.astype(object).where(frame.notna(), None).itertuples(index=False)
        lines = [f"{self.pool.alive()} of {len(self.pool)} worker processes running · .watch() · .wait() · .stop()"]
        return card(f"Study {self.name}", lines, (list(frame.columns), rows))

    def running(self) -> bool:
        """Any of its worker processes still runs."""
        return self.pool.running()

    def status(self) -> pd.DataFrame:
        """One row per family: progress against the budget, best so far, pruned and failed counts."""
        return status_frame(self.exp)

    def watch(self, echo: Echo | None = None, *, every_s: float = 2.0, timeout_s: float | None = None) -> None:
        """Show the study's progress until its workers are done (in Jupyter: the live view).
        Interrupting the watch (the kernel's stop button) stops watching, never the study: one
        line says so, and how to wait for it or stop it."""
        follow = ProgressFollower(self.exp, self.limit, echo or _default_echo())
        runs_on = (
            f"the watch stopped; study {self.name!r} runs on in its worker processes: handle.wait() waits for it, "
            "handle.stop() stops it (running trials re-queued), handle.watch() follows it again."
        )
        _follow_until(follow, lambda: not self.running(), every_s, timeout_s, runs_on)

    def wait(self, timeout_s: float | None = None) -> Experiment:
        """Block until the workers exit; then every family must be done (else the error says
        how to resume). ``TimeoutError`` if they still run after ``timeout_s``."""
        try:
            codes = self.pool.wait(timeout_s)
        except TimeoutError:
            raise TimeoutError(f"study {self.name!r} still runs after {timeout_s:g} s") from None
        check_finished(self.exp, self.limit, codes, lambda _: None)
        return self.exp

    def stop(self, timeout_s: float = 120.0) -> list[int]:
        """Stop the workers as Ctrl-C does: each re-queues its running trial at a safe point
        and exits; a resume (``start_study`` or ``run_study`` again) runs those trials first.
        Returns the workers' exit codes; any still running after ``timeout_s`` is killed (its
        trial is then re-queued by the next worker's stale-trial check)."""
        return self.pool.end(signal.SIGINT, kill_after_s=timeout_s)


def start_study(
    config: ExperimentConfig | Any,
    *,
    workers: int | Literal["auto"] = "auto",
    per_gpu: int | None = None,
    accelerator: str = "auto",
    heartbeat_s: int | None = None,
    grace_s: int | None = None,
    echo: Echo | None = None,
    **config_values: Any,
) -> StudyHandle:
    """Prepare the experiment and start its workers in the background; returns at once
    (after the profile, which a new experiment runs here first). ``config`` may be the data itself,
    with config keys as keyword arguments, as for ``run_study``."""
    run = launch(
        study_config(config, **config_values),
        workers,
        per_gpu,
        accelerator,
        heartbeat_s,
        grace_s,
        echo or _default_echo(),
        time.time(),
        in_process=False,
    )
    return StudyHandle(run.exp, run.limit, run.pool)


def watch(
    name: str,
    *,
    storage: str | None = None,
    runs_dir: str = "runs",
    echo: Echo | None = None,
    every_s: float = 2.0,
    timeout_s: float | None = None,
) -> StoredExperiment:
    """Follow a stored experiment, wherever its workers run, by reading its storage only:
    progress until every family is done (or ``timeout_s``; interrupting stops the watch)."""
    exp = read_experiment(name, storage or default_storage_url(runs_dir, name))
    limit = exp.time_limit()
    follow = ProgressFollower(exp, limit, echo or _default_echo())

    def finished() -> bool:
        return all(family_finished(exp, f, limit) for f in exp.families)

    runs_on = f"the watch stopped; the study runs on wherever its workers are: wb.watch({name!r}) follows it again."
    _follow_until(follow, finished, every_s, timeout_s, runs_on)
    return exp


def _follow_until(
    follow: ProgressFollower, done: Callable[[], bool], every_s: float, timeout_s: float | None, runs_on: str
) -> None:
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    try:
        while True:
            follow.poll(force=True)
            if done() or (deadline is not None and time.monotonic() > deadline):
                follow.poll(force=True)
                return
            time.sleep(every_s)
    except KeyboardInterrupt:  # the watch ends; the study runs on in its own processes
        print(runs_on, flush=True)


def _default_echo() -> Echo:
    from workbench.study.progress import LiveProgress

    return LiveProgress()
