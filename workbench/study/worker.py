"""Workers: run each family's trials until its budget, counted in the storage, is used up;
several on one machine (``run_study(workers=N)``) or anywhere (``workbench worker``)."""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import json
import os
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any, Literal

import optuna
from optuna.trial import TrialState

from workbench.candidates import CANDIDATES
from workbench.config import ExperimentConfig, study_config
from workbench.errors import ConfigError, StudyError, WorkbenchError
from workbench.interrupt import (
    ENDS_AT_ONCE_UNTIL_IT_LISTENS,
    Interrupted,
    exit_at_once_from_now,
    interruptible,
    safe_point,
    wait_or_stop,
)
from workbench.models.train import CHECKS, DEFAULT_EPOCHS, default_threads
from workbench.study import attrs
from workbench.study.attrs import ATTR_SPACE
from workbench.study.budget import budget_state, may_run, trial_seconds
from workbench.study.costs import estimate_costs, reference_config
from workbench.study.evaluate import top_trials
from workbench.study.events import (
    FamilyNote,
    FamilySkipped,
    FamilyStopped,
    FamilyWaiting,
    Note,
    TrialFailed,
    TrialsRequeued,
    emit,
)
from workbench.study.experiment import Experiment, StoredExperiment, open_experiment, prepare
from workbench.study.objective import Objective
from workbench.study.recovery import Requeue, requeue, start_trial, sweep, waits_for
from workbench.study.scale import FIRST_RUNG, replicates, successive_halving
from workbench.study.space import space_from_dict
from workbench.study.status import progress_event, run_length_text, waiting_text
from workbench.study.stopping import family_search_state, skip_waiting_defaults
from workbench.study.storage import (
    StorageFailure,
    is_permanent,
    retry_storage,
    storage_cause,
    storage_lost,
    storage_problem_text,
    storage_wait_s,
)
from workbench.study.time_limit import TimeLimit, announcement, fit_to_time, too_short_text


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
    if exp.data.trial.large:  # steps are validation checks: multi-fidelity, cheap first (scale.py)
        return successive_halving()
    if cfg.name == "hyperband":
        return optuna.pruners.HyperbandPruner(
            min_resource=max(1, cfg.n_warmup_steps), max_resource=exp.config.max_epochs or DEFAULT_EPOCHS
        )
    return optuna.pruners.MedianPruner(n_startup_trials=cfg.n_startup_trials, n_warmup_steps=cfg.n_warmup_steps)


class StudyInterrupted(KeyboardInterrupt):
    """Ctrl-C (or SIGTERM) during a study: the running trial was re-queued with the same
    parameters; the message says how to resume. The CLI prints it and exits 130."""


RESUME = "every finished trial is stored. Run the same command again to resume."


def _study_interruptible() -> AbstractContextManager[None]:
    """A study's Ctrl-C (``workbench.interrupt``): the running trial re-queued at the next safe
    point, then :class:`StudyInterrupted` with how to resume."""
    return interruptible(RESUME, finished="the studies were done; " + RESUME, raises=StudyInterrupted)


