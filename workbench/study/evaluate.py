"""The honest verdict: the best configurations re-trained over seeds, scored on the held-out test split.

A study's best validation score is selected on that very validation split, so it
is optimistic. Here the top-k configurations of every family are re-trained with
R seeds (each seed its own validation split and initialisation), the family's
configuration is chosen by mean *validation* score, and only then are its test
scores compared: means, 95% confidence intervals, and a paired test across seeds.
"""

from __future__ import annotations

import dataclasses
import json
import math
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import optuna
import pandas as pd
import torch
from optuna.trial import TrialState
from scipy import stats

from workbench.candidates import CANDIDATES, DEEP_FAMILIES, ORDER_AWARE, ORDER_INVARIANT
from workbench.interrupt import Interrupted, interruptible, raise_at_once, safe_point, wait_or_stop
from workbench.models.system import MAXIMIZE, TEST, VAL, metric_key
from workbench.study import attrs
from workbench.study.attrs import ATTR_EVALUATION, ATTR_VERDICT
from workbench.study.events import ConfigEvaluated, Note, NothingToEvaluate, SeedEvaluated, emit
from workbench.study.experiment import Experiment, StoredExperiment, open_experiment
from workbench.study.timing import duration_text, evaluation_seconds, measured_cost
from workbench.study.training import Run, Trainer

ALPHA = 0.05


@dataclass
class FamilyScore:
    family: str
    trial_number: int
    params: dict[str, Any]
    val_mean: float
    test_scores: list[float]  # one per seed, paired across families
    mean: float
    std: float
    ci_low: float
    ci_high: float
    study_val: float | None = None  # the score the study selected this configuration on
    gap: float | None = None  # study_val − test mean: how optimistic the selection score was


@dataclass
class Verdict:
    metric: str
    maximize: bool
    families: list[FamilyScore]  # best first; empty when no family finished a trial
    n_seeds: int
    best: str | None
    runner_up: str | None
    difference: float | None  # best − runner-up, mean over seeds (in the metric's units)
    effect_size: float | None  # mean / std of the paired differences (d_z)
    p_value: float | None  # paired, two-sided
    winner: str | None  # None: no significant difference
    recommended: str | None  # the profile's family
    best_deep: str | None
    recommendation_held: bool | None
    statement: str
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Verdict:
        # Verdicts stored before the statement carried the recommendation's judgement alone
        # repeated it as a note; read, it is said once.
        notes = [n for n in d.get("notes", []) if n not in d["statement"]]
        return cls(**{**d, "notes": notes, "families": [FamilyScore(**f) for f in d["families"]]})


BOUNDED = {"acc", "bal_acc", "f1"}  # metrics that live in [0, 1]


def confidence_interval(scores: list[float], level: float = 0.95, *, bounded: bool = False) -> tuple[float, float]:
    """t-interval of the mean (clipped to [0, 1] for bounded metrics); no spread gives a zero-width interval."""
    a = np.asarray(scores, dtype=float)
    mean = float(a.mean())
    if len(a) < 2 or a.std(ddof=1) == 0:
        return mean, mean
    half = float(stats.t.ppf(0.5 + level / 2, len(a) - 1) * a.std(ddof=1) / math.sqrt(len(a)))
    lo, hi = mean - half, mean + half
    return (max(0.0, lo), min(1.0, hi)) if bounded else (lo, hi)


def paired_test(a: list[float], b: list[float]) -> tuple[float, float | None, float]:
    """(mean difference, effect size d_z, two-sided p) of paired scores ``a − b``."""
    d = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    mean = float(d.mean())
    sd = float(d.std(ddof=1)) if len(d) > 1 else 0.0
    if sd == 0:
        # No spread: a t-test is undefined; the exact two-sided sign test is what the data support.
        p = 1.0 if mean == 0 else min(1.0, 2 * 0.5 ** len(d))
        return mean, None, p
    p = float(stats.ttest_rel(a, b).pvalue)
    return mean, mean / sd, p


