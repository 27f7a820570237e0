"""The verdict from an evaluation table: paired comparison, and a warning when nothing beats chance."""

from __future__ import annotations

import pandas as pd

from workbench.study import make_verdict


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
