"""The keys of everything the workbench stores: the experiment's attributes, and the user
attributes a trial carries, with the one reader for them.

A trial writes two: ``worker`` when it starts (who runs it, after its first heartbeat:
``recovery.py``) and ``outcome`` once when it ends. One write per outcome, not one per field: on
SQLite each attribute is a transaction, and they added up to a noticeable share
of short trials. An enqueued default carries ``default`` from the start.
"""

from __future__ import annotations

import warnings
from typing import Any

import optuna
from optuna.storages import RetryHeartbeatStaleTrialCallback
from optuna.trial import FrozenTrial, TrialState

# The experiment's own study (named <experiment>) holds these; each family's study holds its space.
ATTR_CONFIG, ATTR_PROFILE, ATTR_VERSIONS, ATTR_FINGERPRINT = "config", "profile", "versions", "data_fingerprint"
ATTR_METRIC, ATTR_SPACE, ATTR_SPACE_CHANGES, ATTR_SKIPPED = "metric", "space", "space_changes", "skipped"
ATTR_SPLIT, ATTR_VALIDATION, ATTR_HEARTBEAT = "split", "validation", "heartbeat"
ATTR_SCALE = "scale"  # what the data's size changed in the recipe, one line each (scale.py)
ATTR_DATA_NAMES = "data_names"  # channel and position names: the report reads them without loading data
ATTR_EVALUATION, ATTR_VERDICT = "evaluation", "verdict"
ATTR_STOPPED = "stopped"  # a family's study: why its search ended before its trial budget (stopping.py)
# The experiment's: its run's time limit (time_limit.TimeLimit as a dict; None: no limit), stored once by
# the command that starts the run and read by every process that joins it.
ATTR_TIME_LIMIT = "time_limit"
# A family's: {"reason", "deadline"}: the time limit (of that deadline) ended its trials.
ATTR_TIME_STOPPED = "time_stopped"

# A trial's user attributes:
WORKER = "worker"  # {"host", "pid"}
OUTCOME = "outcome"  # see Outcome below
OVERFLOW = "overflow"  # asked for after the budget was taken by other workers; not counted
DEFAULT = "default"  # k: the trial is its family's proven default #k, enqueued first

# Optuna's retry callback gives a re-queued copy the system attributes ``failed_trial`` and ``retry_history``.
MAX_RETRIES = 2  # copies of one configuration: a trial that kills its worker every time must not loop


# Keys of the outcome record:
#   train_seconds  time inside training (the fit calls); the rest of a trial is study overhead
#   epochs         epochs trained over all folds (0 for baselines); absent when a holdout
#                  trial was pruned: its per-epoch reports count then
#   folds          one entry per validation fold run: fold, score, epochs, stop_reason,
#                  metrics, history (per-epoch losses and the study metric)
#   metrics        the mean over folds of each fold's metrics
#   stop_reason    the folds' stop reasons: completed / early_stopped / converged / ...
#   pruned         k-fold: why the fold-wise pruner stopped the trial; or why a sampled
#                  configuration was not trained (too costly, below)
#   too_costly     a sampled configuration not trained: its fold's estimated cost as a
#                  multiple of the family's first proven default's (``trial_cost_cap``)
#   failure        why the trial failed: the divergence, or the traceback
def default_number(t: FrozenTrial) -> int | None:
    """k when the trial is its family's proven default #k (see ``study/defaults.py``), else None."""
    k = t.user_attrs.get(DEFAULT)
    return None if k is None else int(k)


def origin(t: FrozenTrial) -> str:
    """Where the trial's configuration came from, as the report shows it."""
    k = default_number(t)
    return f"default #{k}" if k is not None else "sampler"


def outcome(t: FrozenTrial) -> dict[str, Any]:
    return t.user_attrs.get(OUTCOME) or {}


def failure(t: FrozenTrial) -> str | None:
    """Why the objective failed this trial; None for trials that did not fail by themselves
    (a killed process leaves none: its trial is re-queued)."""
    return outcome(t).get("failure")


def failed_itself(t: FrozenTrial) -> bool:
    """Failed by its own objective (a divergence, an exception), not by a dead worker."""
    return t.state == TrialState.FAIL and failure(t) is not None


def too_costly(t: FrozenTrial) -> bool:
    """A sampled configuration left untrained because it costs too much (``objective.py``)."""
    return outcome(t).get("too_costly") is not None


def overflow(t: FrozenTrial) -> bool:
    return bool(t.user_attrs.get(OVERFLOW))


def fold_scores(t: FrozenTrial) -> dict[int, float]:
    """Validation score per fold id, for the folds the trial finished."""
    return {int(f["fold"]): float(f["score"]) for f in outcome(t).get("folds", [])}


def learning_curve(t: FrozenTrial) -> list[dict[str, float]]:
    """Per-epoch history of the trial's first fold (the only one for holdout)."""
    folds = outcome(t).get("folds") or [{}]
    return list(folds[0].get("history", []))


def retried(t: FrozenTrial) -> int | None:
    """The number of the trial this one re-runs (its worker died), or None."""
    with warnings.catch_warnings():  # "experimental" since Optuna 2.8; we rely on it
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return RetryHeartbeatStaleTrialCallback.retried_trial_number(t)


def retry_history(t: FrozenTrial) -> list[int]:
    """The numbers of the trials this one re-runs, first to last (empty for a sampled trial)."""
    return list(t.system_attrs.get("retry_history", []))


def replaced(trials: list[FrozenTrial]) -> set[int]:
    """The trials whose re-queued copy is stored: the copy re-runs them (``recovery.py``)."""
    return {retry_history(t)[-1] for t in trials if retry_history(t)}