def run_worker(
    exp: Experiment,
    *,
    families: list[str] | None = None,
    worker_id: int = 0,
    threads: int | None = None,
    accelerator: str = "auto",
    echo: Callable[[str], object] = print,
) -> None:
    """Run trials for each family until its budget (counted in the storage) is used up, its
    search is done (``stopping.py``) or the time limit of the experiment's run, as stored with it,
    is up.

    Families take turns, one trial each, so that every family's proven defaults run first
    and a time limit is shared (under a time limit the baselines, which cost seconds, take
    their turn first). A worker whose budget is all paid for then stays while other
    workers' trials run, so that a trial whose worker dies near the end is re-queued and the
    study never ends short. On Ctrl-C the current trial is re-queued and
    :class:`StudyInterrupted` is raised.
    """
    running = _Running()
    limit = exp.time_limit()
    # Optuna's own log lines (a failed trial's traceback, "Caught an error from sqlalchemy" while its
    # storage restarts) repeat what the progress lines and the one error line say.
    with _study_interruptible(), _optuna_logs_errors_only():
        try:
            order = families or exp.families
            if limit is not None:  # baselines first: seconds each, and the time must not end before them
                order = sorted(order, key=lambda family: CANDIDATES[family].deep)  # (ArrowHead lost MiniRocket)
            runs = [
                _FamilyRun(exp, family, worker_id, echo, running, limit, threads=threads, accelerator=accelerator)
                for family in order
            ]
            # Each worker starts its rounds at another family, so that workers spread over the
            # families instead of racing through the same one (whose search may end at its first trial).
            k = worker_id % len(runs) if runs else 0
            active = runs[k:] + runs[:k]
            while active:  # one trial per family per round
                kept = []
                for run in active:
                    if limit is not None and limit.refits:  # the evaluation's refits, as their trials cost
                        limit.refit(refit_costs(exp, list(limit.refits)))
                    # A family whose first trial runs elsewhere may be done when it ends (a perfect
                    # score stops it): work on another family meanwhile, if there is one.
                    defer = run.first_result_pending() and any(
                        not r.first_result_pending() for r in active if r is not run and r.may_run()
                    )
                    if defer or run.next_trial():
                        kept.append(run)
                active = kept
                if not active and limit is not None:  # time that families done meanwhile handed on
                    active = [run for run in runs if run.may_run() and run._stop_reason() is None]
            for run in runs:
                run.stay()
        except Interrupted as stop:
            stop.what = _requeue_running(exp, running) + RESUME
            raise


def _requeue_running(exp: Experiment, running: _Running) -> str:
    """After Ctrl-C: the trial in hand goes back to the queue with the same parameters."""
    if running.trial is None:
        return ""
    study = exp.study(running.family)
    trial = study.get_trials(deepcopy=False)[running.trial.number]
    if trial.state == TrialState.RUNNING and requeue(study, trial):
        return f"trial {trial.number} of {running.family} re-queued with the same parameters; "
    return ""


@dataclass
class _Running:
    """The trial this worker is training, for a re-queue on Ctrl-C."""

    family: str = ""
    trial: optuna.Trial | None = None