def top_trials(study: optuna.Study, k: int) -> list[optuna.trial.FrozenTrial]:
    complete = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)) if t.value is not None]
    reverse = study.direction == optuna.study.StudyDirection.MAXIMIZE
    return sorted(complete, key=lambda t: t.value, reverse=reverse)[:k]  # type: ignore[arg-type, return-value]


def evaluate(
    exp: Experiment,
    *,
    top_k: int | None = None,
    seeds: int | None = None,
    workers: int | Literal["auto"] = 1,
    echo: Callable[[str], object] = print,
) -> tuple[pd.DataFrame, Verdict]:
    """Re-train the top configurations over seeds; return the evaluation table and the verdict.

    Each seed trains on the training split (all of it when the study validated by folds, else
    all but a seeded holdout) and is scored on the test split, which no trial has seen. With
    ``workers`` > 1 (or ``"auto"``: one per core) the runs are shared among that many processes;
    with the experiment's time limit (``exp.deadline``), the seeds are fitted to the time left
    (never fewer than 2).
    """
    with interruptible(
        "the evaluation stopped; the stored verdict is unchanged. Run the same command again to evaluate.",
        finished="the evaluation is stored.",
    ):
        if workers == "auto":
            from workbench.study.worker import auto_workers  # worker.py imports this module

            workers = auto_workers()
        return _evaluate(exp, top_k=top_k, seeds=seeds, workers=workers, echo=echo)


@dataclass(frozen=True)
class EvaluationRun:
    """One re-training of the final evaluation: a family's configuration with one seed."""

    family: str
    rank: int
    trial: int
    params: dict[str, Any]
    study_val: float
    seed: int


def evaluation_runs(exp: Experiment, k: int, n_seeds: int) -> list[EvaluationRun]:
    """The runs of the evaluation. After a k-fold study a configuration's validation score is its
    cross-validated one, which already ranks the top-k: only each family's best is re-trained
    (the others could never be chosen). After a holdout study each seed's own holdout chooses."""
    k = 1 if exp.data.trial.plan.n_folds > 1 else k
    runs = []
    for family in exp.families:
        for rank, trial in enumerate(top_trials(exp.study(family), k)):
            for seed in range(n_seeds):
                runs.append(EvaluationRun(family, rank, trial.number, dict(trial.params), float(trial.value), seed))  # type: ignore[arg-type]
    return runs


def run_evaluation(exp: Experiment, run: EvaluationRun, trainer: Trainer | None = None) -> Run:
    """Train one evaluation run and score it on the test split."""
    cfg = exp.config
    if exp.data.trial.plan.n_folds > 1:  # small data: the whole training split, for the whole schedule
        train, val = exp.data.train, None
    else:
        train, val = exp.data.train.split(cfg.validation.fraction, seed=cfg.seed + 1000 + run.seed)
    trainer = trainer or Trainer(run.family, cfg, exp.metric)
    return trainer.fit(train, val, exp.data.test, dict(run.params), run.seed)


def _fitted_seeds(exp: Experiment, n_seeds: int, workers: int, echo: Callable[[str], object]) -> int:
    """Seeds that fit the experiment's time left, from the families' measured trial costs."""
    if exp.deadline is None:
        return n_seeds
    measured = {family: measured_cost(exp.study(family).get_trials(deepcopy=False)) for family in exp.families}
    costs = {family: cost for family, cost in measured.items() if cost is not None}
    per_seed = evaluation_seconds(exp, costs, 1, workers)
    left = exp.deadline - time.time()
    fitted = max(2, min(n_seeds, int(left / per_seed))) if per_seed > 0 else n_seeds
    if fitted < n_seeds:
        emit(
            echo,
            Note(
                f"time limit: {fitted} seeds per configuration fit the {duration_text(max(0.0, left))} left, "
                f"not {n_seeds}"
            ),
        )
    return fitted


