"""When is a family's search done? When more trials are unlikely to change its best score by
more than the validation noise.

The rule, checked before each new trial of a family (after its proven defaults and at least
``WINDOW`` more trials): the best score improved by no more than the **fold noise** over the
last ``WINDOW`` finished trials. The fold noise is the standard error of the best trial's
mean over its folds, with Nadeau & Bengio's correction for folds that share training samples
(the same correction the profile's probe uses); on a holdout, the binomial standard error of
an accuracy-like score. A family whose best trial already scores the metric's best possible
value on every fold is done at once: no configuration can show itself better on this
validation.

This is the idea of Optuna's terminator (Makarova et al. 2022: stop when the room left for
improvement falls below the statistical error of the objective), with the room left read
from the study's own recent progress, as its ``BestValueStagnationEvaluator`` does, instead of
a Gaussian-process regret bound: the module is deprecated since Optuna 4.9, and with 5 to 20
trials of mixed categorical spaces a GP bound is mostly prior. The trial budget stays the
upper bound; ``stop_when_done: false`` (``--full-budget``) turns the rule off.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import optuna
from optuna.trial import FrozenTrial, TrialState

from workbench.study import attrs
from workbench.study.experiment import StoredExperiment

# Trials without a real improvement before a family's search is done. 3, not 5: replayed on the
# stored histories of default studies (GunPoint, ItalyPowerDemand: five deep families), a window
# of 3 (and even 2) chose the same best trial as 5 in every family, 2 to 3 trials sooner each.
WINDOW = 3
BOUNDED = {"acc": 1.0, "bal_acc": 1.0, "f1": 1.0}  # accuracy-like metrics and their best possible value


@dataclass(frozen=True)
class SearchState:
    """Whether a family's search is done, and the sentence that says why (or why not yet)."""

    done: bool
    reason: str
    improvement: float | None = None  # of the best score over the last WINDOW trials
    noise: float | None = None  # the fold noise it was compared with


def fold_noise(trial: FrozenTrial, n_val: int, n_fit: int, metric: str) -> float | None:
    """The standard error of a trial's validation score: over its folds (corrected for their
    overlap), or binomial for one holdout split of an accuracy-like metric; None when unknown."""
    scores = np.array([v for _, v in sorted(attrs.fold_scores(trial).items())], dtype=float)
    if len(scores) >= 2:
        correction = 1.0 / len(scores) + n_val / max(n_fit, 1)
        return float(np.sqrt(correction * scores.var(ddof=1)))
    if metric in BOUNDED and trial.value is not None and n_val > 0:
        p = min(max(float(trial.value), 0.0), 1.0)
        return math.sqrt(p * (1 - p) / n_val)
    return None


def search_state(
    trials: list[FrozenTrial],
    direction: optuna.study.StudyDirection,
    *,
    metric: str,
    n_defaults: int,
    n_val: int,
    n_fit: int,
) -> SearchState:
    """Is the search of this family done (see the module's docstring)?"""
    # A configuration too costly to train says nothing about what more trials could find.
    ended = sorted(
        (
            t
            for t in trials
            if t.state in (TrialState.COMPLETE, TrialState.PRUNED) and not attrs.overflow(t) and not attrs.too_costly(t)
        ),
        key=lambda t: t.number,
    )
    complete = [t for t in ended if t.state == TrialState.COMPLETE and t.value is not None]
    if not complete:
        return SearchState(False, "no complete trial yet")
    maximize = direction == optuna.study.StudyDirection.MAXIMIZE
    pick = max if maximize else min
    best = pick(complete, key=lambda t: float(t.value))  # type: ignore[arg-type]
    untrained = sum(1 for t in trials if attrs.too_costly(t))
    # The budget is not named: a resume may raise it, and the reason stays true ("1/5 trials · stopped
    # after 1 of 3 trials" read wrong).
    after = f"{len(ended)} trial{'s' if len(ended) != 1 else ''}"
    after += f" ({untrained} more too costly to train)" if untrained else ""
    scores = attrs.fold_scores(best)
    perfect = BOUNDED.get(metric)
    if perfect is not None and maximize and best.value == perfect and all(v == perfect for v in scores.values()):
        return SearchState(
            True,
            f"stopped after {after}: trial {best.number} scores {perfect:.3f} on every fold, "
            "the best this validation can show",
            0.0,
            0.0,
        )
    needed = n_defaults + WINDOW
    if len(ended) < needed:
        return SearchState(False, f"{len(ended)} trials; the stopping rule starts after {needed}")
    before = [t for t in complete if t.number < ended[-WINDOW].number]
    if not before:
        return SearchState(False, f"no complete trial before the last {WINDOW}")
    previous = float(pick(before, key=lambda t: float(t.value)).value)  # type: ignore[arg-type]
    improvement = abs(float(best.value) - previous)  # type: ignore[arg-type]
    noise = fold_noise(best, n_val, n_fit, metric)
    if noise is None:
        return SearchState(False, "the validation noise of a single split of this metric is unknown")
    if improvement <= noise:
        return SearchState(
            True,
            f"stopped after {after}: the best score improved {improvement:.4f} over the last "
            f"{WINDOW} trials, within the fold noise {noise:.4f}",
            improvement,
            noise,
        )
    return SearchState(
        False,
        f"improved {improvement:.4f} over the last {WINDOW} trials, more than the fold noise {noise:.4f}",
        improvement,
        noise,
    )


def family_search_state(
    exp: StoredExperiment,
    family: str,
    trials: list[FrozenTrial],
    direction: optuna.study.StudyDirection,
) -> SearchState:
    """:func:`search_state` for one family of an experiment."""
    folds = exp.validation.get("validation_sizes") or [0]
    n_val = int(np.mean(folds)) if folds else 0
    n_train = n_val * len(folds) // max(1, exp.validation.get("repeats", 1)) if len(folds) > 1 else 0
    n_fit = max(1, n_train - n_val) if len(folds) > 1 else max(1, 3 * n_val)  # a holdout of 25%
    n_defaults = sum(1 for t in trials if attrs.default_number(t) is not None)
    return search_state(
        trials,
        direction,
        metric=exp.metric,
        n_defaults=n_defaults,
        n_val=n_val,
        n_fit=n_fit,
    )


def skip_waiting_defaults(study: optuna.Study, reason: str) -> None:
    """A family whose search is done runs none of its proven defaults still queued: each is
    ended as pruned, with the reason, so that nothing is left waiting in the storage. (Copies
    of trials whose worker died are never skipped: the rule waits for them.)"""
    while any(
        t.state == TrialState.WAITING and attrs.default_number(t) is not None for t in study.get_trials(deepcopy=False)
    ):
        with warnings.catch_warnings():  # asked outside study.optimize on purpose: it is ended at once, never run
            warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed to be used with Study.optimize")
            trial = study.ask()  # the oldest waiting trial first
        trial.set_user_attr(attrs.OUTCOME, {"pruned": f"not run: {reason}", "folds": []})
        study.tell(trial, state=TrialState.PRUNED)
