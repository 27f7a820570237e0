"""Nothing a user stored is lost or overwritten without a word (issue 35): each test failed on the
code before its fix."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import optuna
import pandas as pd
import pytest
from optuna.trial import TrialState

from workbench.config import ExperimentConfig
from workbench.errors import StudyError
from workbench.report.html import write_report
from workbench.study import Experiment, attrs, evaluate, run_study, write_results
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


# --------------------------------------------------------------------------- the storage failing under a study


def _outage_once(monkeypatch: pytest.MonkeyPatch, method: str, at_call: int) -> list[int]:
    """The storage's ``method`` fails once, at its ``at_call``-th call, as a server restarting
    makes it fail (a connection lost, wrapped by Optuna as StorageInternalError)."""
    import sqlalchemy.exc

    from workbench.study.storage import WorkbenchStorage

    calls: list[int] = []
    original = getattr(WorkbenchStorage, method)

    def failing(self: WorkbenchStorage, *args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == at_call:
            lost = sqlalchemy.exc.OperationalError("UPDATE …", {}, Exception("server closed the connection"))
            raise optuna.exceptions.StorageInternalError("… e.g. exceeding max length.") from lost
        return original(self, *args, **kwargs)

    monkeypatch.setattr(WorkbenchStorage, method, failing)
    return calls


# Where the outage hits: an epoch's report to the pruner (inside the objective), and the trial's end
# (Optuna's tell, after the objective returned: the 4th state write is the second trial's).
@pytest.mark.parametrize(("method", "at_call"), [("set_trial_intermediate_value", 3), ("set_trial_state_values", 4)])
def test_a_failure_of_the_storage_under_a_trial_requeues_it_instead_of_failing_it(
    make_experiment: Make, monkeypatch: pytest.MonkeyPatch, method: str, at_call: int
) -> None:
    """Before: a one-second PostgreSQL restart stored proven default #2 as FAIL ("StorageInternalError
    … e.g. exceeding max length"), counted against the budget and never run again."""
    calls = _outage_once(monkeypatch, method, at_call=at_call)
    lines: list[str] = []
    exp = run_study(make_experiment(name="outage", families=["mlp"], **{"budget.trials": 3}), echo=lines.append)
    assert len(calls) > 3  # the outage happened, and the study went on
    trials = exp.study("mlp").get_trials()
    assert not [t.number for t in trials if attrs.failed_itself(t)]  # no trial failed by the storage's fault
    assert sum(t.state == TrialState.COMPLETE for t in trials) == 3  # the whole budget, the cut trial re-run
    copies = [t for t in trials if attrs.retried(t) is not None]
    assert len(copies) == 1 and copies[0].params == trials[attrs.retried(copies[0])].params  # type: ignore[index]
    assert any("the storage answers again; trial" in line and "re-queued" in line for line in lines), lines


def test_a_storage_that_refuses_writes_mid_study_ends_in_one_error(
    make_experiment: Make, monkeypatch: pytest.MonkeyPatch, cli: Cli
) -> None:
    """Before: `AssertionError: Should not reach.` from inside Optuna, exit 1 (the SQLite file made
    immutable with chattr +i during the study)."""
    import sqlalchemy.exc

    from workbench.study.storage import WorkbenchStorage

    original = WorkbenchStorage.set_trial_state_values
    calls: list[int] = []

    def read_only(self: WorkbenchStorage, *args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) > 2:  # from the second trial's start on: every write refused, for good
            cause = sqlalchemy.exc.OperationalError("UPDATE …", {}, Exception("attempt to write a readonly database"))
            raise optuna.exceptions.StorageInternalError("… e.g. exceeding max length.") from cause
        return original(self, *args, **kwargs)

    monkeypatch.setattr(WorkbenchStorage, "set_trial_state_values", read_only)
    config = make_experiment(name="ro", families=["mlp"], **{"budget.trials": 3})
    result = cli("study", *_config_args(config), "--workers", "1")
    assert result.code == 2, result.err
    assert "error: the storage failed (attempt to write a readonly database)" in result.err
    assert "Traceback" not in result.err and "Should not reach" not in result.err + result.out


def _config_args(config: ExperimentConfig) -> list[str]:
    """A config as a YAML file, for the command line."""
    import yaml

    path = Path(config.runs_dir).parent / f"{config.name}.yaml"
    path.write_text(yaml.safe_dump(config.model_dump()))
    return [str(path)]


