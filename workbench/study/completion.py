"""When a family is finished (its budget used, its search done, or the time limit allowing it no
more trials), and what finished families hand on to the others under a time limit: the rule
by which the workers stop starting trials, read back from the storage by whoever follows them."""

from __future__ import annotations

import optuna

from workbench.errors import StudyError
from workbench.study import attrs
from workbench.study.budget import budget_state, trial_seconds
from workbench.study.evaluate import top_trials
from workbench.study.events import Echo, Note, emit
from workbench.study.experiment import StoredExperiment
from workbench.study.time_limit import TimeLimit


def check_finished(exp: StoredExperiment, limit: TimeLimit | None, codes: list[int], echo: Echo) -> None:
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
