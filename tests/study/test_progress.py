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