class _FamilyRun:
    """One family's trials in this worker: its study, sampler and objective, and whether it
    may run another trial now."""

    def __init__(
        self,
        exp: Experiment,
        family: str,
        worker_id: int,
        echo: Callable[[str], object],
        running: _Running,
        limit: TimeLimit | None,
        *,
        threads: int | None,
        accelerator: str,
    ) -> None:
        self.exp, self.family, self.echo, self.running, self.limit = exp, family, echo, running, limit
        self.study = exp.study(family)
        self.study.pruner = _pruner(exp)
        space = space_from_dict(self.study.user_attrs[ATTR_SPACE])
        self.objective = Objective(
            family,
            space,
            exp.data.trial,
            exp.config,
            exp.metric,
            threads=threads,
            accelerator=accelerator,
            reference=reference_config(exp.data, family, space),
            limit=limit,
        )
        _echo_requeued(family, sweep(self.study, exp.storage), echo)
        self.trials = self.study.get_trials(deepcopy=False)
        self.study.sampler = _sampler(exp, family, len(self.trials), worker_id)
        self.overflowed = False  # other workers took this worker's last slot
        self.said: set[str] = set()  # reasons to stop already printed
        self.time_stop_stored = False
        self.failing_since: float | None = None  # when the storage began failing, until a trial ends

    def first_result_pending(self) -> bool:
        """No trial of this family has ended yet, and one is running (in another worker)."""
        self.trials = self.study.get_trials(deepcopy=False)
        return not any(t.state.is_finished() for t in self.trials) and any(
            t.state == TrialState.RUNNING for t in self.trials
        )

    def may_run(self) -> bool:
        """Its budget has room and its search is not known to be done (cheap: no stopping rule)."""
        stopped = self.exp.config.stop_when_done and attrs.ATTR_STOPPED in self.study.user_attrs
        return not (self.overflowed or stopped or budget_state(self.trials, self.exp.config.budget).exhausted)

    def next_trial(self) -> bool:
        """Run one trial if the family may have one; False when it has none for this worker now.
        A failure of the storage (a server restarting, a file locked or unwritable for a while) is
        waited out and the trial it cut short re-queued; only one that lasts ends the worker."""
        try:
            ran = self._next_trial()
        except StorageFailure as failure:
            self._recover(failure.cause, failure.trial)
            return True
        except Exception as exc:
            if (cause := storage_cause(exc)) is None:
                raise
            self._recover(cause, self.running.trial.number if self.running.trial is not None else None)
            return True
        self.failing_since = None
        return ran

    def _recover(self, cause: BaseException, number: int | None) -> None:
        """After a failure of the storage: wait until it answers, then re-queue the trial it cut
        short with the same parameters (a failure of the storage is not one of the trial, and the
        budget counts the copy, as for a trial whose worker was killed). A failure that waiting
        cannot mend, or that outlasts ``storage_wait_s`` without a trial ending, ends the worker."""
        self.running.trial = None
        if is_permanent(cause):
            raise storage_lost(cause, None)
        if self.failing_since is None:
            self.failing_since = time.monotonic()
        elif (waited := time.monotonic() - self.failing_since) > storage_wait_s():
            raise storage_lost(cause, waited)
        else:
            wait_or_stop(2.0)  # failing again before any trial ended: give the storage a moment

        def requeue_cut_short() -> str:
            trials = self.study.get_trials(deepcopy=False)
            cut = trials[number] if number is not None and number < len(trials) else None
            if cut is not None and cut.state == TrialState.RUNNING and requeue(self.study, cut):
                return f"; trial {number} re-queued with the same parameters"
            stored_as_failed = cut is not None and cut.state == TrialState.FAIL and not attrs.failed_itself(cut)
            if cut is not None and stored_as_failed and number not in attrs.replaced(trials):
                Requeue()(self.study, cut)
                return f"; trial {number} re-queued with the same parameters"
            return ""

        said = retry_storage(requeue_cut_short, echo=lambda line: emit(self.echo, FamilyNote(self.family, line)))
        self.trials = self.study.get_trials(deepcopy=False)
        emit(self.echo, FamilyNote(self.family, f"the storage answers again{said}"))

    def _next_trial(self) -> bool:
        safe_point()  # between trials
        if self.overflowed or budget_state(self.trials, self.exp.config.budget).exhausted:
            return False
        if (reason := self._stop_reason()) is not None:
            self._say(reason)
            return False
        try:
            finished, trials = _run_trial(self.exp, self.study, self.objective, self.running)
        except _TakenOver as taken:
            self.running.trial = None
            emit(
                self.echo,
                FamilyNote(
                    self.family,
                    f"trial {taken.number} was re-queued by another worker while it ran "
                    "(its heartbeat was late); its copy runs again",
                ),
            )
            self.trials = self.study.get_trials(deepcopy=False)
            return True
        self.trials = trials
        if finished is None:
            self.overflowed = True
            return False
        if finished.state == TrialState.FAIL:
            reason = (attrs.failure(finished) or "its value was not a number").strip().splitlines()[-1]
            emit(self.echo, TrialFailed(self.family, finished.number, reason))
        emit(self.echo, progress_event(self.exp, self.family, self.trials, self.study.direction, self.limit))
        return True

    def _stop_reason(self) -> str | None:
        """Why this family runs no more trials though its budget has room: its search is done
        (stored with the study, so every worker and the report say the same), or the time is up."""
        config = self.exp.config
        if config.stop_when_done:
            stored = self.study.user_attrs.get(attrs.ATTR_STOPPED)
            if stored is not None:
                self.said.add(str(stored))  # the worker that stored it said it
                return str(stored)
            if not any(attrs.retried(t) is not None for t in self.trials if t.state == TrialState.WAITING):
                state = family_search_state(self.exp, self.family, self.trials, self.study.direction)
                if state.done:
                    self.study.set_user_attr(attrs.ATTR_STOPPED, state.reason)
                    skip_waiting_defaults(self.study, state.reason)
                    self.trials = self.study.get_trials(deepcopy=False)
                    return state.reason
        if self.limit is not None:
            why = self.limit.allows(self.family, self.trials, lambda: released(self.exp))
            if why is None:
                return None
            reason = f"time limit: {why}"
            if not self.time_stop_stored:  # stored once, for status, a watch and the report
                self.study.set_user_attr(attrs.ATTR_TIME_STOPPED, {"reason": reason, "deadline": self.limit.deadline})
                self.time_stop_stored = True
            return reason
        return None

    def _say(self, reason: str) -> None:
        if reason not in self.said:
            self.said.add(reason)
            emit(self.echo, FamilyStopped(self.family, reason))

    def stay(self) -> None:
        """Stay until no trial of this family runs, re-running any whose worker died."""
        self.last_wait_line = 0.0
        while True:
            safe_point()
            if self.next_trial():
                continue
            try:
                if not self._wait_a_moment():
                    return
            except Exception as exc:
                if (cause := storage_cause(exc)) is None:
                    raise
                self._recover(cause, None)

    def _wait_a_moment(self) -> bool:
        """One round of :meth:`stay`: re-queue the trials whose worker died, or wait a second for
        the running ones; False once none of this family runs (or none could be recovered)."""
        if not budget_state(self.trials, self.exp.config.budget).trials_in_flight:
            return False
        if requeued := sweep(self.study, self.exp.storage):
            _echo_requeued(self.family, requeued, self.echo)
            self.overflowed, self.trials = False, self.study.get_trials(deepcopy=False)
            return True
        if not waits_for(self.study, self.exp.storage):
            return False  # a journal file: nothing would notice a dead worker
        if time.monotonic() - self.last_wait_line > 30:
            emit(self.echo, FamilyWaiting(self.family, waiting_text(self.study, self.exp.storage)))
            self.last_wait_line = time.monotonic()
        wait_or_stop(1)  # wakes at once on Ctrl-C
        self.trials = self.study.get_trials(deepcopy=False)
        return True


