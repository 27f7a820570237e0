"""A study in background processes: the caller stays free, stop leaves nothing running,
wait ends with exactly the budget, and watch follows any stored experiment from its storage."""

from __future__ import annotations

import os
import time
from collections.abc import Callable

from optuna.trial import TrialState

from workbench.config import ExperimentConfig
from workbench.study import attrs, run_study, start_study, status_frame, watch
from workbench.study.events import Event, TrialFinished


class Recorder:
    def __init__(self) -> None:
        self.events: list[Event] = []

    def on_event(self, event: Event) -> None:
        self.events.append(event)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_start_study_returns_at_once_and_wait_ends_with_exactly_the_budget(
    make_experiment: Callable[..., ExperimentConfig],
) -> None:
    handle = start_study(make_experiment(), workers=2, echo=lambda _: None)
    assert handle.running()  # it returned while its workers run
    recorder = Recorder()
    handle.watch(recorder, every_s=0.2)
    exp = handle.wait(timeout_s=300)
    assert not handle.running()
    for family in exp.families:
        trials = exp.study(family).get_trials(deepcopy=False)
        # A worker that lost the race for the last slot ends its trial at once, as an overflow
        ran = [t for t in trials if not attrs.overflow(t)]
        assert sum(t.state.is_finished() for t in ran) == 4 and not any(t.state == TrialState.RUNNING for t in trials)
        assert any(isinstance(e, TrialFinished) and e.family == family and e.done == 4 for e in recorder.events)
    assert set(status_frame(exp)["status"]) == {"done"}


def test_stop_leaves_no_worker_and_no_running_trial_and_a_resume_finishes_the_budget(
    make_experiment: Callable[..., ExperimentConfig],
) -> None:
    config = make_experiment(max_epochs=200, **{"budget.trials": 6})
    handle = start_study(config, workers=2, echo=lambda _: None)
    first = handle.exp.families[0]
    deadline = time.monotonic() + 120
    while not handle.exp.study(first).get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        assert time.monotonic() < deadline and handle.running(), "no trial started"
        time.sleep(0.1)
    codes = handle.stop(timeout_s=120)
    assert all(code is not None for code in codes)
    assert not any(_alive(p.pid) for p in handle.pool.procs)
    for family in handle.exp.families:
        running = handle.exp.study(family).get_trials(deepcopy=False, states=(TrialState.RUNNING,))
        assert running == []
    resumed = run_study(config, echo=lambda _: None)
    trials = resumed.study(first).get_trials(deepcopy=False)
    counted = [t for t in trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
    assert len(counted) == 6


def test_watch_follows_a_finished_experiment_read_only(make_experiment: Callable[..., ExperimentConfig]) -> None:
    config = make_experiment()
    run_study(config, echo=lambda _: None)
    recorder = Recorder()
    exp = watch(config.name, storage=config.storage_url, echo=recorder, every_s=0.1)
    finished = {e.family: e for e in recorder.events if isinstance(e, TrialFinished)}
    assert set(finished) == set(exp.families) and all(e.done == 4 for e in finished.values())
