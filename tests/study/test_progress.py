"""Typed progress events: complete and ordered for a study, rendered as the CLI's lines, and
read by the live view without parsing text."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from optuna.trial import TrialState

from workbench.config import ExperimentConfig
from workbench.study import LiveProgress, run_study
from workbench.study.events import (
    ConfigEvaluated,
    Event,
    FamilySkipped,
    FamilyStopped,
    Note,
    TrialFinished,
    emit,
)


class Recorder:
    """An ``echo`` that takes events."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def on_event(self, event: Event) -> None:
        self.events.append(event)

    def __call__(self, line: str) -> None:
        raise AssertionError(f"a line where an event was due: {line!r}")


def test_a_study_reports_one_finished_event_per_trial_in_order_matching_the_storage(
    make_experiment: Callable[..., ExperimentConfig],
) -> None:
    recorder = Recorder()
    exp = run_study(make_experiment(), echo=recorder)
    for family in exp.families:
        finished = [e for e in recorder.events if isinstance(e, TrialFinished) and e.family == family]
        stored = [t for t in exp.study(family).get_trials(deepcopy=False) if t.state.is_finished()]
        assert [e.done for e in finished] == list(range(1, len(stored) + 1))  # one per trial, in order
        assert sorted(e.number for e in finished if e.number is not None) == sorted(t.number for t in stored)
        last = finished[-1]
        assert last.budget == 4 and last.done == 4 and last.used == pytest.approx(1.0)
        complete = [t.value for t in stored if t.state == TrialState.COMPLETE]
        assert last.best == pytest.approx(max(complete))  # bal_acc: higher is better
        assert len(last.best_history) == len(stored) and list(last.best_history) == sorted(last.best_history)
        assert last.pruned == sum(t.state == TrialState.PRUNED for t in stored)
    assert isinstance(recorder.events[0], Note)  # what bounds the runs comes first


def test_the_events_render_as_the_command_lines_always_did() -> None:
    finished = TrialFinished(
        "conv1d", metric="bal_acc", done=2, budget=4, best=0.75, pruned=1, failed=0, used=0.5, family_left_s=12.4
    )
    assert finished.text() == (
        "[conv1d    ] 2/4 trials · best val_bal_acc 0.7500 · pruned 1 · failed 0 · budget 50% · "
        "~12 s left for this family"
    )
    timed = TrialFinished("mlp", "acc", 3, None, None, 0, 1, 0.25, 30.0, experiment_left_s=125.0)
    assert timed.text() == (
        "[mlp       ] 3 trials · best val_acc – · pruned 0 · failed 1 · budget 25% · ~30 s left for this family"
        " · 2.1 min left for the experiment"
    )
    assert FamilySkipped("minirocket", "sequences of 7 steps").text() == "[minirocket] skipped: sequences of 7 steps"
    assert ConfigEvaluated("hybrid", "acc", 0, 7, 0.98765, 5).text() == (
        "[hybrid    ] config #1 (trial 7): test acc 0.9877 over 5 seeds"
    )
    lines: list[str] = []
    emit(lines.append, FamilyStopped("mlp", "search done"))  # a plain callable gets the line
    assert lines == ["[mlp       ] search done"]


def test_the_live_view_keeps_each_familys_latest_event(capsys: pytest.CaptureFixture[str]) -> None:
    progress = LiveProgress()
    events: list[Event] = [
        Note("profiling GunPoint …"),
        TrialFinished("mlp", "bal_acc", 1, 3, 0.5, 0, 0, 1 / 3, 10.0, best_history=(0.5,)),
        TrialFinished("conv1d", "bal_acc", 1, 3, 0.7, 0, 0, 1 / 3, 20.0, best_history=(0.7,)),
        TrialFinished("mlp", "bal_acc", 2, 3, 0.6, 0, 0, 2 / 3, 5.0, best_history=(0.5, 0.6)),
        FamilyStopped("conv1d", "search done: no improvement"),
    ]
    for event in events:
        emit(progress, event)
    progress("a plain line")  # from anything that does not emit events: a note
    assert progress.text().splitlines() == [
        "profiling GunPoint …",
        "a plain line",
        events[3].text(),
        "[conv1d    ] search done: no improvement",
    ]
    assert progress.standing["mlp"].best_history == (0.5, 0.6) and progress.done == {"conv1d"}
    assert capsys.readouterr().out.count("\n") == 6  # outside IPython every event's line is printed as it comes
