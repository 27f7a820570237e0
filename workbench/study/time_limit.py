"""One wall-clock budget for a whole experiment (``time_limit``, ``--time 10m``).

The time is spread from measured costs (``costs.py``): before any trial, each deep family's
first proven default is timed on this data and machine, which gives the cost of a trial (folds ×
the run plan's steps × a step) and of the final evaluation. The evaluation's share is set aside;
the rest is split equally among the families (equal budgets, as everywhere in a study), in trial
time summed over the workers. A family may start a trial while its own share and the
experiment's time for trials both allow one more at its measured cost (the mean of its finished
trials, else the estimate); its first trial, a proven default, always starts while there is time
for trials at all. So the defaults run first, round by round across families, and the study ends
within one trial of its time; the evaluation then fits its seeds to the time that is left.

A deep family whose default costs more than its share is not left out but **shortened**: its runs
take the optimiser steps its share holds (``TimeLimit.steps``, announced as "conv1d default: 3
epochs on 11,250 samples, about 2.5 min"), and a run that starts late takes no more steps than
the time left holds (:meth:`TimeLimit.run_steps`), so no trial runs past the deadline. A family is
left out only where not even a pass over its data fits, with the time that would hold it (ACSF1's
conv1d trial costs about 8 minutes on two cores: under ``--time 5m``, reserving its evaluation had
left no time for any trial, not even the baselines', and the study ended without a verdict).

The limit is stored once with the experiment (``attrs.ATTR_TIME_LIMIT``), by the command that
starts the run, and every process that takes part reads it from there.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from optuna.trial import FrozenTrial

from workbench.candidates import CANDIDATES
from workbench.errors import option
from workbench.study.budget import trial_seconds
from workbench.study.costs import LOOP_OVERHEAD, TrialCost, measured_cost
from workbench.study.events import duration_text
from workbench.study.scale import replicates

if TYPE_CHECKING:
    from workbench.study.experiment import Experiment

MIN_SEEDS = 2  # the fewest replicates an evaluation fits to the time left (a mean and a spread)
MIN_BASELINE_S = 10.0  # a baseline's trial and evaluation on small data: seconds
# After the evaluation: the verdict and the results written, the processes ended (measured: 10-20 s
# on the scale benchmark's 20,000 × 3 × 256, with two evaluation processes started).
CLOSING_S = 20.0


@dataclass
class TimeLimit:
    """The experiment's deadline (``time.time()`` seconds) and how its time is spread."""

    deadline: float
    workers: int = 1
    evaluation_s: float = 0.0  # set aside for the final evaluation (wall time)
    estimates: dict[str, float] = field(default_factory=dict)  # a trial's seconds per family, before any ran
    families: list[str] = field(default_factory=list)
    trials_start: float = field(default_factory=time.time)
    left_out: dict[str, str] = field(default_factory=dict)  # family → why the time holds none of its trials
    steps: dict[str, int] = field(default_factory=dict)  # family → the optimiser steps a run may take (shortened)
    step_s: dict[str, float] = field(default_factory=dict)  # family → seconds of one optimiser step, as timed
    # The families the evaluation fits once more (baselines, when it scores the study's models on
    # parts of the test split) → what that fit costs: estimated first, then the measured time of
    # the trial it repeats (``refit``), which is set aside beside ``evaluation_s``.
    refits: dict[str, float] = field(default_factory=dict)
    # Multi-fidelity (large data): a sampled trial of these families is judged after this fraction
    # of a run and stopped there unless promising, so it may start while that much of its cost fits
    # the family's share (a promoted one then runs on, to the steps the time left holds).
    first_rung: dict[str, float] = field(default_factory=dict)

    def left(self) -> float:
        return self.deadline - time.time()

    def reserve(self) -> float:
        """The wall time set aside for the evaluation: ``evaluation_s``, and the refits, which run
        side by side on the workers (the longest, or their sum spread over the workers)."""
        refits = list(self.refits.values())
        return self.evaluation_s + (max(max(refits), sum(refits) / self.workers) if refits else 0.0)

    def refit(self, measured: dict[str, float]) -> None:
        """The refits' costs as measured (the trials they repeat), for :meth:`reserve`."""
        self.refits.update({family: s for family, s in measured.items() if family in self.refits})

    def trial_time(self) -> float:
        """Wall time for trials: from when they started to the deadline, less the evaluation's."""
        return max(0.0, self.deadline - self.reserve() - self.trials_start)

    def share(self, released: dict[str, float] | None = None) -> float:
        """Each family's trial time, summed over the workers: an equal part of the whole, less
        what the ``released`` families (done by their budget or their search: family → the trial
        seconds they spent) used, so that what they left goes to the others."""
        done = {f: s for f, s in (released or {}).items() if f in self.families}
        total = self.trial_time() * self.workers - sum(done.values())
        return max(0.0, total) / max(1, len(self.families) - len(done))

    def cost(self, family: str, trials: list[FrozenTrial]) -> float | None:
        """A trial's cost for this family: the mean of its finished trials, else the estimate."""
        measured = measured_cost(trials)
        return measured if measured is not None else self.estimates.get(family)

    def run_steps(self, family: str, runs_left: int = 1) -> int | None:
        """The optimiser steps a run of ``family`` starting now may take: its shortened length, and
        no more than the time left for trials holds for the ``runs_left`` runs (a trial's folds) it
        still has; None where nothing bounds it (a family not timed)."""
        step_s = self.step_s.get(family)
        if step_s is None:
            return self.steps.get(family)
        left = max(0.0, self.left() - self.reserve())
        fits = max(1, math.floor(left / max(1, runs_left) / (step_s * LOOP_OVERHEAD)))
        return min(fits, self.steps.get(family, fits))

    def allows(
        self, family: str, trials: list[FrozenTrial], released: Callable[[], dict[str, float]] | None = None
    ) -> str | None:
        """None when the family may start a trial now; else why not. ``released`` gives the
        families done and what they spent (:meth:`share`); it reads every family's trials, so it
        is called only when the family's equal share is used."""
        if family in self.left_out:
            return self.left_out[family]
        left_for_trials = self.left() - self.reserve()
        started = [t for t in trials if t.datetime_start is not None]
        if left_for_trials <= 0:
            return "the time for trials is used up"
        if not started:
            return None  # the first proven default always runs while there is time for trials
        cost = (self.cost(family, trials) or 0.0) * self.first_rung.get(family, 1.0)
        spent = sum(trial_seconds(t) for t in trials if t.state.is_finished())
        running = sum(1 for t in trials if not t.state.is_finished() and t.datetime_start is not None)
        share = self.share()
        if spent + (running + 1) * cost > share and released is not None:
            share = self.share(released())
        if spent + (running + 1) * cost > share:
            return f"its share of the time ({duration_text(share)} of trials) is used"
        if cost > left_for_trials:
            return f"a trial costs about {duration_text(cost)} and {duration_text(left_for_trials)} are left for trials"
        return None


