"""Nothing a user stored is lost or overwritten without a word (issue 35): each test failed on the
code before its fix."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import optuna
import pandas as pd
import pytest

from workbench.config import ExperimentConfig
from workbench.errors import StudyError
from workbench.report.html import write_report
from workbench.study import Experiment, evaluate, run_study, write_results
from workbench.study.events import TrialFinished

from ..conftest import CliResult

Make = Callable[..., ExperimentConfig]
Cli = Callable[..., CliResult]


def quiet(_: object) -> None:
    pass


@pytest.fixture
def evaluated(make_experiment: Make) -> Experiment:
    """A small stored experiment with its verdict and results written."""
    exp = run_study(make_experiment(name="rel", families=["mlp"], **{"budget.trials": 2}), echo=quiet)
    evaluate(exp, echo=quiet)
    write_results(exp)
    return exp


def test_an_experiment_reopened_from_a_copy_of_its_runs_folder_writes_into_the_copy(
    evaluated: Experiment, tmp_path: Path, cli: Cli
) -> None:
    """Before: `evaluate rel --runs-dir backup` overwrote runs/rel/results.parquet, and `report`
    wrote runs/rel/report.html; the copy was left as it was."""
    runs = Path(evaluated.config.runs_dir)
    original = {p.name: p.read_bytes() for p in (runs / "rel").glob("*.parquet")}
    backup = tmp_path / "backup"
    shutil.copytree(runs, backup)
    evaluated_again = cli("evaluate", "rel", "--runs-dir", backup, "--seeds", "3")
    assert evaluated_again.code == 0, evaluated_again.err
    reported = cli("report", "rel", "--runs-dir", backup)
    assert reported.code == 0, reported.err
    assert {p.name: p.read_bytes() for p in (runs / "rel").glob("*.parquet")} == original
    assert not (runs / "rel" / "report.html").exists()
    assert f"report: {(backup / 'rel' / 'report.html').absolute()}" in reported.out
    assert len(pd.read_parquet(backup / "rel" / "results.parquet")) == 3  # the copy's own evaluation: 3 seeds
    assert len(pd.read_parquet(runs / "rel" / "results.parquet")) == 2


@pytest.mark.parametrize("name", ["results.parquet", "trials.parquet", "report.html"])
def test_a_link_in_the_run_folder_is_replaced_and_the_file_it_points_to_is_left_alone(
    evaluated: Experiment, tmp_path: Path, name: str
) -> None:
    """Before: the link's target was overwritten (with PAR1… or <!DOCTYPE html>)."""
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    link = evaluated.config.run_dir / name
    link.unlink(missing_ok=True)
    link.symlink_to(victim)
    written = write_report(evaluated) if name == "report.html" else write_results(evaluated).with_name(name)
    assert victim.read_text() == "precious"
    assert not written.is_symlink() and written.stat().st_size > 100
    assert not [p.name for p in written.parent.iterdir() if p.name.endswith(".tmp")]  # no temporary file left


def test_a_fixed_temporary_name_that_is_a_link_is_never_written_through(evaluated: Experiment, tmp_path: Path) -> None:
    """Before: report.html was written through report.html.tmp, and a link there was followed."""
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    (evaluated.config.run_dir / "report.html.tmp").symlink_to(victim)
    write_report(evaluated)
    assert victim.read_text() == "precious"


class OnFirstTrial:
    """An ``echo`` that runs ``fault(path)`` when the study's first trial ends: a fault mid-study."""

    def __init__(self, fault: Callable[[Path], Any], path: Path) -> None:
        self.fault, self.path, self.done = fault, path, False

    def on_event(self, event: object) -> None:
        if isinstance(event, TrialFinished) and not self.done:
            self.done = True
            self.fault(self.path)


def _truncate(path: Path) -> None:
    with path.open("r+b") as f:
        f.truncate(4096)
    for side in ("-wal", "-shm"):
        Path(f"{path}{side}").unlink(missing_ok=True)


@pytest.mark.parametrize(
    ("fault", "said"),
    [(os.remove, "was deleted or moved while the experiment ran"), (_truncate, "is damaged")],
)
def test_a_storage_file_deleted_or_truncated_during_a_study_is_an_error_that_says_what_was_lost(
    make_experiment: Make, fault: Callable[[Path], Any], said: str
) -> None:
    """Before: exit 0 and a verdict, then `status` said "No experiment 'del'" (deleted) or
    "database disk image is malformed" (truncated)."""
    config = make_experiment(name="del", families=["mlp"], **{"budget.trials": 3})
    db = Path(config.storage_url.removeprefix("sqlite:///"))
    with pytest.raises(StudyError, match=said) as info:
        run_study(config, echo=OnFirstTrial(fault, db))
    assert str(db) in str(info.value)


def test_the_verdict_is_not_stored_into_a_storage_file_that_vanished(evaluated: Experiment) -> None:
    os.remove(Path(evaluated.config.storage_url.removeprefix("sqlite:///")))
    with pytest.raises(StudyError, match="the verdict cannot be stored"):
        evaluate(evaluated, echo=quiet)


def test_status_on_an_experiment_that_lost_a_family_study_is_one_error_line(evaluated: Experiment, cli: Cli) -> None:
    """Before: `KeyError: 'Record does not exist.'` tracebacks from status and report (a
    dashboard's DELETE had removed the family's study)."""
    optuna.delete_study(study_name="rel/mlp", storage=evaluated.config.storage_url)
    runs = evaluated.config.runs_dir
    for command in ("status", "report"):
        result = cli(command, "rel", "--runs-dir", runs)
        assert result.code == 2
        assert "error: Experiment 'rel' has lost its mlp study" in result.err and "Traceback" not in result.err