@pytest.mark.slow
def test_a_postgresql_restart_during_a_trial_loses_nothing(make_experiment: Make, postgres: Any) -> None:
    """The real thing: the server stopped for a second while a trial trains (its pruning reports,
    its heartbeat and its end all reach for the database)."""
    import threading
    import time

    config = make_experiment(
        name=f"restart-{os.getpid()}", families=["mlp"], storage=postgres.url, max_epochs=300, **{"budget.trials": 3}
    )
    restarted: list[float] = []

    def restart_mid_trial() -> None:
        study = None
        while study is None:
            with contextlib.suppress(KeyError):
                study = optuna.load_study(study_name=f"{config.name}/mlp", storage=postgres.url)
            time.sleep(0.2)
        while not any(t.state == TrialState.RUNNING and len(t.intermediate_values) > 3 for t in study.get_trials()):
            time.sleep(0.1)
        postgres.stop()
        time.sleep(1.0)
        postgres.start()
        restarted.append(time.time())

    thread = threading.Thread(target=restart_mid_trial, daemon=True)
    thread.start()
    lines: list[str] = []
    try:
        exp = run_study(config, echo=lines.append)
    finally:
        thread.join(timeout=120)
        with contextlib.suppress(Exception):
            postgres.start()  # whatever happened, the session's server runs on
    assert restarted, "the server was never restarted mid-trial"
    trials = exp.study("mlp").get_trials()
    assert not [t.number for t in trials if attrs.failed_itself(t)], [attrs.failure(t) for t in trials]
    assert sum(t.state == TrialState.COMPLETE for t in trials) == 3
    assert any("the storage answers again" in line for line in lines), lines


