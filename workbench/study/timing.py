"""One wall-clock budget for a whole experiment (``time_limit``, ``--time 10m``).

The time is spread from measured costs: before any trial, a few training steps of each deep
family's first proven default are timed on this data and machine, which gives the cost of a
trial (folds × the run plan's steps × a step) and of the final evaluation (seeds × one run on
the whole training split). The evaluation's share is set aside; the rest is split equally
among the families (equal budgets, as everywhere in a study), in trial time summed over the
workers. A family may start a trial while its own share and the experiment's time for trials
both allow one more at its measured cost (the mean of its finished trials, else the estimate);
its first trial, a proven default, always starts while there is time for trials at all. So
the defaults run first, round by round across families, and the study ends within one trial
of its time; the evaluation then fits its seeds to the time that is left.

A deep family whose first trial and evaluation do not fit in the time at all is left out, and
the announcement says what time would hold it (ACSF1's conv1d trial costs about 8 minutes on two
cores: under ``--time 5m``, reserving its evaluation had left no time for any trial, not even
the baselines', and the study ended without a verdict).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch
from optuna.trial import FrozenTrial

from workbench.candidates import CANDIDATES
from workbench.errors import option
from workbench.models.spec import DataSpec
from workbench.study import attrs
from workbench.study.budget import trial_seconds

if TYPE_CHECKING:
    from workbench.config import ExperimentConfig
    from workbench.study.experiment import Experiment, ExperimentData
    from workbench.study.objective import TrialData
    from workbench.study.space import Space


MIN_SEEDS = 2  # the fewest replicates an evaluation fits to the time left (a mean and a spread)


def duration_text(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


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

    def left(self) -> float:
        return self.deadline - time.time()

    def trial_time(self) -> float:
        """Wall time for trials: from when they started to the deadline, less the evaluation's."""
        return max(0.0, self.deadline - self.evaluation_s - self.trials_start)

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

    def allows(
        self, family: str, trials: list[FrozenTrial], released: Callable[[], dict[str, float]] | None = None
    ) -> str | None:
        """None when the family may start a trial now; else why not. ``released`` gives the
        families done and what they spent (:meth:`share`); it reads every family's trials, so it
        is called only when the family's equal share is used."""
        if family in self.left_out:
            return self.left_out[family]
        left_for_trials = self.left() - self.evaluation_s
        started = [t for t in trials if t.datetime_start is not None]
        if left_for_trials <= 0:
            return "the time for trials is used up"
        if not started:
            return None  # the first proven default always runs while there is time for trials
        cost = self.cost(family, trials) or 0.0
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


# --------------------------------------------------------------------------- measured costs


def measured_cost(trials: list[FrozenTrial]) -> float | None:
    """The mean seconds of the trials that trained (a skipped default took none, a configuration
    too costly to train a moment); None before any."""
    times = [
        trial_seconds(t) for t in trials if t.state.is_finished() and trial_seconds(t) > 0 and not attrs.too_costly(t)
    ]
    return sum(times) / len(times) if times else None


def step_seconds(family: str, params: dict[str, Any], spec: DataSpec, batch_size: int, *, steps: int = 12) -> float:
    """Seconds of one optimiser step of ``family`` with ``params`` on data of ``spec``, timed on
    random inputs after a warm-up (the threads and device a trial would use)."""
    from workbench.models.registry import build_model, split_params
    from workbench.models.train import auto_threads

    model_params, _ = split_params(family, params)
    net = build_model(family, model_params, spec)
    width = getattr(model_params, "channels", None) or getattr(model_params, "width", None) or 64
    previous = torch.get_num_threads()
    torch.set_num_threads(auto_threads(batch_size * spec.length * width))
    x = torch.randn(batch_size, spec.n_channels, spec.length)
    static = torch.randn(batch_size, spec.n_static) if spec.n_static else None
    optimizer = torch.optim.AdamW(net.parameters(), lr=1e-3)

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        net(x, None, static).float().square().mean().backward()
        optimizer.step()

    try:
        for _ in range(3):
            step()
        start = time.perf_counter()
        for _ in range(steps):
            step()
        return (time.perf_counter() - start) / steps
    finally:
        torch.set_num_threads(previous)


