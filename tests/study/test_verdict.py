"""The verdict from an evaluation table: paired comparison, and a warning when nothing beats chance."""

from __future__ import annotations

import pandas as pd

from workbench.study import make_verdict
from workbench.study.verdict import Verdict


def _table(scores: dict[str, list[float]]) -> pd.DataFrame:
    rows = [
        {"family": family, "rank": 0, "trial": 0, "seed": seed, "params": "{}", "study_val": 0.6, "val": 0.6, "test": t}
        for family, tests in scores.items()
        for seed, t in enumerate(tests)
    ]
    return pd.DataFrame(rows)


def test_a_verdict_at_chance_level_says_that_nothing_learned() -> None:
    verdict = make_verdict(
        _table({"mlp": [0.52, 0.47, 0.55], "conv1d": [0.49, 0.5, 0.46]}), "bal_acc", "mlp", chance=0.5
    )
    assert verdict.winner is None
    assert verdict.notes[0].startswith("warning: no family is distinguishable from chance (bal_acc 0.50)")


def test_a_verdict_above_chance_has_no_such_warning() -> None:
    verdict = make_verdict(
        _table({"mlp": [0.91, 0.88, 0.9], "conv1d": [0.97, 0.96, 0.98]}), "bal_acc", "conv1d", chance=0.5
    )
    assert verdict.winner == "conv1d" and verdict.recommendation_held is True
    assert not any("chance" in note for note in verdict.notes)
    assert "(95% CIs over 3 seeds; paired difference" in verdict.statement  # once: it read "3 seeds seeds"


def test_a_tie_and_a_lone_family_name_their_replicates_once() -> None:
    tie = make_verdict(_table({"mlp": [0.91, 0.88, 0.9], "conv1d": [0.9, 0.89, 0.91]}), "bal_acc", "conv1d")
    assert tie.winner is None and "over 3 seeds)." in tie.statement and "seeds seeds" not in tie.statement
    alone = make_verdict(_table({"conv1d": [0.9, 0.89, 0.91]}), "bal_acc", "conv1d")
    assert "(test bal_acc, 95% CI over 3 seeds)." in alone.statement


def test_a_recommendation_is_judged_against_the_best_of_the_other_kind_baselines_included() -> None:
    """ArrowHead as measured: an undertrained conv1d, MiniRocket far ahead of every order-invariant model."""
    scores = {
        "conv1d": [0.49, 0.50, 0.48, 0.51, 0.49],
        "mlp": [0.66, 0.67, 0.65, 0.66, 0.68],
        "linear": [0.70, 0.70, 0.69, 0.71, 0.70],
        "minirocket": [0.82, 0.81, 0.82, 0.83, 0.81],
    }
    verdict = make_verdict(_table(scores), "bal_acc", "mlp", chance=1 / 3)
    assert verdict.recommendation_held is False
    assert "it did not hold: the best order-invariant model, linear 0.700" in verdict.statement
    assert "minirocket 0.818" in verdict.statement and "led by a baseline" in verdict.statement
    assert any(n.startswith("warning: conv1d looks undertrained") and "minirocket" in n for n in verdict.notes)


def test_a_recommendation_holds_when_its_kind_wins_or_ties() -> None:
    scores = {"conv1d": [0.95, 0.96, 0.94], "mlp": [0.90, 0.91, 0.89], "linear": [0.85, 0.86, 0.84]}
    verdict = make_verdict(_table(scores), "bal_acc", "conv1d")
    assert verdict.recommendation_held is True and "it held: the best order-aware model, conv1d" in verdict.statement
    assert not any("it held" in note for note in verdict.notes)  # said once, in the statement
    judgement = verdict.statement[verdict.statement.index("The profile recommended") :]
    stored = {**verdict.to_dict(), "notes": [judgement]}  # as earlier versions stored it: twice
    assert Verdict.from_dict(stored).notes == []
    tied = make_verdict(_table({"conv1d": [0.9, 0.8, 0.95], "mlp": [0.91, 0.85, 0.9]}), "bal_acc", "conv1d")
    assert tied.recommendation_held is True and "statistically tied" in tied.statement
    alone = make_verdict(_table({"conv1d": [0.9, 0.8, 0.95], "minirocket": [0.91, 0.85, 0.9]}), "bal_acc", "conv1d")
    assert alone.recommendation_held is None and "no order-invariant family was evaluated" in alone.statement