@pytest.mark.slow
def test_postgresql_stopped_under_two_workers_gives_one_line_each_and_no_traceback(
    make_experiment: Make, postgres: Any
) -> None:
    """Before: about 900 lines of tracebacks from the workers (Optuna's UnboundLocalError among them)."""
    import subprocess
    import sys

    config = make_experiment(
        name=f"down-{os.getpid()}", families=["mlp", "conv1d"], storage=postgres.url, max_epochs=300
    )
    args = _config_args(config)
    env = {**os.environ, "WORKBENCH_STORAGE_WAIT_S": "4"}
    cmd = [sys.executable, "-m", "workbench.cli", "study", *args, "--workers", "2", "--no-evaluate"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        from .conftest import NOT_READY, wait_for

        def training() -> bool:
            try:
                study = optuna.load_study(study_name=f"{config.name}/mlp", storage=postgres.url)
            except NOT_READY:
                return False
            return any(t.state == TrialState.RUNNING and len(t.intermediate_values) > 2 for t in study.get_trials())

        try:
            wait_for(training, timeout=180)
        except TimeoutError:
            proc.kill()
            raise AssertionError(proc.communicate()) from None
        postgres.stop()
        _, err = proc.communicate(timeout=240)
    finally:
        if proc.poll() is None:
            proc.kill()
        with contextlib.suppress(Exception):
            postgres.start()
    assert proc.returncode == 2, err
    assert "Traceback" not in err and "UnboundLocalError" not in err, err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert 1 <= len(errors) <= 3 and len(err.splitlines()) <= 6, err  # one per worker, one of the study's
    assert "run the same command to resume" in errors[-1] or "run the same command again" in errors[-1]


# --------------------------------------------------------------------------- time limits, hangs, odd settings


@pytest.mark.slow
@pytest.mark.timeout(300)  # before: the joined worker ran its whole budget (and a watch never returned)
def test_a_worker_that_joins_a_timed_experiment_honours_its_limit_and_the_stop_is_stored(make_experiment: Make) -> None:
    """Before: a `workbench worker` joining a --time 40s experiment ran all 20 trials (268 s), and
    `wb.watch(name)` never returned for the finished study, whose status said `open`."""
    import datetime

    from workbench.study import open_experiment, run_worker, start_study, status_frame, watch
    from workbench.study.status import stop_lines

    config = make_experiment(
        name="joined", families=["mlp"], time_limit=15, stop_when_done=False, **{"budget.trials": 5000}
    )
    handle = start_study(config, workers=1, echo=quiet)
    joined = open_experiment(config.name, config.storage_url, echo=quiet)
    run_worker(joined, worker_id=7, echo=quiet)  # returns: the stored limit ends it too
    handle.wait()
    limit = joined.time_limit()
    assert limit is not None
    deadline = datetime.datetime.fromtimestamp(limit.deadline)
    mine = [t for t in joined.study("mlp").get_trials() if t.user_attrs.get("worker", {}).get("pid") == os.getpid()]
    assert mine and all(t.datetime_start is not None and t.datetime_start < deadline for t in mine)
    assert len(joined.study("mlp").get_trials()) < 5000
    watched = watch(config.name, runs_dir=config.runs_dir, echo=quiet)  # returns, with no timeout
    assert status_frame(watched).set_index("family").loc["mlp", "status"] == "done (time)"
    assert any(line.startswith("mlp: time limit: ") for line in stop_lines(watched))


def test_a_grace_period_shorter_than_three_heartbeats_is_refused(make_experiment: Make, cli: Cli) -> None:
    """Before: `workbench worker --grace 2` was accepted and failed healthy trials as stale."""
    from workbench.study import prepare

    config = make_experiment(name="grace", families=["mlp"])
    prepare(config, echo=quiet)
    result = cli("worker", config.name, "--storage", config.storage_url, "--grace", "2")
    assert result.code == 2
    assert "grace period of 2 s is shorter than 3 heartbeats (one every 10 s)" in result.err
    assert "--grace 30 or more" in result.err


def test_a_time_limit_shorter_than_a_trial_says_the_shortest_that_works(
    data_file: Path, tmp_path: Path, cli: Cli
) -> None:
    """Before: "a trial costs about 0 s … more than the 0 s of the time left", 17 s, and a verdict that
    advised "a smaller learning rate, a larger budget, clean data"."""
    runs = tmp_path / "runs"
    args = [data_file, "--layout", "NCL", "--families", "mlp", "--baselines", "", "--workers", "1"]
    result = cli("study", *args, "--time", "1s", "--runs-dir", runs)
    assert result.code == 2
    assert "The time limit (1 s) is shorter than the profile and the cost measurement" in result.err
    assert "The shortest limit that gives one here is about" in result.err and "--time " in result.err
    assert "VERDICT" not in result.out


def test_evaluating_a_study_that_still_runs_says_so(make_experiment: Make) -> None:
    """Before: a verdict with no warning, with 1 of 6 trials done."""
    import warnings

    exp = run_study(make_experiment(name="early", families=["mlp"], **{"budget.trials": 1}), echo=quiet)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exp.study("mlp").ask()  # a trial running in another worker
    lines: list[str] = []
    _, verdict = evaluate(exp, echo=lines.append)
    said = "the study is still running (mlp 1 trial(s) finished, 1 running)"
    assert verdict.notes[0].startswith(f"warning: {said}") and any(said in line for line in lines)


@pytest.mark.parametrize(
    ("storage", "said"),
    [
        ("sqlite://", "is an in-memory SQLite database"),
        ("sqlite:///:memory:", "is an in-memory SQLite database"),
        ("sqlite:///{tmp}/x.db?mode=ro", "carries SQLite options after '?' ('mode=ro')"),
    ],
)
def test_storage_urls_no_study_can_use_are_refused_with_the_reason(
    make_experiment: Make, tmp_path: Path, storage: str, said: str
) -> None:
    """Before: workers failed on `sqlite://` with "the storage keeps every finished trial, rerun to
    resume"; `?mode=ro` created x.db and a lock file named 'x.db?mode=ro.lock'."""
    from workbench.errors import ConfigError

    with pytest.raises(ConfigError, match=re.escape(said)):
        run_study(make_experiment(name="url", storage=storage.format(tmp=tmp_path)), echo=quiet)
    assert not list(tmp_path.glob("x.db*"))


def test_defaults_skipped_by_a_finished_search_raise_no_heartbeat_warning(make_experiment: Make) -> None:
    """Before: `make demo` printed "UserWarning: Heartbeat of storage is supposed to be used with Study.optimize"."""
    import warnings

    from workbench.study import prepare
    from workbench.study.stopping import skip_waiting_defaults

    exp = prepare(make_experiment(name="skip", families=["mlp"]), echo=quiet)
    study = exp.study("mlp")
    assert any(t.state == TrialState.WAITING for t in study.get_trials())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        skip_waiting_defaults(study, "done")
    assert not any(t.state == TrialState.WAITING for t in study.get_trials())