def _run_trial(
    exp: Experiment, study: optuna.Study, objective: Objective, running: _Running
) -> tuple[optuna.trial.FrozenTrial | None, list[optuna.trial.FrozenTrial]]:
    """Run one trial through ``study.optimize`` (Optuna's heartbeat and stale-trial sweep:
    ``recovery.py``). Returns the finished trial (None when other workers took the budget's
    last slot) and the storage's trials after it ended.

    Trial numbers come from the storage atomically: when workers race for the last slot,
    exactly one fits (``budget.may_run``); the others end theirs as ``overflow``, which no
    budget counts, without a logged failure.
    """
    asked: list[int] = []

    def run(trial: optuna.Trial) -> float:
        asked.append(trial.number)
        running.family, running.trial = objective.family, trial
        try:
            seen = study.get_trials(deepcopy=False)
            if not may_run(seen, trial.number, exp.config.budget):
                trial.set_user_attr(attrs.OVERFLOW, True)
                raise _Overflow
            start_trial(study, exp.storage, trial)
        except Exception as exc:
            if storage_cause(exc) is not None:  # not the trial's failure: past Optuna's `catch`
                raise StorageFailure(exc, trial.number) from exc
            raise
        return objective(trial, seen)  # an exception is recorded by the objective (its traceback)

    try:
        # Exceptions of the objective fail the trial and the study goes on (``catch``); Ctrl-C
        # (``Interrupted``) and a failure of the storage (``StorageFailure``), not Exceptions,
        # leave it RUNNING, to be re-queued.
        with _optuna_logs_errors_only():
            study.optimize(run, n_trials=1, catch=(Exception,))
    except Exception as exc:
        if storage_cause(exc) is not None:  # Optuna could not store the trial's end (or ask for one)
            raise StorageFailure(exc, asked[0] if asked else None) from exc
        # Optuna refused to store the end: another worker failed the trial as stale (a long
        # pause) and queued its copy, which runs again.
        if asked and asked[0] in attrs.replaced(study.get_trials(deepcopy=False)):
            raise _TakenOver(asked[0]) from None
        raise
    running.trial = None  # kept on Ctrl-C: the interrupt re-queues it
    trials = study.get_trials(deepcopy=False)
    finished = trials[asked[0]]
    return (None if attrs.overflow(finished) else finished), trials


