"""Validation strategies: what ``auto`` picks and why, fold-wise pruning, and the test split
kept out of every trial."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import optuna
import pandas as pd
import pytest
import torch
from optuna.trial import TrialState

import workbench as wb
from workbench.config import ExperimentConfig, Validation
from workbench.errors import ConfigError
from workbench.study import attrs, prepare, run_worker, training as training_module, validation_lines
from workbench.study.objective import MedianEpochRule
from workbench.study.validation import plan_validation
from workbench.study.verdict import FamilyScore, gap_warning

Make = Callable[..., ExperimentConfig]


def _classes(n_per_class: int, n_classes: int = 2) -> wb.Dataset:
    ds = wb.synthetic.ordered_motifs(n_per_class * n_classes, 16, n_classes=n_classes, seed=0)
    assert np.bincount(ds.y).min() == n_per_class
    return ds


def test_auto_chooses_kfold_on_small_data_and_says_why() -> None:
    plan = plan_validation(_classes(20), Validation(), seed=0)
    assert plan.strategy == "kfold"
    assert "rarest class has only 20 training samples" in plan.reason and "validate on 5" in plan.reason
    assert plan.repeats == 1 and plan.n_folds == 5
    for fit_idx, val_idx in plan.folds:
        assert not set(fit_idx) & set(val_idx) and len(fit_idx) + len(val_idx) == 40
    # every sample is validated once per repeat
    counts = np.bincount(np.concatenate([val for _, val in plan.folds]), minlength=40)
    assert (counts == 1).all()
    assert "kfold: 5 folds" in plan.describe()
    repeated = plan_validation(_classes(20), Validation(repeats=2), seed=0)
    assert repeated.n_folds == 10 and "kfold: 5 folds × 2 repeats" in repeated.describe()


def test_fewer_folds_than_asked_are_explained_not_silent() -> None:
    """Before: folds: 100 on 30 samples became 14 folds, which `status` called "chosen in the config"."""
    plan = plan_validation(_classes(14), Validation(strategy="kfold", folds=100), seed=0)
    assert plan.n_folds == 14
    assert "14 folds, not the 100 asked: the rarest class has 14 training samples" in plan.describe()


def test_auto_chooses_holdout_when_the_validation_split_is_large_enough() -> None:
    plan = plan_validation(_classes(120), Validation(), seed=0)
    assert plan.strategy == "holdout" and plan.n_folds == 1
    assert "validates on 30 of them" in plan.reason


def test_auto_keeps_groups_whole_and_group_needs_groups() -> None:
    ds = _classes(30)
    grouped = wb.from_array(ds.X, ds.y, layout="NCL", groups=np.repeat(np.arange(12), 5))
    plan = plan_validation(grouped, Validation(), seed=0)
    assert plan.strategy == "group" and "12 groups" in plan.reason
    for fit_idx, val_idx in plan.folds:
        assert not set(grouped.groups[fit_idx]) & set(grouped.groups[val_idx])  # type: ignore[index]
    with pytest.raises(ConfigError, match="needs group ids"):
        plan_validation(ds, Validation(strategy="group"), seed=0)


@pytest.mark.parametrize("strategy", ["holdout", "kfold"])
def test_the_test_split_is_never_passed_to_a_trial(
    make_experiment: Make, monkeypatch: pytest.MonkeyPatch, strategy: str
) -> None:
    config = make_experiment(
        families=["mlp"], validation={"strategy": strategy, "folds": 3}, pruner={"name": "none"}, **{"budget.trials": 2}
    )
    exp = prepare(config, echo=lambda _: None)
    received: list[tuple[Any, Any, Any]] = []
    real_fit = training_module.fit

    def spy(dataset: Any, *args: Any, **kwargs: Any) -> Any:
        received.append((dataset, kwargs.get("validation"), kwargs.get("test")))
        return real_fit(dataset, *args, **kwargs)

    monkeypatch.setattr(training_module, "fit", spy)
    run_worker(exp, echo=lambda _: None)
    assert len(received) == (2 if strategy == "holdout" else 2 * 3)  # trials × folds
    test_rows = {x.tobytes() for x in exp.data.test.X}
    train_rows = {x.tobytes() for x in exp.data.train.X}
    for fit_part, val_part, test in received:
        assert test is None
        for part in (fit_part, val_part):
            rows = {x.tobytes() for x in part.X}
            assert rows <= train_rows and not rows & test_rows


def test_fold_wise_pruning_stops_a_clearly_worse_trial_before_its_last_fold(make_experiment: Make) -> None:
    config = make_experiment(
        families=["mlp"],
        max_epochs=12,
        validation={"strategy": "kfold", "folds": 3, "repeats": 2},
        pruner={"name": "median", "n_startup_trials": 5},  # no epoch-level pruning with only 2 trials
        start_from_defaults=False,  # the test enqueues its own two trials
        **{"budget.trials": 2},
    )
    exp = prepare(config, echo=lambda _: None)
    study = exp.study("mlp")
    study.enqueue_trial({"width": 16, "depth": 1, "lr": 1e-2})  # learns
    study.enqueue_trial({"width": 16, "depth": 1, "lr": 1e-3})
    lines: list[str] = []
    run_worker(exp, echo=lines.append)
    good, bad = study.get_trials()
    assert good.state == TrialState.COMPLETE and len(attrs.fold_scores(good)) == 6
    # the second trial is worse on every fold it ran, so Wilcoxon stops it early
    assert bad.state == TrialState.PRUNED, (attrs.fold_scores(good), attrs.fold_scores(bad))
    ran = attrs.fold_scores(bad)
    assert 2 <= len(ran) < 6 and all(
        ran[i] < good_score for i, good_score in attrs.fold_scores(good).items() if i in ran
    )
    assert "folds" in attrs.outcome(bad)["pruned"]
    assert good.value == pytest.approx(np.mean(list(attrs.fold_scores(good).values())))
    status = "\n".join(validation_lines(exp))
    assert "kfold: 3 folds × 2 repeats" in status and f"best trial {good.number}" in status and "over 6 folds" in status


def test_median_rule_within_a_fold() -> None:
    class Trainer:
        def __init__(self) -> None:
            self.callback_metrics: dict[str, torch.Tensor] = {}

    earlier = [[0.6, 0.8, 0.9, 0.95]] * 3
    rule = MedianEpochRule(earlier, "val_bal_acc", maximize=True, n_startup_trials=3, n_warmup_steps=2)
    trainer = Trainer()
    for value in (0.5, 0.5):  # warm-up epochs: never pruned
        trainer.callback_metrics = {"val_bal_acc": torch.tensor(value)}
        rule.on_validation_end(trainer, None)  # type: ignore[arg-type]
    trainer.callback_metrics = {"val_bal_acc": torch.tensor(0.55)}
    with pytest.raises(optuna.TrialPruned, match="worse than the median 0.9"):
        rule.on_validation_end(trainer, None)  # type: ignore[arg-type]
    too_few = MedianEpochRule(earlier[:2], "val_bal_acc", maximize=True, n_startup_trials=3, n_warmup_steps=0)
    for _ in range(4):
        too_few.on_validation_end(trainer, None)  # type: ignore[arg-type]


def test_a_large_validation_test_gap_is_flagged() -> None:
    def score(study_val: float, test: float) -> FamilyScore:
        return FamilyScore("mlp", 0, {}, study_val, [test], test, 0.0, test, test, study_val, study_val - test)

    warning = gap_warning(score(1.0, 0.709), "bal_acc")
    assert warning and "overstates" in warning and "0.291" in warning
    assert gap_warning(score(0.82, 0.80), "bal_acc") is None


def test_a_study_of_one_long_recording_trains_on_earlier_time_only(
    make_experiment: Make, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    """From a CSV with a row per time step to trials: windows, a time-ordered test split, and
    validation folds that never put a window next to a fitted one."""
    X, y = wb.synthetic.recording(3000, 3, seed=1)
    path = tmp_path / "recording.csv"
    pd.DataFrame(X, columns=["a", "b", "c"]).assign(state=y).to_csv(path, index=False)
    config = make_experiment(
        data=str(path),
        layout=None,
        target="state",
        window=32,
        step=8,
        validation={"strategy": "auto"},
        families=["mlp"],
        max_epochs=1,
        **{"budget.trials": 1},
    )
    exp = prepare(config, echo=lambda _: None)
    assert exp.data.train.windowed and exp.data.trial.plan.strategy in ("time", "blocked")
    assert "time-ordered split: the last 25% of each recording is the test" in exp.data.split
    first_test = int(exp.data.test.starts.min())  # type: ignore[union-attr]
    received: list[Any] = []
    real_fit = training_module.fit

    def spy(dataset: Any, *args: Any, **kwargs: Any) -> Any:
        received.append((dataset, kwargs.get("validation")))
        return real_fit(dataset, *args, **kwargs)

    monkeypatch.setattr(training_module, "fit", spy)
    run_worker(exp, echo=lambda _: None)
    assert received and exp.study("mlp").trials[0].state == TrialState.COMPLETE
    for fit_part, val_part in received:
        assert fit_part.starts.max() + 2 * 32 <= first_test and val_part.starts.max() + 2 * 32 <= first_test
        gaps = np.abs(fit_part.starts[:, None] - val_part.starts[None, :])
        assert gaps.min() >= 2 * 32
