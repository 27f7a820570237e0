"""What a study spends: the rule that ends a family's search, the experiment's time limit, and
an evaluation that re-trains only what can change the verdict, shared among processes."""

from __future__ import annotations

import datetime
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import optuna
import pytest
from optuna.distributions import FloatDistribution
from optuna.trial import FrozenTrial, TrialState, create_trial

from workbench.config import ExperimentConfig, make_config
from workbench.errors import ConfigError
from workbench.study import attrs, evaluate, prepare, run_study, status_frame
from workbench.study.evaluate import evaluation_runs, same_fits, top_trials
from workbench.study.stopping import WINDOW, fold_noise, search_state
from workbench.study.time_limit import TimeLimit

Make = Callable[..., ExperimentConfig]
MAX = optuna.study.StudyDirection.MAXIMIZE


def trial(number: int, folds: list[float], *, default: int | None = None, pruned: bool = False) -> FrozenTrial:
    user: dict[str, Any] = {attrs.OUTCOME: {"folds": [{"fold": i, "score": s} for i, s in enumerate(folds)]}}
    if default is not None:
        user[attrs.DEFAULT] = default
    t = create_trial(
        state=TrialState.PRUNED if pruned else TrialState.COMPLETE,
        value=None if pruned else sum(folds) / len(folds),
        params={"x": 0.5},
        distributions={"x": FloatDistribution(0, 1)},
        user_attrs=user,
    )
    t.number = number
    return t


def state(trials: list[FrozenTrial], **kw: Any) -> Any:
    settings = {"metric": "bal_acc", "n_defaults": 2, "n_val": 10, "n_fit": 40} | kw
    return search_state(trials, MAX, **settings)


def test_a_perfect_score_on_every_fold_ends_the_search_at_once() -> None:
    s = state([trial(0, [1.0] * 5, default=1)])
    assert s.done and s.reason.startswith("stopped after 1 trial: trial 0 scores 1.000 on every fold")
    assert not state([trial(0, [1.0, 1.0, 0.9, 1.0, 1.0], default=1)]).done  # not perfect everywhere


def test_the_search_ends_when_the_last_trials_improve_less_than_the_fold_noise() -> None:
    noisy = [0.8, 0.9, 0.7, 0.85, 0.75]
    trials = [trial(0, noisy, default=1), trial(1, [0.6] * 5, default=2)]
    trials += [trial(2 + i, [0.7] * 5) for i in range(WINDOW - 1)]
    assert not state(trials).done  # the defaults and WINDOW - 1 more: the rule starts after 2 + WINDOW
    trials.append(trial(2 + WINDOW - 1, [0.72] * 5, pruned=True))
    s = state(trials)
    noise = fold_noise(trials[0], 10, 40, "bal_acc")
    assert s.done and s.improvement == 0.0 and s.noise == pytest.approx(noise)
    assert f"stopped after {2 + WINDOW} trials: the best score improved 0.0000 over the last {WINDOW}" in s.reason


def test_a_real_improvement_keeps_the_search_going() -> None:
    steady = [0.70, 0.71, 0.70, 0.71, 0.70]  # little fold noise
    trials = [trial(0, steady, default=1), trial(1, steady, default=2)]
    trials += [trial(2 + i, [0.6] * 5) for i in range(WINDOW - 1)] + [trial(2 + WINDOW - 1, [0.9] * 5)]
    s = state(trials)
    assert not s.done and s.improvement is not None and s.noise is not None and s.improvement > s.noise


def test_fold_noise_is_corrected_for_overlapping_folds_and_binomial_on_a_holdout() -> None:
    scores = [0.8, 0.9, 0.7, 0.85, 0.75]
    import numpy as np

    plain = np.std(scores, ddof=1) / np.sqrt(5)
    assert fold_noise(trial(0, scores), 10, 40, "bal_acc") > plain  # the overlap adds the n_val/n_fit term
    holdout = trial(0, [0.9])
    assert fold_noise(holdout, 100, 300, "bal_acc") == pytest.approx(np.sqrt(0.9 * 0.1 / 100))
    assert fold_noise(trial(0, [2.0]), 100, 300, "rmse") is None


