"""The command line: subcommands print results; errors print the fix, not a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from workbench.cli import app

runner = CliRunner()


def test_datasets_lists_builtins() -> None:
    result = runner.invoke(app, ["datasets"])
    assert result.exit_code == 0
    assert "GunPoint" in result.output and "breast_cancer" in result.output


def test_info_prints_the_summary() -> None:
    result = runner.invoke(app, ["info", "BasicMotions"])
    assert result.exit_code == 0
    assert "80 samples × 6 channels × length 100" in result.output


def test_user_errors_exit_2_with_the_message() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "workbench.cli", "info", "GunPont"], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 2
    assert "Did you mean 'GunPoint'" in proc.stderr and "Traceback" not in proc.stderr


@pytest.fixture
def recording_csv(tmp_path: Path) -> Path:
    import numpy as np
    import pandas as pd

    import workbench as wb

    X, y = wb.synthetic.recording(2000, 3, seed=0)
    path = tmp_path / "recording.csv"
    df = pd.DataFrame(X, columns=["ax", "ay", "az"]).assign(activity=np.array(["sit", "walk", "run"])[y])
    df.assign(t=np.arange(2000) * 0.02).to_csv(path, index=False)
    return path


def test_info_and_profile_window_a_recording_without_python(recording_csv: Path) -> None:
    window = ["--window", "64", "--step", "16", "--label-column", "activity", "--time-column", "t"]
    info = runner.invoke(app, ["info", str(recording_csv), *window])
    assert info.exit_code == 0, info.output
    assert "122 samples × 3 channels × length 64" in info.output and "splits hold out later time" in info.output
    profiled = runner.invoke(app, ["profile", str(recording_csv), *window, "--skip-model-test"])
    assert profiled.exit_code == 0, profiled.output
    assert "Profile of 'recording': 122 samples × 3 channel(s)" in profiled.output


def test_the_profile_of_rows_that_are_time_steps_prints_the_window_options(recording_csv: Path) -> None:
    result = runner.invoke(app, ["profile", str(recording_csv), "--target", "activity", "--skip-model-test"])
    assert result.exit_code == 0, result.output
    assert "workbench.windows(X, y, size=" in result.output and "--window " in result.output


def test_study_takes_the_window_options_into_the_experiment_config(recording_csv: Path) -> None:
    """A study's workers re-load the data from the stored config: the windows must be in it."""
    from workbench.cli import _experiment_config

    options = {"target": "activity", "window": 64, "step": 16, "window_label": "majority", "time_column": "t"}
    config = _experiment_config(str(recording_csv), {"budget.trials": 1, **options})
    assert (config.window, config.step, config.window_label, config.time_column) == (64, 16, "majority", "t")
    assert config.load_options()["window"] == 64 and config.load_options()["time_col"] == "t"
