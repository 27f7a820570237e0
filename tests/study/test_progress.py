"""The live progress display keeps one line per family, latest first-seen order."""

from __future__ import annotations

import pytest

from workbench.study import LiveProgress


def test_live_progress_keeps_the_latest_line_of_each_family(capsys: pytest.CaptureFixture[str]) -> None:
    progress = LiveProgress()
    for line in [
        "profiling GunPoint …",
        "[mlp       ] 1/3 trials · best val_bal_acc 0.5000",
        "[conv1d    ] 1/3 trials · best val_bal_acc 0.7000",
        "[mlp       ] 2/3 trials · best val_bal_acc 0.6000",
        "[minirocket] skipped: sequences of 7 steps",
    ]:
        progress(line)
    assert progress.text().splitlines() == [
        "profiling GunPoint …",
        "[mlp       ] 2/3 trials · best val_bal_acc 0.6000",
        "[conv1d    ] 1/3 trials · best val_bal_acc 0.7000",
        "[minirocket] skipped: sequences of 7 steps",
    ]
    assert capsys.readouterr().out.count("\n") == 5  # outside IPython every line is printed as it comes


def test_a_worker_losing_the_race_for_the_last_trial_logs_no_failure() -> None:
    import logging
    import sys

    from workbench.study.objective import OverBudget
    from workbench.study.worker import RoutineOverBudget

    def record(message: str, exc: BaseException | None = None) -> logging.LogRecord:
        exc_info = None
        if exc is not None:
            try:
                raise exc
            except BaseException:
                exc_info = sys.exc_info()
        return logging.LogRecord("optuna.study._optimize", logging.WARNING, __file__, 1, message, None, exc_info)

    routine = RoutineOverBudget()
    lost = "Trial 12 failed with parameters: {} because of the following error: OverBudget('trial 12 …')."
    assert not routine.filter(record(lost, OverBudget("trial 12 asked after the budget was used up")))
    assert not routine.filter(record("Trial 12 failed with value None."))
    real = "Trial 13 failed with parameters: {} because of the following error: RuntimeError('boom')."
    assert routine.filter(record(real, RuntimeError("boom")))
    assert routine.filter(record("Trial 13 failed with value None."))