@pytest.mark.slow
def test_a_stopped_family_says_why_and_leaves_no_default_waiting(make_experiment: Make) -> None:
    """conv1d's default scores 1.000 on every fold of this easy data: its search is done after it,
    and its second default, still queued, is ended as not run."""
    config = make_experiment(name="stops", families=["conv1d"], stop_when_done=True, **{"budget.trials": 6})
    study_of = prepare(config, echo=lambda _: None).study
    lines: list[str] = []
    exp = run_study(config, echo=lines.append)
    trials = exp.study("conv1d").get_trials()
    reason = exp.study("conv1d").user_attrs.get(attrs.ATTR_STOPPED)
    if trials[0].value == 1.0:
        assert reason is not None and reason.startswith("stopped after 1 trial")
        assert any(line.startswith("[conv1d    ] stopped after") for line in lines)
        assert not [t for t in trials if t.state in (TrialState.WAITING, TrialState.RUNNING)]
        skipped = [t for t in trials if t.state == TrialState.PRUNED]
        assert all(attrs.outcome(t)["pruned"].startswith("not run: stopped") for t in skipped)
    else:  # the rule needs the defaults and WINDOW more, or the whole budget
        assert len(trials) >= min(6, 2 + WINDOW) or reason is not None
    assert study_of("conv1d").user_attrs.get(attrs.ATTR_STOPPED) == reason


def test_the_rule_can_be_turned_off(make_experiment: Make) -> None:
    config = make_experiment(name="all", families=["mlp"], stop_when_done=False, **{"budget.trials": 3})
    exp = run_study(config, echo=lambda _: None)
    assert len([t for t in exp.study("mlp").get_trials() if t.state.is_finished()]) == 3
    assert attrs.ATTR_STOPPED not in exp.study("mlp").user_attrs


def test_a_time_limit_is_parsed_and_may_change_on_resume() -> None:
    base = {"name": "t", "data": "GunPoint"}
    assert make_config({**base, "time_limit": "1h30m"}).time_limit == 5400
    assert make_config({**base, "time_limit": 90}).time_limit == 90
    with pytest.raises(ConfigError, match="not a duration"):
        make_config({**base, "time_limit": "soon"})
    from workbench.config import fixed_differences

    assert (
        fixed_differences(make_config(base), make_config({**base, "time_limit": "5m", "stop_when_done": False})) == []
    )


def _finished(number: int, seconds: float) -> FrozenTrial:
    t = trial(number, [0.5])
    t.datetime_start = datetime.datetime(2026, 1, 1)
    t.datetime_complete = t.datetime_start + datetime.timedelta(seconds=seconds)
    return t


def test_the_time_limit_runs_each_first_default_then_shares_the_time_equally() -> None:
    now = time.time()
    limit = TimeLimit(now + 100, workers=1, evaluation_s=20, estimates={"a": 10.0}, families=["a", "b"])
    limit.trials_start = now  # 80 s of trials, 40 s per family
    assert limit.allows("a", []) is None  # the first trial always starts while there is time for trials
    assert limit.allows("a", [_finished(0, 10), _finished(1, 10)]) is None  # 20 + 10 ≤ 40
    assert "share of the time" in (limit.allows("a", [_finished(i, 10) for i in range(4)]) or "")
    late = TimeLimit(now + 25, workers=1, evaluation_s=20, estimates={"a": 10.0}, families=["a"])
    late.trials_start = now - 1000  # trials started long ago: the share is wide, the time left is not
    assert "a trial costs about 10 s and 5 s are left" in (late.allows("a", [_finished(0, 10)]) or "")
    over = TimeLimit(now + 10, workers=1, evaluation_s=20, families=["a"])
    assert over.allows("a", []) == "the time for trials is used up"


