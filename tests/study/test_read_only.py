"""Read-only commands stay read-only (issue 15): status, report and the read-only opening never
load data, never profile and never write, also on an experiment stored before this change."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import optuna
import pytest
import yaml
from optuna.storages import RDBStorage
from optuna.trial import TrialState

from workbench.config import ExperimentConfig
from workbench.report.html import build_report
from workbench.study import read_experiment, status_frame, validation_lines

from .conftest import NOT_READY, wait_for

Make = Callable[..., ExperimentConfig]
FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "experiments"  # written by the workbench of 2026-11-22


def digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_status_and_report_leave_a_stored_experiment_byte_for_byte_unchanged(tmp_path: Path) -> None:
    """Its data file is gone, too: nothing is loaded."""
    runs = tmp_path / "runs"
    shutil.copytree(FIXTURE, runs)
    before = digest(runs)
    cli = [sys.executable, "-m", "workbench.cli"]
    status = subprocess.run([*cli, "status", "stored", "--runs-dir", str(runs)], capture_output=True, text=True)
    assert status.returncode == 0, status.stderr
    assert "mlp" in status.stdout and "done" in status.stdout and "validation: holdout" in status.stdout
    out = tmp_path / "report.html"
    report = subprocess.run(
        [*cli, "report", "stored", "--runs-dir", str(runs), "--out", str(out)], capture_output=True, text=True
    )
    assert report.returncode == 0, report.stderr
    html = out.read_text()
    assert "Verdict" in html and "Family conv1d" in html and "Family linear" in html
    assert digest(runs) == before


WRITES = [name for name in dir(RDBStorage) if name.startswith(("create_new_", "set_", "delete_", "record_"))]


@pytest.mark.slow
def test_reading_while_a_study_runs_never_writes(
    make_experiment: Make, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = make_experiment(families=["mlp"], max_epochs=400, **{"budget.trials": 2})
    path = tmp_path / "running.yaml"
    path.write_text(yaml.safe_dump(config.model_dump()))
    study = subprocess.Popen(
        [sys.executable, "-m", "workbench.cli", "study", str(path), "--no-evaluate", "--workers", "1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:

        def training() -> bool:
            if not Path(config.storage_url.removeprefix("sqlite:///")).is_file():
                return False
            try:
                trials = optuna.load_study(study_name="tiny/mlp", storage=config.storage_url).get_trials()
            except NOT_READY:
                return False
            return any(t.state == TrialState.RUNNING and len(t.intermediate_values) > 2 for t in trials)

        wait_for(training)

        def refuse(*_: Any, **__: Any) -> Any:
            raise AssertionError("a read-only command wrote to the storage")

        for name in WRITES:
            monkeypatch.setattr(RDBStorage, name, refuse)
        for _ in range(3):  # while the study writes its trials
            exp = read_experiment("tiny", config.storage_url)
            frame = status_frame(exp).set_index("family")
            assert frame.loc["mlp", "status"] == "running" and frame.loc["mlp", "running"] >= 1
            assert validation_lines(exp)[0].startswith("validation: holdout")
            assert "Family mlp" in build_report(exp)
            time.sleep(0.5)
    finally:
        study.kill()
        study.wait()