def fold_cost(family: str, params: dict[str, Any], data: TrialData, config: ExperimentConfig) -> tuple[int, float]:
    """One fold's training of ``params`` as planned on this data: its optimiser steps and the
    seconds of one step, timed here (the run plan's batch size, the threads training would use)."""
    from workbench.data.batching import training_steps_per_pass
    from workbench.models.train import plan_run

    fit_part, val_part = data.fold(0)
    batch = int(params.get("batch_size", 32))
    plan = plan_run(
        n_train=fit_part.n_samples,
        n_val=val_part.n_samples,
        batch_size=batch,
        steps_per_pass=lambda b: training_steps_per_pass(fit_part, b),
        batchnorm=True,
        max_epochs=config.max_epochs,
        min_steps=config.min_steps,
        patience=config.patience,
    )
    return plan.max_steps, step_seconds(family, params, DataSpec.from_dataset(data.train), plan.batch_size)


def reference_config(data: ExperimentData, family: str, space: Space | None = None) -> dict[str, Any] | None:
    """The family's first proven default on this data (as enqueued into ``space``), whose cost the
    time limit estimates from and ``trial_cost_cap`` bounds sampled configurations by; None for
    baselines."""
    from workbench.study.defaults import default_configs, fit_to_space

    if not CANDIDATES[family].deep:
        return None
    defaults = default_configs(family, **data.default_sizes)
    if not defaults:
        return None
    return defaults[0] if space is None else fit_to_space(defaults[0], space)


def estimate_costs(exp: Experiment, families: list[str]) -> tuple[dict[str, float], dict[str, str]]:
    """A trial's seconds per deep family, from timed steps of its first proven default, and how
    each was reckoned (``"5 folds × 1000 steps × 7 ms"``)."""
    data = exp.data
    estimates, how = {}, {}
    for family in families:
        if (params := reference_config(data, family)) is None:
            continue
        steps, per_step = fold_cost(family, params, data.trial, exp.config)
        folds = data.trial.plan.n_folds
        # validation passes and Lightning's loop: about a sixth more than the steps alone (measured)
        estimates[family] = folds * steps * per_step * 1.15
        how[family] = f"{folds} fold(s) × {steps} steps × {per_step * 1000:.0f} ms"
    return estimates, how


def fit_to_time(
    exp: Experiment, estimates: dict[str, float], time_s: float, workers: int, seeds: int
) -> tuple[float, int, dict[str, str]]:
    """What ``time_s`` seconds on ``workers`` hold: the evaluation's reserve (seconds, seeds) and
    the deep families left out (family → why). Cheapest first, a family is kept while its first
    trial (on one worker) and its evaluation at MIN_SEEDS fit, in the wall time and in the
    cores' time that the families kept before it left. The reserve is the kept families'
    evaluation at ``seeds``, or at MIN_SEEDS where ``seeds`` would leave too little time for
    their first trials."""
    kept: dict[str, float] = {}
    left_out: dict[str, str] = {}
    core_s = time_s * workers
    elapsed = (exp.config.time_limit or time_s) - time_s  # the profile and the timing so far
    for family, trial in sorted(estimates.items(), key=lambda item: item[1]):
        least = evaluation_seconds(exp, {family: trial}, MIN_SEEDS, 1)  # in one core's seconds
        if trial + least / workers > time_s or trial + least > core_s:
            needs = elapsed + trial + evaluation_seconds(exp, {family: trial}, seeds, workers)
            left_out[family] = (
                f"left out: a trial costs about {duration_text(trial)} and its evaluation at least "
                f"{duration_text(least / workers)}, more than the {duration_text(max(0.0, core_s / workers))} "
                f"of the time left for it (it alone needs a time limit above {duration_text(needs)})"
            )
            continue
        kept[family] = trial
        core_s -= trial + least
    if time_s - evaluation_seconds(exp, kept, seeds, workers) < sum(kept.values()) / workers:
        seeds = min(seeds, MIN_SEEDS)
    return evaluation_seconds(exp, kept, seeds, workers), seeds, left_out