@pytest.mark.slow
def test_a_study_with_a_time_limit_announces_it_and_ends_on_time_with_a_verdict(make_experiment: Make) -> None:
    """Budgets of thousands of trials, no stopping rule: only the time limit ends the study."""
    config = make_experiment(
        name="timed",
        families=["mlp", "conv1d"],
        baselines=["linear"],
        time_limit=20,
        stop_when_done=False,
        **{"budget.trials": 5000},
    )
    lines: list[str] = []
    start = datetime.datetime.now()
    exp = run_study(config, echo=lines.append)
    # The announcement prices each family (which one it names first follows the measured costs).
    assert any(line.startswith("time limit 20 s: ") and "default: " in line for line in lines), lines
    assert any(line.startswith("[mlp       ] time limit: ") for line in lines), lines
    assert any("left for the experiment" in line for line in lines)
    # Ended on time: no trial started after the deadline (one that started before it may finish).
    deadline = start + datetime.timedelta(seconds=20)
    assert all(t.datetime_start < deadline for f in exp.families for t in exp.study(f).get_trials() if t.datetime_start)
    left_out = {
        f for f in ("mlp", "conv1d") if any(line.startswith(f"[{f:<10}] time limit: left out") for line in lines)
    }
    assert left_out != {"mlp", "conv1d"}, lines
    for family in {"mlp", "conv1d"} - left_out:  # a family priced above its share on a busy machine is left out
        trials = exp.study(family).get_trials()
        assert 1 < len(trials) < 5000 and next(t for t in trials if attrs.default_number(t) == 1).state.is_finished()
    # The baseline, seconds a trial, takes its turn first: the time never ends before it ran.
    first = {family: exp.study(family).get_trials()[0] for family in exp.families}
    assert first["linear"].state.is_finished()
    assert first["linear"].datetime_start < min(first[f].datetime_start for f in ("mlp", "conv1d"))  # type: ignore[operator]
    _, verdict = evaluate(exp, echo=lambda _: None)
    assert verdict.best is not None


def test_after_a_kfold_study_only_the_configuration_that_can_win_is_retrained(make_experiment: Make) -> None:
    config = make_experiment(
        name="ranks", families=["mlp"], validation={"strategy": "kfold", "folds": 3}, **{"budget.trials": 3}
    )
    exp = run_study(config, echo=lambda _: None)
    runs = evaluation_runs(exp, k=2, n_seeds=3)
    assert {r.rank for r in runs} == {0} and len(runs) == 3  # the cross-validated score already ranks them
    holdout = make_experiment(name="ranks-h", families=["mlp"], **{"budget.trials": 3})
    assert {r.rank for r in evaluation_runs(run_study(holdout, echo=lambda _: None), k=2, n_seeds=2)} == {0, 1}


def test_a_baseline_that_ignores_its_seed_is_fitted_once_in_the_evaluation(
    make_experiment: Make, spaces_dir: Path
) -> None:
    """After a k-fold study re-trained over seeds, every seed trains on the whole training split: the
    logistic fit is the same for each, so it runs once; MiniRocket draws its kernels from the seed."""
    (spaces_dir / "minirocket.yaml").write_text("n_kernels: {choices: [84]}\n")
    config = make_experiment(
        name="same-fit",
        families=[],
        baselines=["linear", "minirocket"],
        validation={"strategy": "kfold", "folds": 3},
        evaluation={"top_k": 1, "seeds": 3, "replicates": "seeds"},
        **{"budget.trials": 1},
    )
    exp = run_study(config, echo=lambda _: None)
    runs = evaluation_runs(exp, k=1, n_seeds=3)
    same = same_fits(exp, runs)
    assert {runs[i].family for i in same} == {"linear"} and len(same) == 2
    table, _ = evaluate(exp, echo=lambda _: None)
    linear, rocket = table[table["family"] == "linear"], table[table["family"] == "minirocket"]
    assert linear["test"].nunique() == 1 and (linear["seconds"] > 0).sum() == 1
    assert (rocket["seconds"] > 0).all() and len(rocket) == 3
    # A holdout study draws each seed's own holdout: every seed trains.
    holdout = run_study(make_experiment(name="same-fit-h", families=[], baselines=["linear"]), echo=lambda _: None)
    assert same_fits(holdout, evaluation_runs(holdout, k=1, n_seeds=3)) == {}


