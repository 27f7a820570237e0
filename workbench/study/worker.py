"""Workers: run each family's trials until its budget, counted in the storage, is used up;
several on one machine (``run_study(workers=N)``) or anywhere (``workbench worker``)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import optuna
from optuna.trial import TrialState

from workbench.config import ExperimentConfig
from workbench.errors import StudyError, WorkbenchError
from workbench.interrupt import Interrupted, interruptible, raise_at_once, safe_point, wait_or_stop
from workbench.models.train import DEFAULT_EPOCHS, default_threads
from workbench.study import attrs
from workbench.study.attrs import ATTR_SPACE
from workbench.study.budget import budget_state, may_run
from workbench.study.experiment import Experiment, open_experiment, prepare
from workbench.study.objective import Objective
from workbench.study.space import space_from_dict
from workbench.study.status import progress_line, run_length_text, waiting_text
from workbench.study.storage import (
    GRACE_S,
    HEARTBEAT_S,
    heartbeat,
    requeue,
    requeue_dead_trials,
    trial_id_of,
    waits_for,
)


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
    if exp.data.trial.plan.n_folds > 1:
        # Steps are folds: stop a trial whose fold scores are, paired, clearly worse than the
        # best trial's (epochs within a fold are pruned by the objective's median rule).
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.pruners.WilcoxonPruner(p_threshold=0.1, n_startup_steps=2)
    if cfg.name == "hyperband":
        return optuna.pruners.HyperbandPruner(
            min_resource=max(1, cfg.n_warmup_steps), max_resource=exp.config.max_epochs or DEFAULT_EPOCHS
        )
    return optuna.pruners.MedianPruner(n_startup_trials=cfg.n_startup_trials, n_warmup_steps=cfg.n_warmup_steps)


class StudyInterrupted(KeyboardInterrupt):
    """Ctrl-C (or SIGTERM) during a study: the running trial was re-queued with the same
    parameters; the message says how to resume. The CLI prints it and exits 130."""


RESUME = "every finished trial is stored. Run the same command again to resume."


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
    running = _Running()
    with interruptible(RESUME, finished="the studies were done; " + RESUME, raises=StudyInterrupted):
        try:
            # Every family's budget first, then stay for other workers' running trials: a
            # worker never idles on one family while another still has budget.
            for wait in (False, True):
                for objective in objectives:
                    _run_family(exp, objective, worker_id, echo, running, wait=wait)
        except Interrupted as stop:
            stop.what = _requeue_running(exp, running) + RESUME
            raise


def _requeue_running(exp: Experiment, running: _Running) -> str:
    """After Ctrl-C: the trial in hand goes back to the queue with the same parameters."""
    if running.trial is None:
        return ""
    study = exp.study(running.family)
    trial = study.get_trials(deepcopy=False)[running.trial.number]
    if trial.state == TrialState.RUNNING and requeue(study, exp.storage, trial):
        return f"trial {trial.number} of {running.family} re-queued with the same parameters; "
    return ""


@dataclass
class _Running:
    """The trial this worker is training, for a re-queue on Ctrl-C."""

    family: str = ""
    trial: optuna.Trial | None = None


def _run_family(
    exp: Experiment,
    objective: Objective,
    worker_id: int,
    echo: Callable[[str], object],
    running: _Running,
    *,
    wait: bool,
) -> None:
    """Run the family's trials until its budget is taken; with ``wait``, then stay until no
    trial of it runs, re-running any whose worker died."""
    family, budget = objective.family, exp.config.budget
    study = exp.study(family)
    study.pruner = _pruner(exp)
    _echo_requeued(family, requeue_dead_trials(study, exp.storage), echo)
    trials = study.get_trials(deepcopy=False)
    study.sampler = _sampler(exp, family, len(trials), worker_id)
    overflowed = False  # other workers took this worker's last slot
    last_wait_line = 0.0
    while True:
        state = budget_state(trials, budget)
        safe_point()  # a safe point: between trials
        if not state.exhausted and not overflowed:
            requeue_dead_trials(study, exp.storage)  # before asking: a dead worker's trial is run first
            try:
                finished, seen = _run_trial(exp, study, objective, running)
            except _TakenOver as taken:
                running.trial = None
                echo(
                    f"[{family:<10}] trial {taken.number} was re-queued by another worker while it ran "
                    "(its heartbeat was late); its copy runs again"
                )
                trials = study.get_trials(deepcopy=False)
                continue
            if finished is None:
                overflowed, trials = True, study.get_trials(deepcopy=False)
                continue
            trials = [finished if t.number == finished.number else t for t in seen]
            if finished.state == TrialState.FAIL:
                reason = (attrs.failure(finished) or "its value was not a number").strip().splitlines()[-1]
                echo(f"[{family:<10}] trial {finished.number} failed: {reason}")
            echo(progress_line(exp, family, trials, study.direction))
            continue
        if not state.trials_in_flight:
            return
        if requeued := requeue_dead_trials(study, exp.storage):
            _echo_requeued(family, requeued, echo)
            overflowed, trials = False, study.get_trials(deepcopy=False)
            continue
        if not wait or not waits_for(study, exp.storage):
            return  # (local file: the running trials belong to other hosts' workers)
        if time.monotonic() - last_wait_line > 30:
            echo(f"[{family:<10}] budget taken; {waiting_text(study, exp.storage)}")
            last_wait_line = time.monotonic()
        beat = heartbeat(exp.storage)
        wait_or_stop(min(beat.interval if beat else 1, 5))  # wakes at once on Ctrl-C
        trials = study.get_trials(deepcopy=False)


def _run_trial(
    exp: Experiment, study: optuna.Study, objective: Objective, running: _Running
) -> tuple[optuna.trial.FrozenTrial | None, list[optuna.trial.FrozenTrial]]:
    """Ask for a trial; if the budget still has its slot, train it and tell the result.
    Returns the finished trial (None when other workers took the slot) and the trials the
    storage held when it was asked for.

    Trial numbers come from the storage atomically: when workers race for the last slot,
    exactly one fits (``budget.may_run``); the others end theirs as ``overflow``, which no
    budget counts, without an exception or a logged failure.
    """
    with warnings.catch_warnings():  # Optuna warns that ask() sends no heartbeat: _beating() does
        warnings.simplefilter("ignore", UserWarning)
        trial = study.ask()
    seen = study.get_trials(deepcopy=False)
    if not may_run(seen, trial.number, exp.config.budget):
        trial.set_user_attr(attrs.OVERFLOW, True)
        study.tell(trial, state=TrialState.FAIL)
        return None, seen
    running.family, running.trial = objective.family, trial
    with _beating(exp.storage, study, trial.number):
        try:
            value = objective(trial, seen)
        except optuna.TrialPruned:
            finished = _tell(study, trial, state=TrialState.PRUNED)
        except Exception:  # recorded by the objective (its traceback); the study goes on
            finished = _tell(study, trial, state=TrialState.FAIL)
        else:
            finished = _tell(study, trial, value)
    running.trial = None  # kept on Ctrl-C (not an Exception): the interrupt re-queues it
    return finished, seen


class _TakenOver(Exception):
    """Another worker failed and re-queued this worker's trial while it ran."""

    def __init__(self, number: int) -> None:
        super().__init__(number)
        self.number = number