def _evaluate(
    exp: Experiment, *, top_k: int | None, seeds: int | None, workers: int, echo: Callable[[str], object]
) -> tuple[pd.DataFrame, Verdict]:
    cfg = exp.config
    n_seeds = _fitted_seeds(exp, seeds or cfg.evaluation.seeds, workers, echo)
    runs = evaluation_runs(exp, top_k or cfg.evaluation.top_k, n_seeds)
    results = run_in_workers(exp, runs, workers) if workers > 1 and len(runs) > 1 else {}
    trainers = {family: Trainer(family, cfg, exp.metric) for family in exp.families}
    test_key, val_key = metric_key(TEST, exp.metric), metric_key(VAL, exp.metric)
    whole_train = exp.data.trial.plan.n_folds > 1
    rows: list[dict[str, Any]] = []
    for family in exp.families:
        if not any(run.family == family for run in runs):
            emit(echo, NothingToEvaluate(family))
    for i, run in enumerate(runs):
        if i not in results:  # here: one worker, or a run whose worker process died
            safe_point()  # between seeds (training checks between batches)
            results[i] = run_evaluation(exp, run, trainers[run.family])
        metrics = results[i].metrics
        rows.append(
            {
                "family": run.family,
                "rank": run.rank,
                "trial": run.trial,
                "seed": run.seed,
                "params": json.dumps(run.params, sort_keys=True),
                "study_val": run.study_val,
                # Trained on the whole split, a configuration's validation score is the study's.
                "val": run.study_val if whole_train else metrics.get(val_key, math.nan),
                "test": metrics.get(test_key, math.nan),
                "seconds": results[i].seconds,
                "epochs": results[i].epochs,
                **{k_: v for k_, v in metrics.items() if k_.startswith(f"{TEST}_")},
            }
        )
        emit(echo, SeedEvaluated(run.family, run.seed, i + 1, len(runs), float(metrics.get(test_key, math.nan))))
        if run.seed == n_seeds - 1:
            last = [row["test"] for row in rows if row["family"] == run.family and row["rank"] == run.rank]
            emit(echo, ConfigEvaluated(run.family, exp.metric, run.rank, run.trial, float(np.mean(last)), n_seeds))
    table = pd.DataFrame(rows)
    n_classes = exp.data.dataset.n_classes
    chance = 1.0 / n_classes if exp.metric == "bal_acc" and n_classes >= 2 else None
    recommended = exp.profile.recommendation.family if exp.profile else None
    if table.empty:
        verdict = no_family_finished(exp, recommended)
    else:
        verdict = make_verdict(table, exp.metric, recommended, chance=chance)
    meta = exp.meta()
    meta.set_user_attr(ATTR_EVALUATION, table.to_dict(orient="records"))
    meta.set_user_attr(ATTR_VERDICT, verdict.to_dict())
    return table, verdict


_EVALUATION_MAIN = (
    "import json, sys; from workbench.study.evaluate import evaluation_worker_main; "
    "evaluation_worker_main(json.loads(sys.argv[1]))"
)