def test_after_a_kfold_study_the_evaluation_scores_the_best_trials_fold_models(make_experiment: Make) -> None:
    """``evaluation.replicates: folds``: the best trial keeps its fold models, the evaluation scores
    them on the test split (nothing re-trained for a deep family) and re-fits a baseline per fold;
    a missing fold model is re-trained as its trial trained it. ``seeds`` (the default) re-trains."""
    config = make_experiment(
        name="folds",
        families=["mlp"],
        baselines=["linear"],
        validation={"strategy": "kfold", "folds": 3},
        evaluation={"top_k": 1, "seeds": 3, "replicates": "folds"},
        **{"budget.trials": 3},
    )
    exp = run_study(config, echo=lambda _: None)
    best = top_trials(exp.study("mlp"), 1)[0]
    kept = sorted(p.relative_to(config.run_dir).as_posix() for p in (config.run_dir / "fold-models").rglob("*.pt"))
    assert kept == [f"fold-models/mlp/trial-{best.number}/fold-{i}.pt" for i in range(3)]  # the best trial's only
    fold_scores = {f["fold"]: f["score"] for f in attrs.outcome(best)["folds"]}

    table, verdict = evaluate(exp, echo=lambda _: None)
    mlp, linear = table[table["family"] == "mlp"], table[table["family"] == "linear"]
    assert list(mlp["seed"]) == [0, 1, 2] and (mlp["epochs"] == 0).all()  # scored, not trained
    assert list(mlp["val"]) == pytest.approx([fold_scores[i] for i in range(3)])  # the trial's own models
    assert linear["test"].notna().all() and len(linear) == 3
    assert verdict.replicates == "folds" and "over 3 folds" in verdict.statement

    (config.run_dir / "fold-models" / "mlp" / f"trial-{best.number}" / "fold-1.pt").unlink()
    again, _ = evaluate(exp, echo=lambda _: None)
    refit = again[(again["family"] == "mlp") & (again["seed"] == 1)].iloc[0]
    assert refit["epochs"] > 0 and refit["val"] == pytest.approx(fold_scores[1])  # re-trained as the trial did

    exp.config = exp.config.model_copy(
        update={"evaluation": exp.config.evaluation.model_copy(update={"replicates": "seeds"})}
    )
    seeds, verdict = evaluate(exp, echo=lambda _: None)
    assert (seeds[seeds["family"] == "mlp"]["epochs"] > 0).all() and verdict.replicates == "seeds"


@pytest.mark.slow
def test_the_evaluation_shared_among_processes_equals_the_one_run_here(make_experiment: Make) -> None:
    config = make_experiment(name="shared", families=["mlp", "conv1d"], **{"budget.trials": 1})
    exp = run_study(config, echo=lambda _: None)
    here, _ = evaluate(exp, workers=1, echo=lambda _: None)
    shared, verdict = evaluate(exp, workers=2, echo=lambda _: None)
    assert here[["family", "seed", "test"]].equals(shared[["family", "seed", "test"]])
    assert verdict.best is not None


