"""Budget accounting, read from the storage so it holds across runs and workers.

A trial counts while it runs or waits in the queue, and once it is finished
(complete, pruned or failed), unless its re-queued copy is stored (its worker
died or was stopped: ``recovery.py``): then the copy counts instead, so a
re-queue never changes the count. Trials asked for after the budget was taken
by other workers are marked ``overflow`` and do not count either.
"""

from __future__ import annotations

from dataclasses import dataclass

from optuna.trial import FrozenTrial, TrialState

from workbench.config import Budget
from workbench.study import attrs


def _counted(trials: list[FrozenTrial]) -> list[FrozenTrial]:
    replaced = attrs.replaced(trials)
    return [t for t in trials if not attrs.overflow(t) and t.number not in replaced]


def trial_epochs(t: FrozenTrial) -> int:
    """Epochs a trial trained: recorded on completion, or the reports of a pruned run."""
    recorded = attrs.outcome(t).get("epochs")
    if recorded is not None:
        return int(recorded)
    return len(t.intermediate_values)


def trial_seconds(t: FrozenTrial) -> float:
    if t.datetime_start is None or t.datetime_complete is None:
        return 0.0
    return (t.datetime_complete - t.datetime_start).total_seconds()


@dataclass(frozen=True)
class BudgetState:
    trials_done: int
    trials_in_flight: int
    seconds: float
    epochs: int
    exhausted: bool
    fraction: float  # of the budget used, 0..1 (the largest of its parts)


def budget_state(trials: list[FrozenTrial], budget: Budget) -> BudgetState:
    counted = _counted(trials)
    done = [t for t in counted if t.state.is_finished()]
    in_flight = len(counted) - len(done)
    seconds = sum(trial_seconds(t) for t in done)
    epochs = sum(trial_epochs(t) for t in done)
    parts = []
    if budget.trials is not None:
        parts.append((len(done) + in_flight) / budget.trials)
    if budget.time_s is not None:
        parts.append(seconds / budget.time_s)
    if budget.epochs is not None:
        parts.append(epochs / budget.epochs)
    fraction = max(parts)
    waiting = any(t.state == TrialState.WAITING for t in counted)
    return BudgetState(
        len(done), in_flight, seconds, epochs, exhausted=fraction >= 1.0 and not waiting, fraction=min(1.0, fraction)
    )


def may_run(trials: list[FrozenTrial], number: int, budget: Budget) -> bool:
    """Whether trial ``number`` (just asked for) fits in the budget, given the storage's
    trials read after it was asked for.

    Trials are ranked by number, which the storage hands out atomically, so when
    two workers ask for the last slot at once exactly one of them gets it.
    """
    me = next((t for t in trials if t.number == number), None)
    if me is not None and attrs.retried(me) is not None:
        return True  # a re-queued copy of a killed trial: its slot was paid for already
    earlier = [t for t in _counted(trials) if t.number < number]
    finished = [t for t in earlier if t.state.is_finished()]
    if budget.trials is not None and len(earlier) >= budget.trials:
        return False
    if budget.time_s is not None and sum(trial_seconds(t) for t in finished) >= budget.time_s:
        return False
    return not (budget.epochs is not None and sum(trial_epochs(t) for t in finished) >= budget.epochs)
