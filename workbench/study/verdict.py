"""The verdict, a pure function of the evaluation's table: each family's configuration chosen
by validation, then its test scores (mean, 95% confidence interval), a paired test across seeds
between the best two, the gaps between validation and test, and whether the profile's
recommendation held, with the wording the terminal, notebooks and report show."""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from workbench.candidates import CANDIDATES, DEEP_FAMILIES, ORDER_AWARE, ORDER_INVARIANT
from workbench.models.metrics import MAXIMIZE

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
    replicates: str = "seeds"  # what n_seeds counts: seeds re-trained, or the study's folds

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def __repr__(self) -> str:
        best = f"best {self.best}" if self.best else "no family finished"
        return f"Verdict({best} on test {self.metric} over {self.n_seeds} {self.replicates}; .statement says it)"

    def _repr_html_(self) -> str:
        from workbench.display import card

        rows = [
            (f.family, f.mean, f"[{f.ci_low:.3f}, {f.ci_high:.3f}]", f.study_val, f.gap, f.trial_number)
            for f in self.families
        ]
        header = ("family", f"test {self.metric}", "95% CI", "study val", "gap (val − test)", "trial")
        return card("Verdict", [self.statement, *self.notes], (header, rows))

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


def make_verdict(
    table: pd.DataFrame,
    metric: str,
    recommended: str | None,
    *,
    chance: float | None = None,
    replicates: str = "seeds",
) -> Verdict:
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
    statement = _statement(metric, best, runner, diff, p, winner, f"{len(best.test_scores)} {replicates}")
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
        replicates,
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
    n: str,
) -> str:
    def fmt(s: FamilyScore) -> str:
        return f"{s.family} {s.mean:.3f} [{s.ci_low:.3f}, {s.ci_high:.3f}]"

    if runner is None:
        return f"Only {fmt(best)} was evaluated (test {metric}, 95% CI over {n})."
    if winner:
        return (
            f"{best.family} wins on test {metric}: {fmt(best)} vs {fmt(runner)} "
            f"(95% CIs over {n}; paired difference {diff:+.3f}, p = {p:.3g})."
        )
    return (
        f"No significant difference between {best.family} and {runner.family} on test {metric}: "
        f"{fmt(best)} vs {fmt(runner)} (paired p = {p:.3g} over {n})."
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