@contextmanager
def _optuna_logs_errors_only() -> Iterator[None]:
    """Optuna logs each failed trial with its traceback (the objective records it and a TrialFailed
    line says it once; an overflow is no failure at all) and each retried read while its storage
    restarts (the progress lines say it once)."""
    before = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    try:
        yield
    finally:
        optuna.logging.set_verbosity(before)


class _Overflow(Exception):
    """The trial was asked for after other workers took the budget's last slot."""


class _TakenOver(Exception):
    """Another worker failed and re-queued this worker's trial while it ran."""

    def __init__(self, number: int) -> None:
        super().__init__(number)
        self.number = number


def _echo_requeued(family: str, numbers: list[int], echo: Callable[[str], object]) -> None:
    if numbers:
        emit(echo, TrialsRequeued(family, tuple(numbers)))


def run_study(
    config: ExperimentConfig | Any,
    *,
    workers: int | Literal["auto"] = 1,
    per_gpu: int | None = None,
    accelerator: str = "auto",
    heartbeat_s: int | None = None,
    grace_s: int | None = None,
    echo: Callable[[str], object] = print,
    started: float | None = None,
    **config_values: Any,
) -> Experiment:
    """Prepare the experiment, then run its trials here or in ``workers`` processes
    (``"auto"``: :func:`auto_workers`), whose progress is followed here from the storage.

    With CUDA GPUs, ``per_gpu`` workers per GPU (``CUDA_VISIBLE_DEVICES``; default: from the
    device's free memory and the cores, :func:`trials_per_gpu`); on CPU, the cores are divided
    among the workers.
    With ``config.time_limit``, the whole experiment shares one wall-clock budget (``time_limit.py``),
    counted from ``started`` (``time.time()``; default: now; the command line's own start).

    ``config`` may be the data itself, in any form ``workbench.load`` reads (a Dataset, an
    ``(X, y)`` pair, a DataFrame, a file), with config keys as keyword arguments (``name=``,
    ``test=`` a test split of your own, ``layout=``, ``time_limit=``, …): :func:`workbench.config.study_config`.
    """
    started = started or time.time()
    config = study_config(config, **config_values)
    with _study_interruptible():
        launch = _launch(config, workers, per_gpu, accelerator, heartbeat_s, grace_s, echo, started, in_process=True)
        if not launch.procs:
            run_worker(launch.exp, accelerator=accelerator, echo=echo)
            launch.exp.check_storage("the studies' results")
            return launch.exp
        codes = _wait_for_workers(launch.exp, launch.procs, launch.limit, echo)
    launch.exp.check_storage("the studies' results")
    check_finished(launch.exp, launch.limit, codes, echo)
    return launch.exp


@dataclass
class Launch:
    """An experiment prepared, its time limit set and its worker processes started (none
    when it runs in the calling process)."""

    exp: Experiment
    limit: TimeLimit | None
    procs: list[subprocess.Popen[bytes]]


def _launch(
    config: ExperimentConfig,
    workers: int | Literal["auto"],
    per_gpu: int | None,
    accelerator: str,
    heartbeat_s: int | None,
    grace_s: int | None,
    echo: Callable[[str], object],
    started: float,
    *,
    in_process: bool,
) -> Launch:
    """Prepare the experiment and start its workers: one process per worker, or none for a
    single worker that ``in_process`` allows to run in the caller."""
    n_workers = auto_workers() if workers == "auto" else workers
    exp = prepare(config, heartbeat_s=heartbeat_s, grace_s=grace_s, echo=echo)
    emit(echo, Note(run_length_text(config, large=exp.data.trial.large)))
    for family, reason in exp.skipped.items():
        emit(echo, FamilySkipped(family, reason))
    gpus = _gpu_count() if accelerator in ("auto", "cuda", "gpu") else 0
    if gpus:
        per_gpu = per_gpu or auto_trials_per_gpu(exp, gpus)
        n_workers = max(n_workers, gpus * per_gpu)
    n_workers = max(1, n_workers)
    limit = _time_limit(exp, started, n_workers, echo)
    # Stored once, before any worker starts: every process of this run (and a `workbench worker` that
    # joins it from anywhere) reads it from here; a run without a limit clears the last run's.
    exp.meta().set_user_attr(attrs.ATTR_TIME_LIMIT, dataclasses.asdict(limit) if limit is not None else None)
    if n_workers == 1 and in_process:
        return Launch(exp, limit, [])
    threads = worker_threads(n_workers)
    procs = []
    for i in range(n_workers):
        settings = {"name": config.name, "storage": config.storage_url, "worker_id": i, "threads": threads}
        settings |= {"accelerator": accelerator, "quiet": True}  # heartbeats and time limit: as stored
        procs.append(start_worker(settings, gpu=i % gpus if gpus else None))
    per = f", {per_gpu} per GPU" if gpus else ""
    emit(echo, Note(f"started {n_workers} worker{'s' if n_workers > 1 else ''} ({threads} thread(s) each{per})"))
    return Launch(exp, limit, procs)