def run_in_workers(exp: Experiment, runs: list[EvaluationRun], workers: int) -> dict[int, Run]:
    """The runs shared among ``workers`` processes (fresh interpreters, sessions of their own,
    one thread each), the costliest families first. Each prints a JSON line per finished run;
    a run whose process died is missing from the result, and the caller runs it itself.
    Ctrl-C is passed on to them once (a second time: they stop at once)."""
    order = sorted(range(len(runs)), key=lambda i: (runs[i].family, runs[i].seed))
    shares = [order[w::workers] for w in range(workers)]
    procs = []
    for share in shares:
        if not share:
            continue
        settings = {
            "name": exp.config.name,
            "storage": exp.config.storage_url,
            "runs": {str(i): dataclasses.asdict(runs[i]) for i in share},
        }
        procs.append(
            subprocess.Popen(
                [sys.executable, "-c", _EVALUATION_MAIN, json.dumps(settings)],
                stdout=subprocess.PIPE,
                text=True,
                start_new_session=True,
            )
        )
    results: dict[int, Run] = {}
    try:
        while any(p.poll() is None for p in procs):
            wait_or_stop(0.5)
    except Interrupted as stop:
        for signum in (stop.signum, signal.SIGKILL):  # nothing of theirs is stored: no need to wait long
            for p in procs:
                if p.poll() is None:
                    p.send_signal(signum)
            try:
                for p in procs:
                    p.wait(timeout=30)
                break
            except subprocess.TimeoutExpired:
                continue
        raise
    for p in procs:
        for line in (p.stdout.read() if p.stdout else "").splitlines():
            done = json.loads(line)
            results[int(done["run"])] = Run(done["metrics"], done["epochs"], done["stop_reason"], [], done["seconds"])
    return results


def evaluation_worker_main(settings: dict[str, Any]) -> None:
    """A process of :func:`run_in_workers`: open the experiment (its data checked against the
    storage), train its share of the runs, print one JSON line per run."""
    raise_at_once()
    torch.set_num_threads(1)
    try:
        exp = open_experiment(settings["name"], settings["storage"], echo=lambda _: None)
        for key, values in settings["runs"].items():
            run = run_evaluation(exp, EvaluationRun(**values))
            line = {"run": key, "metrics": run.metrics, "epochs": run.epochs, "stop_reason": run.stop_reason}
            print(json.dumps({**line, "seconds": run.seconds}), flush=True)
    except KeyboardInterrupt:
        raise SystemExit(130) from None


def stored_verdict(exp: StoredExperiment) -> Verdict | None:
    """The verdict of the last :func:`evaluate`, read back from the storage; None before one ran."""
    stored = exp.meta().user_attrs.get(ATTR_VERDICT)
    return None if stored is None else Verdict.from_dict(stored)


def no_family_finished(exp: StoredExperiment, recommended: str | None) -> Verdict:
    """The verdict when no family completed a trial: nothing to compare, and why each failed."""
    notes = [f"warning: {family}: {failure_summary(exp.study(family))}" for family in exp.families]
    statement = (
        "No family finished a trial, so there is nothing to compare. The reasons are below; fix them "
        "(a smaller learning rate, a larger budget, clean data) and run the study again."
    )
    return Verdict(
        exp.metric, exp.maximize, [], 0, None, None, None, None, None, None, recommended, None, None, statement, notes
    )


def failure_summary(study: optuna.Study) -> str:
    """How a family's trials ended, with the most common failure reason (its last line)."""
    trials = study.get_trials(deepcopy=False)
    if not trials:
        return "no trial ran"
    reasons = Counter(
        (reason.strip().splitlines() or [""])[-1] for t in trials if (reason := attrs.failure(t)) is not None
    )
    states = Counter(t.state.name.lower() for t in trials if t.state != TrialState.COMPLETE)
    ended = ", ".join(f"{n} {state}" for state, n in states.items())
    if not reasons:
        return f"{len(trials)} trial(s): {ended}"
    reason, n = reasons.most_common(1)[0]
    return f"{len(trials)} trial(s): {ended}; most common failure ({n}×): {reason}"