@dataclass(frozen=True)
class Plan:
    """What ``time_s`` seconds on the workers hold (:func:`fit_to_time`)."""

    evaluation_s: float  # set aside for the evaluation, beside the refits
    seeds: int
    costs: dict[str, TrialCost]  # the deep families kept, each as it will run (shortened or not)
    left_out: dict[str, str]
    refits: dict[str, float]  # the baselines the evaluation fits once more → their estimated seconds


def fit_to_time(
    exp: Experiment,
    costs: dict[str, TrialCost],
    time_s: float,
    workers: int,
    seeds: int,
    baselines: dict[str, float] | None = None,
) -> Plan:
    """What ``time_s`` seconds on ``workers`` hold: the evaluation's reserve (seconds, seeds), each
    deep family's trial as it will run, and the families left out (family → why). A deep family's
    first trial must fit its equal share of the cores' time (every family, baselines too, gets one)
    and the wall time after the evaluation's reserve: a default that does not is shortened to
    what does, and left out only where not even its shortest run (a pass over the data) fits. The
    reserve is the kept families' evaluation at ``seeds``, or at MIN_SEEDS where ``seeds`` would
    leave too little time for their first trials. ``baselines``: a baseline trial's seconds per
    baseline, which its evaluation costs too."""
    n_families = max(1, len(exp.families))
    elapsed = (exp.config.time_limit or time_s) - time_s  # the profile and the timing so far
    kept: dict[str, TrialCost] = {}
    left_out: dict[str, str] = {}
    available = time_s - evaluation_seconds(exp, baselines or {}, MIN_SEEDS, workers)  # the baselines' share kept
    for family, cost in sorted(costs.items(), key=lambda item: item[1].seconds):
        # A run of r seconds costs r, and its evaluation e·r on the workers (seeds re-train as it
        # trained): r(1 + e) must fit the wall time, r(1 + e·workers) the family's part of the cores'.
        e = evaluation_seconds(exp, {family: 1.0}, MIN_SEEDS, workers)
        room = min(available / (1 + e), available * workers / (n_families * (1 + e * workers)))
        least = e * cost.seconds
        run = cost.within(room)
        if run is None:
            needs = elapsed + cost.seconds + evaluation_seconds(exp, {family: cost.seconds}, seeds, workers)
            left_out[family] = (
                f"left out: a trial costs about {duration_text(cost.seconds)} and its evaluation at least "
                f"{duration_text(least)}; not even {cost.shortest} optimiser steps fit the "
                f"{duration_text(max(0.0, room))} of the time left for it (it alone needs a time limit above "
                f"{duration_text(needs)})"
            )
            continue
        kept[family] = run
    seconds = {**(baselines or {}), **{f: c.seconds for f, c in kept.items()}}
    fewer_cost_less = replicates(exp) != "parts"  # parts of the test split cost the same however many
    if fewer_cost_less and time_s - evaluation_seconds(exp, seconds, seeds, workers) < sum(seconds.values()) / workers:
        seeds = min(seeds, MIN_SEEDS)
    closing = min(CLOSING_S, 0.05 * (exp.config.time_limit or time_s))
    if replicates(exp) == "parts":  # the study's models are scored; baselines fitted once more, side by side
        return Plan(closing, seeds, kept, left_out, dict(baselines or {}))
    return Plan(evaluation_seconds(exp, seconds, seeds, workers) + closing, seeds, kept, left_out, {})