def check_finished(
    exp: StoredExperiment, limit: TimeLimit | None, codes: list[int], echo: Callable[[str], object]
) -> None:
    """After the workers exited: every family done, or the error that says how to resume."""
    unfinished = [f for f in exp.families if not family_finished(exp, f, limit)]
    if unfinished:  # a worker that died is made up for by the others; only all of them dying ends short
        raise StudyError(
            f"worker exit codes {codes} and {unfinished} not finished; the storage keeps every finished trial, "
            "rerun to resume."
        )
    if any(codes):
        emit(echo, Note(f"note: worker exit codes {codes}; the other workers re-ran the trials of those that stopped"))


def family_finished(exp: StoredExperiment, family: str, limit: TimeLimit | None) -> bool:
    """Its budget is used, its search is done, or the time limit allows it no more trials (the
    experiment's time for trials is up, or the family's share of it is used: the rule by which
    the workers stopped starting its trials, as a worker stored it or as the time is now)."""
    study = exp.study(family)
    trials = study.get_trials(deepcopy=False)
    if _done(exp, study, trials) or exp.time_stop(family, limit) is not None:
        return True
    if limit is not None and limit.refits:  # as the workers see the evaluation's reserve: measured
        limit.refit(refit_costs(exp, list(limit.refits)))
    return limit is not None and limit.allows(family, trials, lambda: released(exp)) is not None


def refit_costs(exp: StoredExperiment, families: list[str]) -> dict[str, float]:
    """What the evaluation's fit of each family costs: the seconds of its best trial, which it
    repeats (none before one completed)."""
    costs = {}
    for family in families:
        best = top_trials(exp.study(family), 1)
        if best:
            costs[family] = trial_seconds(best[0])
    return costs


def released(exp: StoredExperiment) -> dict[str, float]:
    """The families done with trials by their budget or their search, and the trial seconds
    they spent: under a time limit, what they did not use of their share goes to the others."""
    done = {}
    for family in exp.families:
        study = exp.study(family)
        trials = study.get_trials(deepcopy=False)
        if _done(exp, study, trials):
            done[family] = sum(trial_seconds(t) for t in trials if t.state.is_finished())
    return done


def _done(exp: StoredExperiment, study: optuna.Study, trials: list[optuna.trial.FrozenTrial]) -> bool:
    """Its budget is used or its search is done (stored by the worker that found it)."""
    return budget_state(trials, exp.config.budget).exhausted or attrs.ATTR_STOPPED in study.user_attrs