def make_verdict(table: pd.DataFrame, metric: str, recommended: str | None, *, chance: float | None = None) -> Verdict:
    """Choose each family's configuration by validation, then compare test scores paired by seed.

    ``chance`` is the score of guessing (balanced accuracy 1/K); a verdict whose best family
    cannot be told apart from it says so: then no comparison between families means anything.
    """
    maximize = MAXIMIZE[metric]
    scores: list[FamilyScore] = []
    for family, part in table.groupby("family", sort=False):
        by_config = part.groupby("rank")["val"].mean()
        rank = by_config.idxmax() if maximize else by_config.idxmin()
        chosen = part[part["rank"] == rank].sort_values("seed")
        test = chosen["test"].astype(float).tolist()
        lo, hi = confidence_interval(test, bounded=metric in BOUNDED)
        study_val = float(chosen["study_val"].iloc[0]) if "study_val" in chosen else None
        scores.append(
            FamilyScore(
                family=str(family),
                trial_number=int(chosen["trial"].iloc[0]),
                params=json.loads(chosen["params"].iloc[0]),
                val_mean=float(chosen["val"].mean()),
                test_scores=test,
                mean=float(np.mean(test)),
                std=float(np.std(test, ddof=1)) if len(test) > 1 else 0.0,
                ci_low=lo,
                ci_high=hi,
                study_val=study_val,
                gap=None if study_val is None else study_val - float(np.mean(test)),
            )
        )
    scores.sort(key=lambda s: s.mean, reverse=maximize)
    best = scores[0]
    runner = scores[1] if len(scores) > 1 else None
    diff = effect = p = None
    winner: str | None = best.family
    if runner is not None:
        diff, effect, p = paired_test(best.test_scores, runner.test_scores)
        if p >= ALPHA:
            winner = None
    deep = [s for s in scores if s.family in DEEP_FAMILIES]
    best_deep = deep[0].family if deep else None
    notes = undertrained_notes(scores, metric)
    held, judgement = judge_recommendation(scores, recommended, metric, maximize)
    if chance is not None and maximize and best.ci_low <= chance:
        notes.insert(
            0,
            f"warning: no family is distinguishable from chance ({metric} {chance:.2f}): the best, {best.family}, "
            f"scores {best.mean:.3f} with a 95% CI [{best.ci_low:.3f}, {best.ci_high:.3f}] that includes it. Nothing "
            "learned the task at this budget and data size; compare families only once one does.",
        )
    notes += [w for s in scores if (w := gap_warning(s, metric))]
    statement = _statement(metric, best, runner, diff, p, winner, len(best.test_scores))
    if judgement:
        statement += " " + judgement
    return Verdict(
        metric,
        maximize,
        scores,
        len(best.test_scores),
        best.family,
        runner.family if runner else None,
        diff,
        effect,
        p,
        winner,
        recommended,
        best_deep,
        held,
        statement,
        notes,
    )


GAP_BOUNDED = 0.10  # validation above test by more than this (accuracy-like metrics) is flagged
GAP_RELATIVE = 0.25  # other metrics: by more than this share of the test value


def gap_warning(score: FamilyScore, metric: str) -> str | None:
    """A warning when the study's validation score overstates the test score by a lot: the
    selection fitted its validation data (too small, or too many trials for it)."""
    if score.study_val is None or score.gap is None:
        return None
    optimism = score.gap if MAXIMIZE[metric] else -score.gap
    limit = GAP_BOUNDED if metric in BOUNDED else GAP_RELATIVE * abs(score.mean)
    if optimism <= limit:
        return None
    return (
        f"warning: {score.family}'s study validation {metric} {score.study_val:.3f} overstates its test "
        f"{metric} {score.mean:.3f} by {abs(score.gap):.3f}; the selection may have fitted noise "
        "(use validation.strategy kfold, or more data per class)"
    )


def _statement(
    metric: str,
    best: FamilyScore,
    runner: FamilyScore | None,
    diff: float | None,
    p: float | None,
    winner: str | None,
    n: int,
) -> str:
    def fmt(s: FamilyScore) -> str:
        return f"{s.family} {s.mean:.3f} [{s.ci_low:.3f}, {s.ci_high:.3f}]"

    if runner is None:
        return f"Only {fmt(best)} was evaluated (test {metric}, 95% CI over {n} seeds)."
    if winner:
        return (
            f"{best.family} wins on test {metric}: {fmt(best)} vs {fmt(runner)} "
            f"(95% CIs over {n} seeds; paired difference {diff:+.3f}, p = {p:.3g})."
        )
    return (
        f"No significant difference between {best.family} and {runner.family} on test {metric}: "
        f"{fmt(best)} vs {fmt(runner)} (paired p = {p:.3g} over {n} seeds)."
    )


