"""Studies with real storages and real worker processes."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from typing import Any

import numpy as np
import optuna
import pytest
from optuna.trial import TrialState

import workbench as wb
import workbench.study.training as training_module
from workbench.config import ExperimentConfig
from workbench.study import attrs, evaluate, prepare, run_study, run_worker, status_frame, trials_frame, write_results
from workbench.study.budget import budget_state

from .conftest import wait_for, worker

Make = Callable[..., ExperimentConfig]


def counted(study: optuna.Study) -> int:
    return sum(
        1
        for t in study.get_trials()
        if t.state in (TrialState.COMPLETE, TrialState.PRUNED)
        or (t.state == TrialState.FAIL and "failure" in t.user_attrs)
    )


def test_a_two_family_study_runs_evaluates_and_explains_itself(make_experiment: Make) -> None:
    config = make_experiment(baselines=["linear"])
    exp = run_study(config, echo=lambda _: None)
    for family in ("mlp", "conv1d", "linear"):
        study = exp.study(family)
        assert counted(study) == 4
        assert study.user_attrs["space"]  # the space is stored with the study
    meta = exp.meta().user_attrs
    assert {"config", "profile", "versions", "data_fingerprint", "metric"} <= set(meta)
    assert meta["profile"]["recommendation"]["family"] in ("mlp", "conv1d")
    table, verdict = evaluate(exp, echo=lambda _: None)
    assert set(table["family"]) == {"mlp", "conv1d", "linear"} and len(table) == 3 * 2
    assert {f.family for f in verdict.families} == {"mlp", "conv1d", "linear"}
    assert verdict.families[0].ci_low <= verdict.families[0].mean <= verdict.families[0].ci_high
    assert verdict.statement and verdict.recommended == meta["profile"]["recommendation"]["family"]
    path = write_results(exp)
    assert path.name == "results.parquet" and (path.parent / "trials.parquet").is_file()
    assert "verdict" in exp.meta().user_attrs  # the storage alone rebuilds the report


def test_pruning_actually_prunes(make_experiment: Make, spaces_dir: Any) -> None:
    (spaces_dir / "mlp.yaml").write_text("width: {choices: [16]}\nlr: {choices: [1.0e-6, 1.0e-2]}\n")
    config = make_experiment(
        families=["mlp"],
        max_epochs=12,
        sampler={"name": "random"},
        pruner={"name": "median", "n_startup_trials": 2, "n_warmup_steps": 2},
        metric="loss",
        **{"budget.trials": 10},
    )
    exp = run_study(config, echo=lambda _: None)
    states = [t.state for t in exp.study("mlp").get_trials()]
    assert states.count(TrialState.PRUNED) >= 1
    pruned = [t for t in exp.study("mlp").get_trials() if t.state == TrialState.PRUNED]
    assert all(len(t.intermediate_values) < 12 for t in pruned)  # stopped before the last epoch


def test_budget_is_counted_across_resumes(make_experiment: Make) -> None:
    run_study(make_experiment(families=["mlp"], **{"budget.trials": 3}), echo=lambda _: None)
    exp = run_study(make_experiment(families=["mlp"], **{"budget.trials": 5}), echo=lambda _: None)
    assert counted(exp.study("mlp")) == 5
    exp = run_study(make_experiment(families=["mlp"], **{"budget.trials": 5}), echo=lambda _: None)
    assert counted(exp.study("mlp")) == 5  # nothing left to run: no double budget
    params = [tuple(sorted(t.params.items())) for t in exp.study("mlp").get_trials()]
    assert len(set(params)) == len(params)  # no duplicated proposals after the restarts


def test_an_epoch_budget_is_summed_over_trials(make_experiment: Make) -> None:
    exp = run_study(
        make_experiment(families=["mlp"], max_epochs=4, budget={"trials": None, "epochs": 8}), echo=lambda _: None
    )
    state = budget_state(exp.study("mlp").get_trials(), exp.config.budget)
    assert state.exhausted and state.epochs == 8 and state.trials_done == 2


def test_a_time_budget_is_summed_over_trials(make_experiment: Make) -> None:
    exp = run_study(make_experiment(families=["mlp"], budget={"trials": None, "time_s": 0.5}), echo=lambda _: None)
    trials = exp.study("mlp").get_trials()
    state = budget_state(trials, exp.config.budget)
    budget = exp.config.budget.time_s
    last = max(t.duration.total_seconds() for t in trials)
    # Exhausted by the summed trial time, and no trial started after the sum reached the budget.
    assert state.exhausted and state.seconds - last < budget <= state.seconds


def test_a_nan_trial_and_a_raising_trial_leave_the_study_running(
    make_experiment: Make, spaces_dir: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    (spaces_dir / "mlp.yaml").write_text(
        "width: {choices: [16, 17, 18]}\nlr: {choices: [10.0, 1.0e-3]}\noptimizer: {choices: [sgd]}\n"
        "grad_clip: {choices: [0.0]}\nbatch_size: {choices: [8]}\n"
    )
    base = wb.synthetic.ordered_motifs(64, 32)
    np.savez(tmp_path / "big_targets.npz", X=base.X, y=base.X.std(axis=(1, 2)) * 1e3)  # SGD at lr 10 diverges
    config = make_experiment(
        families=["mlp"], start_from_defaults=False, data=str(tmp_path / "big_targets.npz"), **{"budget.trials": 3}
    )
    exp = prepare(config, echo=lambda _: None)
    study = exp.study("mlp")
    common = {"optimizer": "sgd", "grad_clip": 0.0, "batch_size": 8}
    study.enqueue_trial({"width": 16, "lr": 10.0, **common})  # diverges
    study.enqueue_trial({"width": 17, "lr": 1e-3, **common})  # raises
    study.enqueue_trial({"width": 18, "lr": 1e-3, **common})  # fine
    real_fit = training_module.fit

    def flaky(dataset: Any, family: str, params: dict[str, Any], **kwargs: Any) -> Any:
        if params["width"] == 17:
            raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real_fit(dataset, family, params, **kwargs)

    monkeypatch.setattr(training_module, "fit", flaky)
    run_worker(exp, echo=lambda _: None)
    trials = {t.params["width"]: t for t in study.get_trials()}
    assert trials[16].state == TrialState.FAIL and "diverged" in attrs.failure(trials[16])
    assert trials[17].state == TrialState.FAIL and "CUDA out of memory" in attrs.failure(trials[17])
    assert "Traceback" in attrs.failure(trials[17])
    assert trials[18].state == TrialState.COMPLETE
    frame = status_frame(exp)
    assert int(frame.loc[frame["family"] == "mlp", "failed"].iloc[0]) == 2


def test_a_wrong_metric_fails_at_start_not_after_an_hour(make_experiment: Make) -> None:
    from workbench.errors import ConfigError

    with pytest.raises(ConfigError, match="Unknown metric 'auroc'"):
        prepare(make_experiment(metric="auroc"), echo=lambda _: None)


@pytest.mark.slow
@pytest.mark.parametrize("storage", ["sqlite", "journal", "postgresql"])
def test_a_worker_killed_mid_trial_loses_nothing(
    make_experiment: Make, tmp_path: Any, storage: str, request: pytest.FixtureRequest
) -> None:
    # SQL storages find the trial through its stopped heartbeat, after the grace period (the
    # second worker waits for it); journal files have no heartbeats: the trial keeps its slot.
    url = {
        "sqlite": f"sqlite:///{tmp_path}/kill.db",
        "journal": f"journal:{tmp_path}/kill.log",
        "postgresql": request.getfixturevalue("postgres_url") if storage == "postgresql" else "",
    }[storage]
    config = make_experiment(
        name=f"kill-{storage}", families=["mlp"], storage=url, max_epochs=300, **{"budget.trials": 3}
    )
    exp = prepare(config, heartbeat_s=1, grace_s=3, echo=lambda _: None)
    study = exp.study("mlp")
    proc = worker(config.name, url)
    wait_for(lambda: any(t.state == TrialState.RUNNING and len(t.intermediate_values) > 2 for t in study.get_trials()))
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    killed = next(t for t in study.get_trials() if t.state == TrialState.RUNNING)
    done_before = [t for t in study.get_trials() if t.state.is_finished()]
    second = worker(config.name, url)
    assert second.wait(timeout=600) == 0, second.stdout.read().decode() if second.stdout else ""
    trials = study.get_trials()
    assert all(trials[t.number].state == TrialState.COMPLETE for t in done_before)
    if storage == "journal":  # documented: no dead-worker recovery without heartbeats
        assert trials[killed.number].state == TrialState.RUNNING and counted(study) == 2
        return
    retried = [t for t in trials if t.system_attrs.get("failed_trial") == killed.number]
    assert len(retried) == 1 and retried[0].state == TrialState.COMPLETE
    assert retried[0].params == killed.params
    assert counted(study) == 3


def _two_workers(config: ExperimentConfig) -> optuna.Study:
    exp = prepare(config, heartbeat_s=1, grace_s=3, echo=lambda _: None)
    procs = [worker(config.name, config.storage_url, "--worker-id", str(i + 1)) for i in range(2)]
    for p in procs:
        assert p.wait(timeout=600) == 0, p.stdout.read().decode() if p.stdout else ""
    return exp.study("mlp")


@pytest.mark.slow
@pytest.mark.parametrize("storage", ["sqlite", "journal"])
def test_two_workers_share_one_local_storage_and_one_budget(make_experiment: Make, tmp_path: Any, storage: str) -> None:
    url = f"sqlite:///{tmp_path}/two.db" if storage == "sqlite" else f"journal:{tmp_path}/two.log"
    study = _two_workers(make_experiment(families=["mlp"], storage=url, max_epochs=80, **{"budget.trials": 8}))
    assert counted(study) == 8
    pids = {t.user_attrs["worker"]["pid"] for t in study.get_trials() if t.state == TrialState.COMPLETE}
    assert len(pids) == 2  # both workers ran trials


@pytest.mark.slow
@pytest.mark.parametrize("storage", ["sqlite", "journal"])
def test_two_local_workers_never_claim_the_same_enqueued_trial(
    make_experiment: Make, tmp_path: Any, storage: str
) -> None:
    """SQLite ignores SELECT ... FOR UPDATE: before BEGIN IMMEDIATE, two workers both claimed
    the same enqueued default and one worker died with "Cannot tell a COMPLETE trial"."""
    url = f"sqlite:///{tmp_path}/queue.db" if storage == "sqlite" else f"journal:{tmp_path}/queue.log"
    config = make_experiment(families=["mlp"], storage=url, max_epochs=1, **{"budget.trials": 40})
    exp = prepare(config, echo=lambda _: None)
    for width in (8, 16) * 19:  # 38 more queued trials behind the two defaults: many chances to collide
        exp.study("mlp").enqueue_trial({"width": width, "depth": 0, "lr": 1e-3})
    study = _two_workers(config)  # both exit 0: no "Cannot tell a COMPLETE trial"
    trials = [t for t in study.get_trials() if not attrs.overflow(t)]  # a late ask past the budget is routine
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 40
    assert len({t.user_attrs["worker"]["pid"] for t in trials}) == 2


@pytest.mark.slow
def test_two_workers_on_a_real_postgresql_server(make_experiment: Make, postgres_url: str) -> None:
    study = _two_workers(
        make_experiment(name="pg", families=["mlp"], storage=postgres_url, max_epochs=80, **{"budget.trials": 8})
    )
    assert counted(study) == 8
    assert len({t.user_attrs["worker"]["pid"] for t in study.get_trials() if "worker" in t.user_attrs}) == 2
    state = budget_state(study.get_trials(), make_experiment(**{"budget.trials": 8}).budget)
    assert state.exhausted and state.trials_in_flight == 0


def test_results_frames_come_from_the_storage(make_experiment: Make) -> None:
    exp = run_study(make_experiment(**{"budget.trials": 2}), echo=lambda _: None)
    frame = trials_frame(exp)
    assert set(frame["family"]) == {"mlp", "conv1d"} and len(frame) == 4
    assert np.isfinite(frame["value"]).all() and "param_lr" in frame


def test_a_worker_losing_the_race_for_the_last_slot_ends_its_trial_quietly(
    make_experiment: Make, caplog: pytest.LogCaptureFixture
) -> None:
    """Ask and tell: the slot is checked once, no exception is raised and no failure is logged."""
    from workbench.study.objective import Objective
    from workbench.study.space import space_from_dict
    from workbench.study.worker import _run_trial, _Running

    exp = prepare(make_experiment(families=["mlp"], start_from_defaults=False, **{"budget.trials": 1}), echo=print)
    study = exp.study("mlp")
    study.ask()  # another worker holds the only slot
    objective = Objective("mlp", space_from_dict(study.user_attrs["space"]), exp.data.trial, exp.config, exp.metric)
    with caplog.at_level("WARNING"):
        finished, _ = _run_trial(exp, study, objective, _Running())
    assert finished is None and caplog.records == []
    lost = study.get_trials()[1]
    assert lost.state == TrialState.FAIL and attrs.overflow(lost) and "worker" not in lost.user_attrs
    assert budget_state(study.get_trials(), exp.config.budget).trials_in_flight == 1  # the overflow is not counted
