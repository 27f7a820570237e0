"""The trial loop: run each family's trials until its budget, counted in the storage, is used
up, its search is done or the time is up; in the caller, in processes that ``launch.py``
starts (``run_study(workers=N)``), or anywhere (``workbench worker``)."""

from __future__ import annotations

import hashlib
import sys
import time
import warnings
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any

import optuna
from optuna.trial import TrialState

from workbench.candidates import CANDIDATES
from workbench.errors import WorkbenchError
from workbench.interrupt import (
    Interrupted,
    exit_at_once_from_now,
    interruptible,
    safe_point,
    wait_or_stop,
)
from workbench.models.run_plan import DEFAULT_EPOCHS
from workbench.study import attrs
from workbench.study.attrs import ATTR_SPACE
from workbench.study.budget import budget_state, may_run
from workbench.study.completion import refit_costs, released
from workbench.study.costs import reference_config
from workbench.study.events import (
    Echo,
    FamilyNote,
    FamilyStopped,
    FamilyWaiting,
    TrialFailed,
    TrialsRequeued,
    emit,
)
from workbench.study.experiment import Experiment, open_experiment
from workbench.study.objective import Objective
from workbench.study.recovery import Requeue, requeue, start_trial, sweep, waits_for
from workbench.study.scale import successive_halving
from workbench.study.space import space_from_dict
from workbench.study.status import progress_event, waiting_text
from workbench.study.stopping import family_search_state, skip_waiting_defaults
from workbench.study.storage import (
    StorageFailure,
    is_permanent,
    retry_storage,
    storage_cause,
    storage_lost,
    storage_wait_s,
)
from workbench.study.time_limit import TimeLimit


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


def study_interruptible() -> AbstractContextManager[None]:
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
    echo: Echo = print,
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
    with study_interruptible(), optuna_logs_errors_only():
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
        echo: Echo,
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
        with optuna_logs_errors_only():
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
def optuna_logs_errors_only() -> Iterator[None]:
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


def _echo_requeued(family: str, numbers: list[int], echo: Echo) -> None:
    if numbers:
        emit(echo, TrialsRequeued(family, tuple(numbers)))


def worker_main(settings: dict[str, Any]) -> None:
    """A worker process: join the experiment and run trials until the budgets are used.
    Exits 130 on Ctrl-C (its trial re-queued) and 2 on a user error, with one line."""
    try:
        # From the start (also where a background job's shell left SIGINT ignored), so that a
        # signal while the worker opens the storage is kept for the first safe point instead of
        # raising wherever Python is (and being lost in a callback).
        with study_interruptible():
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