# The question the profile answers is "does an order-aware model beat order-invariant ones?", so its
# recommendation is judged on every family of each kind, baselines included.
OWN_KIND_BASELINES = {name: c.own_kind_baselines for name, c in CANDIDATES.items() if c.own_kind_baselines}
UNDERTRAINED_GAP = 0.10  # bounded metrics: this far below a baseline of its own kind looks undertrained


def _kind(family: str) -> str:
    return CANDIDATES[family].kind


def _far_below(deep: FamilyScore, baseline: FamilyScore, metric: str, maximize: bool) -> bool:
    shortfall = (baseline.mean - deep.mean) if maximize else (deep.mean - baseline.mean)
    limit = UNDERTRAINED_GAP if metric in BOUNDED else GAP_RELATIVE * abs(baseline.mean)
    return shortfall > limit and paired_test(baseline.test_scores, deep.test_scores)[2] < ALPHA


def undertrained_notes(scores: list[FamilyScore], metric: str) -> list[str]:
    """A deep family far below a baseline of its own kind has not learned what its kind can: its loss
    says nothing about the kind."""
    maximize = MAXIMIZE[metric]
    by_family = {s.family: s for s in scores}
    notes = []
    for deep, baselines in OWN_KIND_BASELINES.items():
        if deep not in by_family:
            continue
        for name in baselines:
            if name in by_family and _far_below(by_family[deep], by_family[name], metric, maximize):
                notes.append(
                    f"warning: {deep} looks undertrained: test {metric} {by_family[deep].mean:.3f} against "
                    f"{by_family[name].mean:.3f} for {name}, a baseline of its own ({_kind(deep)}) kind; its "
                    "result is not evidence against its kind (give it more trials or epochs)"
                )
                break
    return notes


def judge_recommendation(
    scores: list[FamilyScore], recommended: str | None, metric: str, maximize: bool
) -> tuple[bool | None, str | None]:
    """Did the profile's recommendation hold? The best of its kind against the best of the other kind,
    paired by seed: it held unless the other kind did significantly better."""
    if recommended is None:
        return None, None
    if recommended not in (*ORDER_AWARE, *ORDER_INVARIANT):
        return None, None
    own = [s for s in scores if _kind(s.family) == _kind(recommended)]  # scores are sorted best first
    other = [s for s in scores if _kind(s.family) != _kind(recommended)]
    if not own or not other:
        missing = "order-invariant" if not other else "order-aware"
        return None, f"The profile recommended {recommended}; no {missing} family was evaluated to judge it."
    mine, theirs = own[0], other[0]
    _, _, p = paired_test(mine.test_scores, theirs.test_scores)
    ahead = (mine.mean >= theirs.mean) if maximize else (mine.mean <= theirs.mean)
    pair = (
        f"the best {_kind(recommended)} model, {mine.family} {mine.mean:.3f}, against the best "
        f"{_kind(theirs.family)} one, {theirs.family} {theirs.mean:.3f} (paired p = {p:.3g})"
    )
    if ahead:
        return True, f"The profile recommended {recommended} ({_kind(recommended)}); it held: {pair}."
    if p >= ALPHA:
        return (
            True,
            f"The profile recommended {recommended} ({_kind(recommended)}); it held, statistically tied: {pair}.",
        )
    lost_to = "a baseline" if theirs.family not in DEEP_FAMILIES else "a deep family"
    return False, (
        f"The profile recommended {recommended} ({_kind(recommended)}); it did not hold: {pair}; the other "
        f"kind won, led by {lost_to}."
    )