def test_a_sampled_configuration_too_costly_to_train_is_pruned_untrained(make_experiment: Make) -> None:
    """``trial_cost_cap``: a sampled configuration whose training would cost more than the cap times
    the first proven default's is pruned before it trains; a proven default always trains."""
    from workbench.study.costs import reference_config
    from workbench.study.objective import Objective
    from workbench.study.space import space_from_dict

    def objective_for(exp: Any) -> Objective:
        space = space_from_dict(exp.study("conv1d").user_attrs["space"])
        data, reference = exp.data, reference_config(exp.data, "conv1d")
        return Objective("conv1d", space, data.trial, exp.config, exp.metric, accelerator="cpu", reference=reference)

    # A cap far below 1: even the default's own configuration, sampled, costs more than that.
    exp = prepare(make_experiment(name="cap", families=["conv1d"], trial_cost_cap=0.01), echo=lambda _: None)
    study, objective = exp.study("conv1d"), objective_for(exp)
    default = study.ask()
    assert attrs.DEFAULT in default.user_attrs
    study.tell(default, objective(default, []))
    params = study.trials[0].params
    study.enqueue_trial(params)  # the same values, as the sampler might draw them
    sampled = study.ask()
    with pytest.raises(optuna.TrialPruned, match="not trained"):
        objective(sampled, [])
    study.tell(sampled, state=TrialState.PRUNED)
    untrained = study.trials[1]
    assert attrs.too_costly(untrained) and attrs.outcome(untrained)["too_costly"] > 0.01
    assert attrs.outcome(untrained)["folds"] == [] and "trial_cost_cap" in attrs.outcome(untrained)["pruned"]

    # Without a cap the same configuration trains.
    exp.config = exp.config.model_copy(update={"trial_cost_cap": None})
    study.enqueue_trial(params)
    again = study.ask()
    study.tell(again, objective_for(exp)(again, []))
    assert study.trials[2].state == TrialState.COMPLETE and not attrs.too_costly(study.trials[2])


def test_configurations_too_costly_to_train_do_not_count_towards_the_stopping_window() -> None:
    noisy = [0.8, 0.9, 0.7, 0.85, 0.75]
    trials = [trial(0, noisy, default=1), trial(1, [0.6] * 5, default=2)]
    trials += [trial(2 + i, [0.7] * 5) for i in range(WINDOW - 1)]
    costly = trial(2 + WINDOW - 1, [], pruned=True)
    costly.user_attrs[attrs.OUTCOME] = {"folds": [], "too_costly": 4.2, "pruned": "not trained"}
    assert not state([*trials, costly]).done  # WINDOW - 1 trained after the defaults: the rule waits
    s = state([*trials, costly, trial(2 + WINDOW, [0.7] * 5)])
    assert s.done and f"stopped after {2 + WINDOW} trials (1 more too costly to train)" in s.reason


def test_a_family_whose_share_of_the_time_is_used_is_finished_before_the_time_is_up(make_experiment: Make) -> None:
    """The workers stop starting a family's trials when its share of the time is used; the check
    after they exit must read that as finished, not as workers that died (``--time 5m`` on
    ItalyPowerDemand ended in 'not finished' at 118 s)."""
    from workbench.study.completion import family_finished

    exp = prepare(make_experiment(name="share", families=["mlp"]), echo=lambda _: None)
    now = time.time()
    limit = TimeLimit(now + 200, workers=1, evaluation_s=0, estimates={"mlp": 10.0}, families=["mlp", "conv1d"])
    limit.trials_start = now  # 200 s of trials, 100 s per family
    assert not family_finished(exp, "mlp", limit)  # nothing spent: more trials fit
    for i in range(10):
        exp.study("mlp").add_trial(_finished(i, 10))  # 100 s spent: the share is used
    assert limit.allows("mlp", exp.study("mlp").get_trials()) is not None and limit.left() > 100
    assert family_finished(exp, "mlp", limit)


def test_time_a_finished_family_left_unused_goes_to_the_others(make_experiment: Make) -> None:
    """A family done by its search (or budget) hands on what it did not use of its share
    (``--time 5m`` on ItalyPowerDemand ended at 183 s while the families' searches had room)."""
    from workbench.study.completion import family_finished, released

    now = time.time()
    limit = TimeLimit(now + 90, workers=1, evaluation_s=0, estimates={"a": 10.0}, families=["a", "b", "c"])
    limit.trials_start = now  # 90 s of trials, 30 s per family
    spent = [_finished(i, 10) for i in range(3)]
    assert "share of the time (30 s" in (limit.allows("a", spent) or "")
    assert limit.allows("a", spent, lambda: {"c": 10.0}) is None  # c used 10 of its 30 s: (90 − 10) / 2 = 40 s each
    assert limit.share({"b": 30.0, "c": 10.0}) == pytest.approx(50.0)
    assert limit.share({"elsewhere": 30.0}) == pytest.approx(30.0)  # a family outside this limit hands on nothing

    exp = prepare(make_experiment(name="released", families=["mlp", "conv1d"]), echo=lambda _: None)
    for i in range(3):
        exp.study("mlp").add_trial(_finished(i, 10))
    exp.study("conv1d").add_trial(_finished(0, 5))
    shared = TimeLimit(now + 60, workers=1, evaluation_s=0, estimates={"mlp": 10.0}, families=["mlp", "conv1d"])
    shared.trials_start = now  # 30 s per family: mlp's is used
    assert family_finished(exp, "mlp", shared) and released(exp) == {}
    exp.study("conv1d").set_user_attr(attrs.ATTR_STOPPED, "conv1d: stopped after 1 of 4 trials")
    assert released(exp) == {"conv1d": pytest.approx(5.0)}
    assert not family_finished(exp, "mlp", shared)  # conv1d's search is done: 55 s are mlp's