def _tell(
    study: optuna.Study, trial: optuna.Trial, value: float | None = None, state: TrialState | None = None
) -> optuna.trial.FrozenTrial:
    """Tell a trial's end. A trial whose heartbeat looked stale to another worker (a loaded
    machine, a long pause) was failed and re-queued by it: its copy runs again, so this
    result is dropped rather than killing the worker."""
    try:
        return study.tell(trial, value, state=state)
    except (ValueError, RuntimeError):  # "Cannot tell a FAIL trial" / UpdateFinishedTrialError
        if study.get_trials(deepcopy=False)[trial.number].state == TrialState.RUNNING:
            raise  # a refusal for another reason (a wrong value): not a take-over
        raise _TakenOver(trial.number) from None


@contextmanager
def _beating(storage: optuna.storages.BaseStorage, study: optuna.Study, number: int) -> Iterator[None]:
    """A server database's heartbeat for a running trial, as ``study.optimize`` would send it:
    a trial whose heartbeat stops is re-queued by the other workers (``storage.py``)."""
    beat = heartbeat(storage)
    if beat is None:
        yield
        return
    trial_id = trial_id_of(study, storage, number)
    stop = threading.Event()

    def send() -> None:
        while True:
            storage.record_heartbeat(trial_id)  # type: ignore[attr-defined]
            if stop.wait(beat.interval):
                return

    thread = threading.Thread(target=send, name="workbench-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def _echo_requeued(family: str, numbers: list[int], echo: Callable[[str], object]) -> None:
    if numbers:
        echo(f"[{family:<10}] re-queued trial(s) {numbers}: their worker stopped")


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
    with interruptible(RESUME, finished="the studies were done; " + RESUME, raises=StudyInterrupted):
        exp = prepare(config, heartbeat_s=heartbeat_s, grace_s=grace_s, echo=echo)
        echo(run_length_text(config))
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
            settings = {"name": config.name, "storage": config.storage_url, "worker_id": i, "threads": threads}
            settings |= {"heartbeat_s": heartbeat_s, "grace_s": grace_s, "accelerator": accelerator}
            procs.append(start_worker(settings, gpu=i % gpus if gpus else None))
        echo(f"started {workers} workers ({threads} thread(s) each{', one per GPU' if gpus else ''})")
        codes = _wait_for_workers(procs)
    unfinished = [f for f in exp.families if not budget_state(exp.study(f).get_trials(), config.budget).exhausted]
    if unfinished:  # a worker that died is made up for by the others; only all of them dying ends short
        raise StudyError(
            f"worker exit codes {codes} and {unfinished} not finished; the storage keeps every finished trial, "
            "rerun to resume."
        )
    if any(codes):
        echo(f"note: worker exit codes {codes}; the other workers re-ran the trials of those that stopped")
    return exp


def _wait_for_workers(procs: list[subprocess.Popen[bytes]]) -> list[int]:
    """Wait for the worker processes, reaping each as it exits (killed ones too). Ctrl-C or
    SIGTERM is passed on to them (they run in sessions of their own, so that a terminal's
    Ctrl-C reaches each of them once, through here): each re-queues its trial and exits."""
    try:
        while any(p.poll() is None for p in procs):
            wait_or_stop(0.5)
    except Interrupted as stop:
        _signal_workers(procs, stop.signum)
        try:
            for p in procs:
                p.wait()
        except Interrupted:  # a second Ctrl-C: passed on, the workers too stop at once
            _signal_workers(procs, stop.signum)
            for p in procs:
                p.wait()
        stop.what = "the workers re-queued their running trials; " + RESUME
        raise
    return [int(p.returncode) for p in procs]


def _signal_workers(procs: list[subprocess.Popen[bytes]], signum: int) -> None:
    for p in procs:
        if p.poll() is None:
            p.send_signal(signum)


_WORKER_MAIN = "import json, sys; from workbench.study.worker import worker_main; worker_main(json.loads(sys.argv[1]))"


def start_worker(settings: dict[str, Any], *, gpu: int | None = None) -> subprocess.Popen[bytes]:
    """A worker in a fresh interpreter (torch and CUDA state are per process). Not
    multiprocessing's spawn: that re-imports the caller's ``__main__``, which reruns a
    script that has no ``if __name__ == "__main__"`` guard."""
    env = dict(os.environ)
    if gpu is not None:
        env["CUDA_VISIBLE_DEVICES"] = str(gpu)
    return subprocess.Popen([sys.executable, "-c", _WORKER_MAIN, json.dumps(settings)], env=env, start_new_session=True)


def worker_main(settings: dict[str, Any]) -> None:
    """A worker process: join the experiment and run trials until the budgets are used.
    Exits 130 on Ctrl-C (its trial re-queued) and 2 on a user error, with one line."""
    raise_at_once()  # a worker of a background job inherits SIGINT ignored
    try:
        exp = open_experiment(
            settings["name"], settings["storage"], heartbeat_s=settings["heartbeat_s"], grace_s=settings["grace_s"]
        )
        run_worker(
            exp, worker_id=settings["worker_id"], threads=settings["threads"], accelerator=settings["accelerator"]
        )
    except KeyboardInterrupt as exc:
        print(exc or "interrupted before it started a trial", file=sys.stderr)
        raise SystemExit(130) from None
    except WorkbenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def _gpu_count() -> int:
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0