def _time_limit(exp: Experiment, started: float, workers: int, echo: Callable[[str], object]) -> TimeLimit | None:
    """The experiment's wall-clock budget, spread from measured costs (``time_limit.py``) and announced."""
    if exp.config.time_limit is None:
        return None
    costs = estimate_costs(exp, exp.families, threads=worker_threads(workers))
    # A baseline's trial is not estimated: baselines run first, and what the evaluation's fit of one
    # costs is set aside as its trials measure it (``TimeLimit.refit``).
    baselines = {family: 0.0 for family in exp.families if not CANDIDATES[family].deep}
    left = started + exp.config.time_limit - time.time()
    plan = fit_to_time(exp, costs, left, workers, exp.config.evaluation.seeds, baselines)
    if left <= 0 or all(family in plan.left_out for family in exp.families):
        raise ConfigError(too_short_text(exp, costs, time.time() - started, workers))
    limit = TimeLimit(
        deadline=started + exp.config.time_limit,
        workers=workers,
        evaluation_s=plan.evaluation_s,
        estimates={family: cost.seconds for family, cost in plan.costs.items()},
        families=[family for family in exp.families if family not in plan.left_out],
        left_out=plan.left_out,
        refits=plan.refits,
        first_rung={family: FIRST_RUNG / CHECKS for family in plan.costs} if exp.data.trial.large else {},
        steps={family: cost.steps for family, cost in plan.costs.items() if cost.steps < costs[family].steps},
        step_s={family: cost.step_s for family, cost in plan.costs.items()},
    )
    emit(echo, Note(announcement(limit, plan, costs, profile_s=time.time() - started, how=replicates(exp))))
    return limit


class ProgressFollower:
    """The progress lines of a study that runs in worker processes, read from the storage:
    one line for a family each time a trial of it ends, and its stop reason once."""

    EVERY_S = 2.0

    def __init__(self, exp: StoredExperiment, limit: TimeLimit | None, echo: Callable[[str], object]) -> None:
        self.exp, self.limit, self.echo = exp, limit, echo
        self.ended: dict[str, int] = {}
        self.stopped: set[str] = set()
        self.last = 0.0
        self.storage_down = False

    def poll(self, *, force: bool = False) -> None:
        """The lines for what ended since the last poll. While the storage does not answer, it
        says so once and waits with the workers, which wait for it too (``retry_storage``)."""
        if not force and time.monotonic() - self.last < self.EVERY_S:
            return
        self.last = time.monotonic()
        try:
            self._poll()
        except Exception as exc:
            if (cause := storage_cause(exc)) is None:
                raise
            if not self.storage_down:
                emit(self.echo, Note(f"the storage does not answer ({storage_problem_text(cause)}); the workers wait"))
            self.storage_down = True
            return
        if self.storage_down:
            emit(self.echo, Note("the storage answers again"))
        self.storage_down = False

    def _poll(self) -> None:
        for family in self.exp.families:
            study = self.exp.study(family)
            trials = study.get_trials(deepcopy=False)
            ended = budget_state(trials, self.exp.config.budget).trials_done
            if ended != self.ended.get(family):  # and at the first poll: every family drawn at once
                self.ended[family] = ended
                emit(self.echo, progress_event(self.exp, family, trials, study.direction, self.limit))
            reason = study.user_attrs.get(attrs.ATTR_STOPPED) or self.exp.time_stop(family, self.limit)
            if reason is not None and family not in self.stopped:
                self.stopped.add(family)
                emit(self.echo, FamilyStopped(family, str(reason)))


def _wait_for_workers(
    exp: Experiment, procs: list[subprocess.Popen[bytes]], limit: TimeLimit | None, echo: Callable[[str], object]
) -> list[int]:
    """Wait for the worker processes, reaping each as it exits (killed ones too). Ctrl-C or
    SIGTERM is passed on to them (they run in sessions of their own, so that a terminal's
    Ctrl-C reaches each of them once, through here): each re-queues its trial and exits, and
    one line, read from the storage, says which trials were re-queued."""
    follow = ProgressFollower(exp, limit, echo)
    try:
        with _optuna_logs_errors_only():
            while any(p.poll() is None for p in procs):
                wait_or_stop(0.5)
                follow.poll()
            follow.poll(force=True)
    except Interrupted as stop:
        since = datetime.datetime.now()
        _signal_workers(procs, stop.signum)
        try:
            for p in procs:
                p.wait()
        except Interrupted:  # a second Ctrl-C: passed on, the workers too stop at once
            _signal_workers(procs, stop.signum)
            for p in procs:
                p.wait()
        requeued = [
            f"trial {t.number} of {family}"
            for family in exp.families
            for trials in [exp.study(family).get_trials(deepcopy=False)]
            for t in trials
            if t.number in attrs.replaced(trials) and t.datetime_complete is not None and t.datetime_complete >= since
        ]
        stop.what = (f"{' and '.join(requeued)} re-queued with the same parameters; " if requeued else "") + RESUME
        raise
    return [int(p.returncode) for p in procs]