def test_a_default_that_does_not_fit_is_shortened_and_left_out_only_where_no_pass_fits(
    make_experiment: Make,
) -> None:
    """``--time 5m`` on ACSF1: a conv1d trial costs about 8 minutes on two cores. Reserving every
    family's evaluation left no time for any trial, baselines included, and no verdict; then such a
    family was left out, though a shorter run of its default would have fitted. Now it runs the
    steps its share holds, and is left out only where not even a pass over its data fits, with the
    time that would hold it."""
    from workbench.study.completion import family_finished
    from workbench.study.costs import LOOP_OVERHEAD, TrialCost
    from workbench.study.time_limit import MIN_SEEDS, fit_to_time

    exp = prepare(make_experiment(name="fits", families=["mlp", "conv1d"], time_limit=300), echo=lambda _: None)

    def cost(seconds: float, steps: int = 1000) -> TrialCost:
        return TrialCost(folds=1, steps=steps, step_s=seconds / steps / LOOP_OVERHEAD, per_pass=10, n_fit=48)

    plan = fit_to_time(exp, {"mlp": cost(20.0), "conv1d": cost(500.0)}, 290.0, 2, 5)
    assert plan.left_out == {} and plan.costs["mlp"] == cost(20.0)  # mlp's default fits as it is
    shortened = plan.costs["conv1d"]
    # A holdout evaluation re-trains each seed as its trial ran: r + 2r/2 workers ≤ 290 s, and
    # r (1 + 2) ≤ its part (290 × 2 / 2 families) of the cores' time: r ≤ 96.7 s, 193 of 1000 steps.
    assert shortened.steps == 193 and shortened.seconds <= 96.7
    assert plan.seeds == MIN_SEEDS  # 5 seeds would not leave time for the first trials
    plan = fit_to_time(exp, {"mlp": cost(5.0, 40), "conv1d": cost(500.0)}, 40.0, 2, 5)
    assert list(plan.left_out) == ["conv1d"]  # 13 s hold 26 of its steps, fewer than a pass and 50
    assert plan.left_out["conv1d"].startswith("left out: a trial costs about 8.3 min and its evaluation at least")
    assert (
        "not even 50 optimiser steps fit" in plan.left_out["conv1d"]
        and "needs a time limit above" in plan.left_out["conv1d"]
    )
    assert fit_to_time(exp, {"mlp": cost(20.0), "conv1d": cost(30.0)}, 600.0, 2, 5).left_out == {}
    reserve, left_out = plan.evaluation_s, plan.left_out

    now = time.time()
    limit = TimeLimit(now + 250, workers=1, evaluation_s=reserve, estimates={"mlp": 50.0, "conv1d": 60.0})
    limit.families, limit.left_out = ["mlp"], left_out
    assert limit.allows("conv1d", []) == left_out["conv1d"]  # not even its first default
    assert limit.allows("mlp", []) is None
    assert family_finished(exp, "conv1d", limit) and not family_finished(exp, "mlp", limit)
    # Its queued proven defaults never start: the status says so, not "running".
    frame = status_frame(exp).set_index("family")
    assert frame.loc["conv1d", "status"] == "open" and frame.loc["conv1d", "running"] == 0
