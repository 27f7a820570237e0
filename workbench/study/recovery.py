"""Dead workers, recovered by Optuna's own machinery, and the three rules it leaves to us.

Optuna's part. Every SQL storage (SQLite and PostgreSQL alike) is opened with heartbeats
(``storage.open_storage``). ``study.optimize``, which runs each of a worker's trials, beats
for the running trial every ``heartbeat_interval`` seconds and, before it asks for a trial,
fails the trials whose heartbeat stopped for ``grace_period`` (``fail_stale_trials``); the
storage's stale-trial callback (:class:`Requeue`, Optuna's retry callback) queues a copy with
the same parameters, at most ``attrs.MAX_RETRIES`` times, and ``ask`` hands out queued trials
first.

Our part:

1. **A trial that never beat.** Optuna never calls a trial without a heartbeat stale, and a
   worker killed between ``ask`` and its first beat leaves one. So a worker sends its first
   beat itself and only then names itself on the trial (:func:`start_trial`): a RUNNING trial
   still unnamed after the grace period never beat, and is failed and re-queued like a stale
   one (:func:`sweep`). A copy drops the dead worker's name.
2. **Ctrl-C** fails and re-queues the running trial at once, at a safe point (:func:`requeue`).
3. **Waiting.** A worker whose budget is all taken stays while other workers' trials run
   (:func:`waits_for`), sweeping, so that a trial whose worker dies near the end is re-run and
   the study never ends short.

The budget counts a failed trial until its copy is stored, then the copy instead
(``budget.py``): the count never changes while a trial is re-queued, so workers racing for the
last slot cannot overrun it. A live trial failed as stale (a long pause) finds its result
refused when it ends: its copy runs again (``worker._TakenOver``).

Journal files have no heartbeats: there a dead worker's trial stays RUNNING and holds its slot
(no recovery). Use SQLite or PostgreSQL where workers may die.
"""

from __future__ import annotations

import copy
import datetime
import os
import socket
import warnings

import optuna
from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback
from optuna.trial import FrozenTrial, TrialState

from workbench.study import attrs


class Requeue(RetryHeartbeatStaleTrialCallback):
    """Optuna's retry callback, whose copy drops the dead worker's name (rule 1: until its new
    worker beats and names itself, the copy must look unstarted)."""

    def __init__(self) -> None:
        with warnings.catch_warnings():  # "experimental" since Optuna 2.8; we rely on it
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            super().__init__(max_retry=attrs.MAX_RETRIES)

    def __call__(self, study: optuna.Study, trial: FrozenTrial) -> None:
        trial = copy.copy(trial)
        trial.user_attrs = {k: v for k, v in trial.user_attrs.items() if k != attrs.WORKER}
        # a deep copy: Optuna appends to retry_history in place, and a cached trial must not change
        trial.system_attrs = copy.deepcopy(trial.system_attrs)
        super().__call__(study, trial)


def grace_period(storage: optuna.storages.BaseStorage) -> int | None:
    """Seconds of silence after which a running trial is dead; None without heartbeats (journal)."""
    if isinstance(storage, RDBStorage) and storage.heartbeat_interval is not None:
        return int(storage.grace_period or 2 * storage.heartbeat_interval)
    return None


def start_trial(study: optuna.Study, storage: optuna.storages.BaseStorage, trial: optuna.Trial) -> None:
    """Rule 1: the trial's first heartbeat, then its worker's name."""
    if grace_period(storage) is not None:
        study_id = storage.get_study_id_from_name(study.study_name)
        storage.record_heartbeat(storage.get_trial_id_from_study_id_trial_number(study_id, trial.number))  # type: ignore[attr-defined]
    trial.set_user_attr(attrs.WORKER, {"host": socket.gethostname(), "pid": os.getpid()})


def requeue(study: optuna.Study, trial: FrozenTrial) -> bool:
    """Fail a RUNNING trial and queue its copy. False if it had finished already, or another
    process failed it first: exactly one copy is queued."""
    try:
        study.tell(trial.number, state=TrialState.FAIL)
    # ValueError: "Cannot tell a FAIL trial", another worker failed it since `trial` was read;
    # RuntimeError: UpdateFinishedTrialError, it finished between tell's read and its write.
    except (ValueError, RuntimeError):
        return False
    Requeue()(study, trial)
    return True


def sweep(study: optuna.Study, storage: optuna.storages.BaseStorage) -> list[int]:
    """Fail and re-queue the trials whose worker died (stale heartbeat, or never beat); their
    numbers. A worker sweeps when it joins a family and while it waits; between trials,
    ``study.optimize`` fails the stale ones itself."""
    grace = grace_period(storage)
    if grace is None:
        return []
    before = {t.number for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))}
    with warnings.catch_warnings():  # "experimental" since Optuna 2.9; we rely on it
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if attrs.WORKER not in t.user_attrs and _seconds_since(t.datetime_start) > grace:
            requeue(study, t)
    return sorted(before & attrs.replaced(study.get_trials(deepcopy=False)))


def waits_for(study: optuna.Study, storage: optuna.storages.BaseStorage) -> bool:
    """Rule 3: whether a RUNNING trial may still end without its worker, so that a worker with
    no budget left stays to re-run it (never on a journal file: nothing would notice)."""
    if grace_period(storage) is None:
        return False
    return bool(study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)))


def _seconds_since(when: datetime.datetime | None) -> float:
    """Seconds since a trial's start, as Optuna stores it (local time); 0 when unset."""
    return 0.0 if when is None else (datetime.datetime.now() - when).total_seconds()