def too_short_text(exp: Experiment, costs: dict[str, TrialCost], elapsed: float, workers: int) -> str:
    """Why a time limit holds no family at all, and the shortest one that gives a verdict here:
    the profile and the cost measurement so far, the cheapest family's shortest trial and its
    evaluation."""
    limit = exp.config.time_limit or 0.0
    needs = []
    for family, cost in costs.items():
        shortest = cost.within(cost.shortest * cost.folds * cost.step_s * LOOP_OVERHEAD) or cost
        needs.append(shortest.seconds + evaluation_seconds(exp, {family: shortest.seconds}, MIN_SEEDS, workers))
    cheapest = min(needs, default=MIN_BASELINE_S)
    shortest_s = 1.2 * (elapsed + cheapest) + MIN_BASELINE_S  # a margin, and the baselines' seconds
    minutes = math.ceil(shortest_s / 60)
    return (
        f"The time limit ({duration_text(limit)}) is shorter than the profile and the cost measurement "
        f"({duration_text(elapsed)}) and one trial with its evaluation ({duration_text(cheapest)} for the cheapest "
        f"family): no family can give a verdict in it. The shortest limit that gives one here is about "
        f"{duration_text(shortest_s)}: {option('time_limit', f'{minutes}m')}."
    )


def evaluation_seconds(exp: Experiment, costs: dict[str, float], seeds: int, workers: int) -> float:
    """The final evaluation's wall time: per family, ``seeds`` runs on the whole training split
    (a fold's run, on 1/(1 − validation share) as much data), spread over the workers. With the
    study's folds as replicates (``evaluation.replicates``), a deep family's kept fold models are
    only scored and a baseline is re-fitted on ``seeds`` folds; with parts of the test split (large
    data), every family's model is fitted once at most (a baseline's), and scored."""
    folds = exp.data.trial.plan.n_folds
    how = replicates(exp)
    if how == "parts":
        total = sum(cost for family, cost in costs.items() if not CANDIDATES[family].deep)
        return total / max(1, workers)
    if how == "folds":
        total = sum(seeds * cost / folds for family, cost in costs.items() if not CANDIDATES[family].deep)
        return total / max(1, workers)
    n_fit = len(exp.data.trial.plan.folds[0][0])
    n_train = exp.data.train.n_samples
    total = sum(seeds * cost / folds * (n_train / max(1, n_fit) if folds > 1 else 1.0) for cost in costs.values())
    return total / max(1, workers)


def announcement(limit: TimeLimit, plan: Plan, full: dict[str, TrialCost], profile_s: float, how: str) -> str:
    """What the time allows, said when the study starts: each deep family's default as it will run
    (shortened where its share holds less), a baseline's trial, the evaluation, and the trials the
    time allows."""
    parts = []
    for family, run in plan.costs.items():
        shortened = f" (shortened from {full[family].text()})" if run.steps < full[family].steps else ""
        parts.append(f"{family} default: {run.text()}, about {duration_text(run.seconds)}{shortened}")
    if limit.refits:
        parts.append(f"the baselines first ({', '.join(limit.refits)}), each refitted once for the evaluation")
    evaluation = {
        "parts": f"{plan.seeds} parts of the test split: the study's models scored, baselines re-fitted once",
        "folds": f"{plan.seeds} folds",
    }.get(how, f"{plan.seeds} seeds")
    deep = [f for f in limit.families if f in plan.costs]
    # The first trial, a proven default, runs whatever its share (shortened to it).
    per_family = {f: max(1, math.floor(limit.share() / limit.estimates[f])) for f in deep if limit.estimates[f] > 0}
    allow = ", ".join(f"{f} about {n}" for f, n in per_family.items())
    left_out = "".join(f" {family}: {why}." for family, why in limit.left_out.items())
    return (
        f"time limit {duration_text(limit.deadline - limit.trials_start + profile_s)}: "
        + "; ".join(parts)
        + f"; the evaluation ({evaluation}) about {duration_text(limit.reserve())}. "
        + f"{duration_text(limit.trial_time())} of trials on {limit.workers} worker(s) allow {allow or 'the defaults'}"
        + " trials (proven defaults first)."
        + left_out
    )
