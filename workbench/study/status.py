"""What a running or finished experiment says about itself: progress events, the status
table, the validation strategy with per-fold scores."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import optuna
import pandas as pd
from optuna.trial import TrialState

from workbench.config import ExperimentConfig
from workbench.errors import option_name
from workbench.models.run_plan import CHECKS, DEFAULT_EPOCHS, PATIENCE_CHECKS, SEEN_SAMPLE_STEPS, SMALL_VALIDATION
from workbench.study import attrs
from workbench.study.budget import BudgetState, budget_state
from workbench.study.events import TrialFinished
from workbench.study.recovery import grace_period
from workbench.study.time_limit import TimeLimit

if TYPE_CHECKING:  # the experiment shows its status (experiment.py imports this module)
    from workbench.study.experiment import StoredExperiment


def run_length_text(config: ExperimentConfig, large: bool = False) -> str:
    """What bounds each training run of a study, in one line (printed when it starts); ``large``:
    its runs follow the large-data recipe (``scale.py``)."""
    if large:
        bound = f"at most {config.max_epochs} epochs (max_epochs)" if config.max_epochs else "epochs"
        return (
            f"training runs: {bound} bounded by the sequences they see ({SEEN_SAMPLE_STEPS // 256:,} of 256 steps) "
            f"and by the time limit, validated {CHECKS} times; early stopping after {PATIENCE_CHECKS} checks "
            "without improvement"
        )
    if config.max_epochs is not None:
        length = f"at most {config.max_epochs} epochs (max_epochs)"
    elif config.min_steps:
        length = (
            f"{DEFAULT_EPOCHS} epochs, lengthened on small data to at least {config.min_steps} optimiser steps "
            f"(min_steps; {option_name('max_epochs')} sets an upper bound)"
        )
    else:
        length = f"{DEFAULT_EPOCHS} epochs"
    stop = (
        f"; early stopping after {config.patience} epochs without improvement (on validation sets of "
        f"{SMALL_VALIDATION} samples or more)"
        if config.patience
        else ""
    )
    return f"training runs: {length}{stop}"


def waiting_text(study: optuna.Study, storage: optuna.storages.BaseStorage) -> str:
    """What a worker with no budget left waits for: the running trials, each re-queued if its
    heartbeat stops for the grace period (``recovery.py``)."""
    running = len(study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)))
    grace = grace_period(storage)
    after = f"; one whose worker died is re-queued {grace} s after its last heartbeat" if grace else ""
    return f"waiting for {running} running trial(s) of other workers{after}"


def progress_event(
    exp: StoredExperiment,
    family: str,
    trials: list[optuna.trial.FrozenTrial],
    direction: optuna.study.StudyDirection,
    limit: TimeLimit | None = None,
) -> TrialFinished:
    """The family's standing after its latest finished trial, read from its trials (in the
    worker that ran it, or from the storage by a follower)."""
    state = budget_state(trials, exp.config.budget)
    ended = sorted(
        (t for t in trials if t.state.is_finished() and t.datetime_complete is not None),
        key=lambda t: t.datetime_complete,  # type: ignore[arg-type,return-value]
    )
    maximize = direction == optuna.study.StudyDirection.MAXIMIZE
    history: list[float] = []
    for t in ended:
        if t.state == TrialState.COMPLETE and t.value is not None:
            better = not history or (t.value > history[-1] if maximize else t.value < history[-1])
            history.append(t.value if better else history[-1])
        elif history:
            history.append(history[-1])
    last = ended[-1] if ended else None
    used = finished_fraction(state, exp.config)
    # From the family's own trial times in the storage: right after a resume, and per family.
    left = state.seconds * (1 - used) / used if 0 < used < 1 else 0.0
    return TrialFinished(
        family=family,
        metric=exp.metric,
        done=state.trials_done,
        budget=exp.config.budget.trials,
        best=_best_value(trials, direction),
        pruned=sum(t.state == TrialState.PRUNED for t in trials),
        failed=sum(attrs.failed_itself(t) for t in trials),
        used=used,
        running=sum(t.state == TrialState.RUNNING for t in trials),
        family_left_s=left,
        experiment_left_s=None if limit is None else limit.left(),
        number=None if last is None else last.number,
        state=None if last is None else last.state.name,
        value=None if last is None else last.value,
        best_history=tuple(history),
    )


def finished_fraction(state: BudgetState, config: ExperimentConfig) -> float:
    """The share of the family's budget its finished trials used, 0..1 (running ones not counted:
    a bar that counted them read 2/3 while the second trial still ran)."""
    budget = config.budget
    parts = [state.trials_done / budget.trials] if budget.trials else []
    parts += [state.seconds / budget.time_s] if budget.time_s else []
    parts += [state.epochs / budget.epochs] if budget.epochs else []
    return min(1.0, max(parts, default=0.0))


def _best_value(trials: list[optuna.trial.FrozenTrial], direction: optuna.study.StudyDirection) -> float | None:
    values = [t.value for t in trials if t.state == TrialState.COMPLETE and t.value is not None]
    if not values:
        return None
    return max(values) if direction == optuna.study.StudyDirection.MAXIMIZE else min(values)


def status_frame(exp: StoredExperiment) -> pd.DataFrame:
    """One row per family: progress against the budget, best so far, pruned and failed counts."""
    rows: list[dict[str, Any]] = []
    limit = exp.time_limit()
    for family in exp.config.all_families:
        if family in exp.skipped:
            rows.append({"family": family, "status": f"skipped: {exp.skipped[family]}"})
            continue
        study = exp.study(family)
        trials = study.get_trials(deepcopy=False)
        state: BudgetState = budget_state(trials, exp.config.budget)
        stopped = study.user_attrs.get(attrs.ATTR_STOPPED)
        # Running: in a worker now. A proven default still queued (WAITING) is not: under a time
        # limit that leaves its family out, it never starts.
        running = sum(t.state == TrialState.RUNNING for t in trials)
        status = "running" if running else ("done" if state.exhausted else "open")
        if stopped is not None and not running:
            status = "done (search)"
        elif not running and not state.exhausted and exp.time_stop(family, limit) is not None:
            status = "done (time)"
        rows.append(
            {
                "family": family,
                "status": status,
                "trials": state.trials_done,
                "budget": exp.config.budget.trials,
                "running": running,
                "complete": sum(t.state == TrialState.COMPLETE for t in trials),
                "pruned": sum(t.state == TrialState.PRUNED for t in trials),
                "failed": sum(attrs.failed_itself(t) for t in trials),
                f"best val_{exp.metric}": _best_value(trials, study.direction),
                "epochs": state.epochs,
                "seconds": round(state.seconds, 1),
            }
        )
    return pd.DataFrame(rows)


def stop_lines(exp: StoredExperiment) -> list[str]:
    """Why each family stopped before its trial budget: its search was done (``stopping.py``) or
    the time limit of the experiment's run ended its trials."""
    lines = []
    limit = exp.time_limit()
    for family in exp.families:
        reason = exp.study(family).user_attrs.get(attrs.ATTR_STOPPED) or exp.time_stop(family, limit)
        if reason is not None:
            lines.append(f"{family}: {reason}")
    return lines


def validation_lines(exp: StoredExperiment) -> list[str]:
    """The validation strategy and why, then the per-fold scores of each family's best trial."""
    plan = exp.validation
    lines = [f"validation: {plan.get('description', plan.get('strategy', 'unknown'))}"]
    for family in exp.families:
        study = exp.study(family)
        complete = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)) if t.value is not None]
        if not complete:
            continue
        best = (max if study.direction == optuna.study.StudyDirection.MAXIMIZE else min)(
            complete,
            key=lambda t: float(t.value),  # type: ignore[arg-type]
        )
        scores = attrs.fold_scores(best)
        if plan.get("folds") == 1 or not scores:
            lines.append(f"  {family:<10} best trial {best.number}: val_{exp.metric} {best.value:.4f}")
            continue
        values = np.array([scores[i] for i in sorted(scores)])
        lines.append(
            f"  {family:<10} best trial {best.number}: val_{exp.metric} {values.mean():.4f} ± {values.std(ddof=1):.4f} "
            f"over {len(values)} folds [{' '.join(f'{v:.3f}' for v in values)}]"
        )
    return lines