def _signal_workers(procs: list[subprocess.Popen[bytes]], signum: int) -> None:
    for p in procs:
        if p.poll() is None:
            p.send_signal(signum)


_WORKER_MAIN = (
    ENDS_AT_ONCE_UNTIL_IT_LISTENS
    + "import json, sys; from workbench.study.worker import worker_main; worker_main(json.loads(sys.argv[1]))"
)


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
    try:
        # From the start (also where a background job's shell left SIGINT ignored), so that a
        # signal while the worker opens the storage is kept for the first safe point instead of
        # raising wherever Python is (and being lost in a callback).
        with _study_interruptible():
            echo = (lambda _: None) if settings.get("quiet") else print  # run_study follows the storage
            exp = open_experiment(settings["name"], settings["storage"], echo=echo)
            run_worker(
                exp,
                echo=echo,
                worker_id=settings["worker_id"],
                threads=settings["threads"],
                accelerator=settings["accelerator"],
            )
    except KeyboardInterrupt as exc:
        if not settings.get("quiet"):  # started by run_study, whose one line says it for every worker
            print(exc or "interrupted before it started a trial", file=sys.stderr)
        raise SystemExit(130) from None
    except Exception as exc:
        cause = storage_cause(exc)
        if not isinstance(exc, WorkbenchError) and cause is None:
            raise  # a bug: its traceback is what a report needs
        who = f"worker {settings['worker_id']}: " if settings.get("quiet") else ""  # one of several, each says it
        print(f"error: {who}{exc if cause is None else storage_lost(cause, None)}", file=sys.stderr)
        raise SystemExit(2) from None
    finally:
        exit_at_once_from_now()


def worker_threads(workers: int) -> int:
    """Each worker's threads: the cores divided among the workers."""
    return max(1, default_threads() // workers)


def auto_workers() -> int:
    """Workers for a study on this machine: one per GPU (``run_study`` multiplies them by
    :func:`trials_per_gpu`), else one per core with one thread each (at most 8): a second
    intra-op thread speeds a small model up by 5% and slows it 2.6× beside any other busy
    process (``benchmarks/threads.py``), while a second worker process doubles the trials per
    minute."""
    if _gpu_count():
        return 1
    return max(1, min(8, default_threads()))


CUDA_CONTEXT_BYTES = 600 * 2**20  # what one process's CUDA context, cuDNN and allocator cache hold
MAX_TRIALS_PER_GPU = 8


def trial_gpu_bytes(channels: int, length: int, *, width: int = 128, depth: int = 12, batch: int = 64) -> int:
    """A generous bound on one trial's GPU memory: its CUDA context plus the activations of the
    largest model of the shipped spaces (width × length per layer and sample, kept for the
    backward pass, with their gradients and bf16/fp32 copies: ×4 bytes ×3)."""
    activations = batch * max(width, channels) * length * depth * 4 * 3
    return CUDA_CONTEXT_BYTES + activations


def trials_per_gpu(free_bytes: int, trial_bytes: int, cores: int, gpus: int) -> int:
    """Concurrent trials per GPU: as many as its free memory holds, at most one per CPU core
    (each trial's process drives its GPU from Python and loads its batches), at most 8.
    One small 1D model at batch 16 leaves a GPU mostly idle; several processes fill it."""
    by_memory = free_bytes // max(trial_bytes, 1)
    by_cores = cores // max(gpus, 1)
    return int(max(1, min(MAX_TRIALS_PER_GPU, by_memory, by_cores)))


def auto_trials_per_gpu(exp: Experiment, gpus: int) -> int:
    """:func:`trials_per_gpu` for this experiment's data on this machine's GPUs."""
    import torch

    free = min(torch.cuda.mem_get_info(i)[0] for i in range(gpus))
    x = exp.data.trial.train.X
    channels, length = int(x.shape[1]), int(x.shape[-1])
    return trials_per_gpu(free, trial_gpu_bytes(channels, length), os.cpu_count() or 1, gpus)


def _gpu_count() -> int:
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0