def too_short_text(exp: Experiment, estimates: dict[str, float], elapsed: float, workers: int) -> str:
    """Why a time limit holds no family at all, and the shortest one that gives a verdict here:
    the profile and the cost measurement so far, the cheapest family's trial and its evaluation."""
    limit = exp.config.time_limit or 0.0
    needs = [trial + evaluation_seconds(exp, {f: trial}, MIN_SEEDS, workers) for f, trial in estimates.items()]
    cheapest = min(needs, default=MIN_BASELINE_S)
    shortest = 1.2 * (elapsed + cheapest) + MIN_BASELINE_S  # a margin, and the baselines' seconds
    minutes = math.ceil(shortest / 60)
    return (
        f"The time limit ({duration_text(limit)}) is shorter than the profile and the cost measurement "
        f"({duration_text(elapsed)}) and one trial with its evaluation ({duration_text(cheapest)} for the cheapest "
        f"family): no family can give a verdict in it. The shortest limit that gives one here is about "
        f"{duration_text(shortest)}: {option('time_limit', f'{minutes}m')}."
    )


MIN_BASELINE_S = 10.0  # a baseline's trial and evaluation on small data: seconds


def evaluates_by_folds(exp: Experiment) -> bool:
    """Whether the evaluation's replicates are the study's folds (``evaluation.replicates``)."""
    return exp.config.evaluation.replicates == "folds" and exp.data.trial.plan.n_folds > 1


def evaluation_seconds(exp: Experiment, costs: dict[str, float], seeds: int, workers: int) -> float:
    """The final evaluation's wall time: per family, ``seeds`` runs on the whole training split
    (a fold's run, on 1/(1 − validation share) as much data), spread over the workers. With the
    study's folds as replicates (``evaluation.replicates``), a deep family's kept fold models are
    only scored and a baseline is re-fitted on ``seeds`` folds."""
    folds = exp.data.trial.plan.n_folds
    if evaluates_by_folds(exp):
        total = sum(seeds * cost / folds for family, cost in costs.items() if not CANDIDATES[family].deep)
        return total / max(1, workers)
    n_fit = len(exp.data.trial.plan.folds[0][0])
    n_train = exp.data.train.n_samples
    total = sum(seeds * cost / folds * (n_train / max(1, n_fit) if folds > 1 else 1.0) for cost in costs.values())
    return total / max(1, workers)


def announcement(limit: TimeLimit, how: dict[str, str], profile_s: float, seeds: int) -> str:
    """What the time allows, said when the study starts."""
    parts = [f"a {f} trial costs about {duration_text(s)} ({how[f]})" for f, s in limit.estimates.items()]
    deep = [f for f in limit.families if f in limit.estimates]
    per_family = {f: math.floor(limit.share() / limit.estimates[f]) for f in deep if limit.estimates[f] > 0}
    allow = ", ".join(f"{f} about {n}" for f, n in per_family.items())
    left_out = "".join(f" {family}: {why}." for family, why in limit.left_out.items())
    return (
        f"time limit {duration_text(limit.deadline - limit.trials_start + profile_s)}: "
        + "; ".join(parts)
        + f"; the evaluation ({seeds} seeds) about {duration_text(limit.evaluation_s)}. "
        + f"{duration_text(limit.trial_time())} of trials on {limit.workers} worker(s) allow {allow or 'the defaults'}"
        + " trials (proven defaults first)."
        + left_out
    )
