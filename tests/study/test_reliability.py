"""Interrupted, killed, concurrent and hostile runs (issue 16): each test failed before its fix."""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import optuna
import pytest
import yaml
from optuna.trial import TrialState

import workbench.study.training as training_module
import workbench.study.worker as worker_module
from workbench.config import Budget, ExperimentConfig
from workbench.errors import ConfigError
from workbench.report.html import build_report
from workbench.study import attrs, evaluate, open_experiment, prepare, recovery, run_worker, status_frame, write_results
from workbench.study.attrs import ATTR_CONFIG, ATTR_PROFILE
from workbench.study.budget import budget_state
from workbench.study.launch import WORKER_MAIN
from workbench.study.processes import worker_command
from workbench.study.status import run_length_text
from workbench.study.storage import open_storage

from .conftest import NOT_READY, used_slot, wait_for, worker

Make = Callable[..., ExperimentConfig]


def cli(*args: str, **kwargs: Any) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "workbench.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},  # its lines come as it prints them
        **kwargs,
    )


def finished(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    """The trials that count toward a budget: ended by their own run."""
    return [t for t in study.get_trials() if used_slot(t)]


def config_file(config: ExperimentConfig, tmp_path: Path) -> Path:
    path = tmp_path / f"{config.name}.yaml"
    path.write_text(yaml.safe_dump(config.model_dump()))
    return path


# --------------------------------------------------------------------------- distributed runs


@pytest.mark.slow
def test_a_trial_killed_at_the_end_of_the_budget_is_rerun_by_the_worker_still_there(
    make_experiment: Make, postgres_url: str
) -> None:
    """Both budget slots running, one worker killed: before, the other worker finished its trial,
    saw the budget taken (the dead trial still RUNNING) and left; the study ended 1/2."""
    config = make_experiment(
        name="end-kill", families=["mlp"], storage=postgres_url, max_epochs=150, **{"budget.trials": 2}
    )
    exp = prepare(config, heartbeat_s=1, grace_s=15, echo=lambda _: None)
    study = exp.study("mlp")
    # A grace period longer than the rest of B's trial: B's budget looks taken when it finishes.
    a, b = (worker(config.name, postgres_url, "--worker-id", str(i), "--grace", "15") for i in (1, 2))
    wait_for(
        lambda: sum(t.state == TrialState.RUNNING and len(t.intermediate_values) > 2 for t in study.get_trials()) == 2
    )
    running = {t.user_attrs["worker"]["pid"]: t for t in study.get_trials(states=(TrialState.RUNNING,))}
    os.kill(a.pid, signal.SIGKILL)
    a.wait()
    killed = running[a.pid]
    out = b.communicate(timeout=600)[0].decode()
    assert b.returncode == 0, out
    retried = [t for t in study.get_trials() if t.system_attrs.get("failed_trial") == killed.number]
    assert len(retried) == 1 and retried[0].state == TrialState.COMPLETE and retried[0].params == killed.params
    assert len(finished(study)) == 2


@pytest.mark.slow
def test_a_later_worker_waits_out_the_grace_period(make_experiment: Make, postgres_url: str) -> None:
    """The only worker killed on the last trial: a later `worker` used to exit at once (budget
    "taken" by the dead trial); now it waits for the heartbeat grace period and re-runs it."""
    config = make_experiment(
        name="late", families=["mlp"], storage=postgres_url, max_epochs=300, **{"budget.trials": 1}
    )
    exp = prepare(config, heartbeat_s=1, grace_s=6, echo=lambda _: None)
    study = exp.study("mlp")
    first = worker(config.name, postgres_url)
    wait_for(lambda: any(len(t.intermediate_values) > 2 for t in study.get_trials(states=(TrialState.RUNNING,))))
    os.kill(first.pid, signal.SIGKILL)
    first.wait()
    reopened = open_experiment(config.name, postgres_url, echo=lambda _: None)  # the stored 1 s / 6 s
    assert status_frame(reopened).set_index("family").loc["mlp", "status"] == "running"
    later = subprocess.run(
        [sys.executable, "-m", "workbench.cli", "worker", config.name, "--storage", postgres_url, "--threads", "1"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert later.returncode == 0, later.stdout + later.stderr
    assert "re-queued trial(s) [" in later.stdout, later.stdout  # at start or after waiting: by its age
    assert len(finished(study)) == 1 and finished(study)[0].system_attrs.get("failed_trial") is not None


def test_a_trial_whose_worker_died_before_its_first_heartbeat_is_requeued(tmp_path: Path) -> None:
    """A worker SIGKILLed between asking for a trial and its first heartbeat (the chaos test hit
    it once) left the trial RUNNING, which Optuna never calls stale: it was never re-run."""
    storage = open_storage(f"sqlite:///{tmp_path}/unnamed.db", heartbeat_s=1, grace_s=5)
    study = optuna.create_study(study_name="unnamed", storage=storage)
    with pytest.warns(UserWarning, match="Heartbeat"):  # Optuna: ask() sends none; its worker died here
        trial = study.ask()
    assert recovery.waits_for(study, storage), "a trial that may still be starting is waited for"
    assert recovery.sweep(study, storage) == []  # a live worker beats within milliseconds
    wait_for(lambda: recovery.sweep(study, storage) == [trial.number], timeout=60)
    assert [t.state for t in study.get_trials()] == [TrialState.FAIL, TrialState.WAITING]
    assert recovery.sweep(study, storage) == [], "one copy"


def test_two_workers_requeueing_the_same_dead_trial_queue_one_copy(tmp_path: Path) -> None:
    """CI's chaos run: two workers read the same dead trial as RUNNING; the second's tell found
    it failed already ("Cannot tell a FAIL trial", a ValueError) and killed that worker."""
    storage = open_storage(f"sqlite:///{tmp_path}/twice.db")
    study = optuna.create_study(study_name="twice", storage=storage)
    with pytest.warns(UserWarning, match="Heartbeat"):
        study.ask({"x": optuna.distributions.FloatDistribution(0, 1)})
    stale = study.get_trials(states=(TrialState.RUNNING,))[0]  # both workers read it as RUNNING
    assert recovery.requeue(study, stale) is True
    assert recovery.requeue(study, stale) is False
    assert [t.state for t in study.get_trials()] == [TrialState.FAIL, TrialState.WAITING]


def test_a_requeue_never_frees_a_budget_slot(tmp_path: Path) -> None:
    """A dead trial is failed, then its copy is queued (two writes, by Optuna's stale-trial
    sweep or on Ctrl-C). Between them the slot must stay taken, or a racing worker draws a new
    trial into it and the copy overruns the budget; after them the copy holds it, once."""
    storage = open_storage(f"sqlite:///{tmp_path}/slot.db")
    study = optuna.create_study(study_name="slot", storage=storage)
    with pytest.warns(UserWarning, match="Heartbeat"):
        study.ask({"x": optuna.distributions.FloatDistribution(0, 1)})
    budget = Budget(trials=2)
    running = budget_state(study.get_trials(), budget)
    study.tell(0, state=TrialState.FAIL)  # failed; the copy is not stored yet
    between = budget_state(study.get_trials(), budget)
    recovery.Requeue()(study, study.get_trials()[0])
    after = budget_state(study.get_trials(), budget)
    counts = [s.trials_done + s.trials_in_flight for s in (running, between, after)]
    assert counts == [1, 1, 1]
    assert (after.trials_done, after.trials_in_flight) == (0, 1), "the copy holds the slot, in flight"
    trials = study.get_trials()
    assert trials[1].params == trials[0].params and attrs.retry_history(trials[1]) == [0]
    assert not budget_state(study.get_trials(), Budget(trials=1)).exhausted, "the queued copy still runs"


def test_a_live_trial_another_worker_requeued_is_dropped_not_fatal(tmp_path: Path) -> None:
    """A trial whose heartbeat looked stale to another worker (a loaded machine) is failed and
    re-queued by it; its own worker's tell then raised "Cannot tell a FAIL trial" and died."""
    storage = open_storage(f"sqlite:///{tmp_path}/late.db")
    study = optuna.create_study(study_name="late", storage=storage)
    exp = SimpleNamespace(storage=storage, config=SimpleNamespace(budget=Budget(trials=2)))

    def objective(trial: optuna.Trial, seen: list[optuna.trial.FrozenTrial]) -> float:
        trial.suggest_float("x", 0, 1)
        assert recovery.requeue(study, study.get_trials()[trial.number])  # the other worker, meanwhile
        return 0.5

    objective.family = "mlp"  # type: ignore[attr-defined]
    with pytest.raises(worker_module._TakenOver) as taken:
        worker_module._run_trial(exp, study, objective, worker_module._Running())  # type: ignore[arg-type]
    assert taken.value.number == 0
    assert [t.state for t in study.get_trials()] == [TrialState.FAIL, TrialState.WAITING]


def _open_at(url: str, start: float, results: Any, outside: bool = False) -> None:
    while time.time() < start:  # every process starts creating the storage at the same moment
        pass
    if outside:  # another tool (optuna.load_study, optuna-dashboard): no lock, no retry
        with contextlib.suppress(Exception):  # it may lose the race itself; not what is tested
            optuna.storages.RDBStorage(url)
        return
    try:
        optuna.create_study(study_name="race", storage=open_storage(url), load_if_exists=True)
        results.put("ok")
    except Exception as exc:  # what the test reports
        results.put(repr(exc))


def test_commands_that_create_the_same_storage_at_once_all_succeed(tmp_path: Path) -> None:
    """Before the lock, 4 of 5 rounds of 4 processes failed ("table studies already exists",
    or a UNIQUE constraint on alembic_version). Other tools that open the file at the same
    moment take no lock: a retry covers them (before it, a study failed in make test when the
    test's own optuna.load_study created the tables first)."""
    ctx = multiprocessing.get_context("fork")
    for round_ in range(3):
        url = f"sqlite:///{tmp_path}/round{round_}/study.db"
        (tmp_path / f"round{round_}").mkdir()
        results = ctx.Queue()
        start = time.time() + 1.0
        procs = [ctx.Process(target=_open_at, args=(url, start, results, i >= 4)) for i in range(6)]
        for p in procs:
            p.start()
        for p in procs:
            p.join(timeout=120)
        assert [results.get() for _ in range(4)] == ["ok"] * 4


# --------------------------------------------------------------------------- interrupted runs


@pytest.mark.slow
def test_ctrl_c_requeues_the_running_trial_and_exits_130(make_experiment: Make, tmp_path: Path) -> None:
    """Before: a KeyboardInterrupt traceback, and the trial left FAIL (or RUNNING) without a copy."""
    config = make_experiment(name="ctrl-c", families=["mlp"], max_epochs=300, **{"budget.trials": 2})
    proc = cli("study", str(config_file(config, tmp_path)), "--no-evaluate")
    wait_for(lambda: Path(config.storage_url.removeprefix("sqlite:///")).is_file(), timeout=120)
    exp_study = lambda: optuna.load_study(study_name=f"{config.name}/mlp", storage=config.storage_url)  # noqa: E731

    def training() -> bool:
        with contextlib.suppress(*NOT_READY):
            return any(len(t.intermediate_values) > 2 for t in exp_study().get_trials(states=(TrialState.RUNNING,)))
        return False

    wait_for(training)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, out + err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert "re-queued with the same parameters" in err and "Run the same command again to resume" in err
    trials = exp_study().get_trials()
    interrupted = next(t for t in trials if t.state == TrialState.FAIL)
    copy = next(t for t in trials if t.system_attrs.get("failed_trial") == interrupted.number)
    assert copy.state == TrialState.WAITING and copy.params == interrupted.params
    resumed = cli("study", str(config_file(config, tmp_path)), "--no-evaluate")
    assert resumed.wait(timeout=600) == 0, resumed.communicate()
    assert len(finished(exp_study())) == 2
    assert exp_study().get_trials()[copy.number].state == TrialState.COMPLETE


_SIGNAL_IN_A_GC_CALLBACK = """
import atexit, json, os, signal, sys, time, weakref
import workbench.study.worker as worker

def signal_in_a_gc_callback():
    # The signal lands while Python runs a weakref callback, as when SQLAlchemy's mapper
    # registry is collected: a KeyboardInterrupt raised there is printed and dropped.
    class Mapped: pass
    def collected(_):
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.1)  # the handler runs here, inside the callback
    obj = Mapped(); ref = weakref.ref(obj, collected); del obj

open_experiment = worker.open_experiment
def opening(*args, **kwargs):
    signal_in_a_gc_callback()
    return open_experiment(*args, **kwargs)

if sys.argv[2] == "cli":  # the command line's own process, after its command
    from workbench.cli import main
    atexit.register(signal_in_a_gc_callback)
    sys.argv = ["workbench", "datasets"]
    main()
if sys.argv[2] == "evaluation":  # a process of the final evaluation, as it opens the storage
    import importlib
    evaluation = importlib.import_module("workbench.study.evaluate")  # the package exports a function of that name
    evaluation.open_experiment = opening
    evaluation.evaluation_worker_main(json.loads(sys.argv[1]))
    sys.exit(0)
if sys.argv[2] == "start":
    worker.open_experiment = opening
worker.worker_main(json.loads(sys.argv[1]))
atexit.register(signal_in_a_gc_callback)  # "exit": while the interpreter shuts down
"""


@pytest.mark.parametrize("when", ["start", "exit"])
def test_a_worker_signalled_outside_its_trials_prints_no_traceback(make_experiment: Make, when: str) -> None:
    """CI failed once on "Exception ignored in ... _remove_item ... KeyboardInterrupt" from a
    worker: outside the study's handler, a signal in a garbage-collection callback printed a
    traceback and was lost (at the start, the worker went on to run every trial). Now a signal
    while it starts stops it at the first safe point, and one after its work ends the process."""
    config = make_experiment(name=f"gc-signal-{when}", families=["mlp"], max_epochs=1)
    prepare(config)
    settings = {"name": config.name, "storage": config.storage_url, "worker_id": 0, "threads": 1}
    settings |= {"accelerator": "cpu", "quiet": False, "limit": None}
    done = subprocess.run(
        [sys.executable, "-c", _SIGNAL_IN_A_GC_CALLBACK, json.dumps(settings), when],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert "Traceback" not in done.stderr and "Exception ignored" not in done.stderr, done.stderr
    study = open_experiment(config.name, config.storage_url).study("mlp")
    if when == "start":
        assert done.returncode == 130 and "interrupted (SIGINT)" in done.stderr, done.stdout + done.stderr
        assert not finished(study)
    else:
        assert done.returncode == -signal.SIGINT, done.stdout + done.stderr
        assert len(finished(study)) == 4


def test_an_evaluation_process_signalled_outside_its_training_ends_without_a_traceback(make_experiment: Make) -> None:
    """Its runs are stored by the command that started it, so it just ends (before: the
    KeyboardInterrupt went to a garbage-collection callback, printed there and was dropped)."""
    config = make_experiment(name="gc-signal-evaluation", families=["mlp"])
    prepare(config)
    settings = json.dumps({"name": config.name, "storage": config.storage_url, "runs": {}})
    done = subprocess.run(
        [sys.executable, "-c", _SIGNAL_IN_A_GC_CALLBACK, settings, "evaluation"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == -signal.SIGINT and not done.stderr, done.stderr


def test_a_worker_signalled_while_it_imports_ends_without_a_traceback(make_experiment: Make) -> None:
    """Before: "Traceback ... KeyboardInterrupt" from inside torch's or Lightning's imports, on
    the terminal of the study that passed its Ctrl-C on."""
    config = make_experiment(name="import-signal", families=["mlp"])
    prepare(config)
    settings = {"name": config.name, "storage": config.storage_url, "worker_id": 0, "threads": 1}
    settings |= {"accelerator": "cpu", "quiet": True, "limit": None}
    command = worker_command(WORKER_MAIN, settings)  # as the launch starts it
    proc = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, start_new_session=True)
    wait_for(lambda: "numpy" in Path(f"/proc/{proc.pid}/maps").read_text(), step=0.02)  # into its imports
    assert not catches_sigint(proc.pid)  # and not yet listening (torch and Lightning take seconds more)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGINT and not err, err
    assert not finished(open_experiment(config.name, config.storage_url).study("mlp"))


def test_a_ctrl_c_after_a_command_ends_the_process_without_a_traceback() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _SIGNAL_IN_A_GC_CALLBACK, "{}", "cli"], capture_output=True, text=True, timeout=120
    )
    assert "GunPoint" in done.stdout
    assert done.returncode == -signal.SIGINT and not done.stderr, done.stderr


class _Killed(BaseException):
    """Stands for SIGKILL: nothing after the profile's start runs, no handler cleans up."""


def test_an_experiment_killed_while_profiling_says_how_to_continue(
    make_experiment: Make, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: `status`, `report` and `worker` crashed with KeyError: 'config'.

    The kill is simulated in-process at the start of the profile, so the storage holds the config
    and no profile whatever the machine's speed (a real kill raced a profile that can end in 0.1 s).
    """
    config = make_experiment(name="early", profile_budget_s=120)

    def killed(*_: object, **__: object) -> None:
        raise _Killed

    monkeypatch.setattr("workbench.study.experiment.profile", killed)
    with pytest.raises(_Killed):
        prepare(config, echo=lambda _: None)
    meta = optuna.load_study(study_name=config.name, storage=config.storage_url).user_attrs
    assert ATTR_CONFIG in meta and ATTR_PROFILE not in meta
    runs = ["--runs-dir", config.runs_dir]
    for args in (
        ["status", config.name, *runs],
        ["report", config.name, *runs],
        ["worker", config.name, "--storage", config.storage_url],
    ):
        done = subprocess.run(
            [sys.executable, "-m", "workbench.cli", *args], capture_output=True, text=True, check=False
        )
        assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
        assert "Experiment 'early' was interrupted before it started" in done.stderr
        assert f"workbench study {config.data} --name early" in done.stderr


# --------------------------------------------------------------------------- names and storages


def test_names_that_leave_the_runs_folder_are_refused(make_experiment: Make, tmp_path: Path) -> None:
    for name in ("..", ".", ".hidden"):
        with pytest.raises(ConfigError, match="name"):
            make_experiment(name=name)
    runs = tmp_path / "R"
    done = subprocess.run(
        [sys.executable, "-m", "workbench.cli", "status", "../../x", "--runs-dir", str(runs)],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert done.returncode == 2 and "not a plain folder name" in done.stderr
    assert not list(tmp_path.rglob("*.db"))  # before: R/../../x/study.db was created


def test_read_only_commands_never_create_a_storage(make_experiment: Make, tmp_path: Path) -> None:
    config = make_experiment(**{"budget.trials": 1}, families=["mlp"])
    prepare(config, echo=lambda _: None)
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    for command in ("status", "report", "evaluate"):
        done = subprocess.run(
            [sys.executable, "-m", "workbench.cli", command, "tinny", "--runs-dir", config.runs_dir],
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 2, done.stderr
        assert "No experiment 'tinny'" in done.stderr and "Experiments in" in done.stderr and "['tiny']" in done.stderr
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before


@contextlib.contextmanager
def small_filesystem(folder: Path, options: str) -> Iterator[Path]:
    """A tmpfs mounted at ``folder`` (read-only, or a few hundred KiB): real EROFS / ENOSPC."""
    folder.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs ({done.stderr.strip()}); CI runs as root and can")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def study_args(data_file: Path, runs: Path, trials: int) -> list[str]:
    return [
        *("study", str(data_file), "--layout", "NCL", "--runs-dir", str(runs), "--families", "mlp", "--baselines", ""),
        *("--trials", str(trials), "--max-epochs", "2", "--no-evaluate", "--full-budget"),
    ]


def test_a_read_only_runs_folder_is_one_error_line(data_file: Path, tmp_path: Path) -> None:
    """Before: a PermissionError traceback from mkdir."""
    with small_filesystem(tmp_path / "ro", "ro,size=1m") as folder:
        done = subprocess.run(
            [sys.executable, "-m", "workbench.cli", *study_args(data_file, folder / "runs", 1)],
            capture_output=True,
            text=True,
            check=False,
        )
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert done.stderr.startswith("error: Cannot create the run folder") and "--runs-dir" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_a_full_disk_is_one_error_line_and_the_storage_resumes(data_file: Path, tmp_path: Path) -> None:
    """Before: Optuna's "invalid data in the commit, e.g. exceeding max length" traceback."""
    with small_filesystem(tmp_path / "small", "size=300k") as folder:
        args = [sys.executable, "-m", "workbench.cli", *study_args(data_file, folder / "runs", 40)]
        full = subprocess.run(args, capture_output=True, text=True, check=False)
        assert full.returncode == 2 and "Traceback" not in full.stderr, full.stderr
        assert "the disk holding the storage is full" in full.stderr and "run the same command again" in full.stderr
        subprocess.run(["mount", "-o", "remount,size=20m", str(folder)], check=True)
        resumed = subprocess.run(args, capture_output=True, text=True, check=False)
        assert resumed.returncode == 0, resumed.stderr
        study = optuna.load_study(study_name="motifs/mlp", storage=f"sqlite:///{folder}/runs/motifs/study.db")
        assert len(finished(study)) == 40


# --------------------------------------------------------------------------- verdicts


def test_no_finished_family_gives_a_verdict_with_each_familys_reasons(
    make_experiment: Make, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: KeyError: 'family' in make_verdict."""

    def broken(*_: Any, **__: Any) -> Any:
        raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(training_module, "fit", broken)
    exp = prepare(make_experiment(**{"budget.trials": 2}), echo=lambda _: None)
    run_worker(exp, echo=lambda _: None)
    table, verdict = evaluate(exp, echo=lambda _: None)
    assert table.empty and verdict.families == [] and verdict.best is None
    assert verdict.statement.startswith("No family finished a trial")
    assert [n.split(":")[1].strip() for n in verdict.notes] == ["mlp", "conv1d"]
    assert all("2 fail" in n and "CUDA out of memory" in n for n in verdict.notes)
    assert write_results(exp).is_file()  # the results and the report still come out, saying so
    assert "No family finished a trial" in build_report(exp)


@pytest.mark.slow
def test_study_prints_the_verdicts_warnings(make_experiment: Make, tmp_path: Path) -> None:
    """Before: only the HTML report showed them."""
    rng = np.random.default_rng(0)
    noise = tmp_path / "noise.npz"
    np.savez(noise, X=rng.normal(size=(80, 1, 16)), y=rng.integers(0, 2, 80))  # labels unrelated to the data
    config = make_experiment(
        name="noise", data=str(noise), families=["mlp"], baselines=["linear"], **{"budget.trials": 1}
    )
    done = subprocess.run(
        [sys.executable, "-m", "workbench.cli", "study", str(config_file(config, tmp_path))],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    after = done.stdout.split("VERDICT: ", 1)[1]
    assert "warning: no family is distinguishable from chance" in after


def test_a_space_outside_a_parameters_range_fails_at_start(make_experiment: Make, spaces_dir: Path) -> None:
    """Before: accepted, then every trial failed."""
    (spaces_dir / "mlp.yaml").write_text("lr: {low: 1e6, high: 1e8, log: true}\n")  # YAML reads 1e6 as a string
    with pytest.raises(ConfigError, match=r"mlp.yaml: 'lr' \[1000000.0, 100000000.0\] allows 1000000.0.*\(0, 10\]"):
        prepare(make_experiment(families=["mlp"]), echo=lambda _: None)


# --------------------------------------------------------------------------- one experiment, one config


def test_a_resume_that_changes_what_a_trial_means_is_refused(make_experiment: Make) -> None:
    """Before: the second config overwrote the first and their trials mixed in one history."""
    first = make_experiment(name="c3", **{"budget.trials": 2})
    prepare(first, echo=lambda _: None)
    changed = make_experiment(name="c3", max_epochs=5, seed=7, **{"budget.trials": 8})
    with pytest.raises(ConfigError, match=r"started with other settings.*max_epochs: 4 → 5.*seed: 0 → 7") as info:
        prepare(changed, echo=lambda _: None)
    assert "budget" not in str(info.value).split("A resume may change")[0]  # the budget may change
    assert "--name c3-2" in str(info.value)
    stored = optuna.load_study(study_name="c3", storage=first.storage_url).user_attrs[ATTR_CONFIG]
    assert stored == first.model_dump()  # nothing was overwritten
    notes: list[str] = []
    raised = make_experiment(name="c3", families=["mlp"], **{"budget.trials": 8})
    prepare(raised, echo=notes.append)  # the budget and the families may change
    assert any("budget changed" in n for n in notes) and any("families changed" in n for n in notes)


def _prepare_at(config: ExperimentConfig, start: float, results: Any) -> None:
    time.sleep(max(0.0, start - time.time()))
    try:
        prepare(config, echo=lambda _: None)
        results.put("ok")
    except ConfigError as exc:
        results.put(str(exc))


@pytest.mark.slow
def test_two_configs_starting_one_experiment_at_once_cannot_both_run(make_experiment: Make) -> None:
    """The experiment's creation is atomic: exactly one config is stored, the other is refused."""
    ctx = multiprocessing.get_context("fork")
    configs = [make_experiment(name="race", max_epochs=e) for e in (4, 9)]
    results = ctx.Queue()
    start = time.time() + 1.0
    procs = [ctx.Process(target=_prepare_at, args=(c, start, results)) for c in configs]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
    outcomes = sorted(results.get(timeout=5) for _ in procs)
    assert outcomes[0].startswith("Experiment 'race' was started with other settings") and outcomes[1] == "ok"
    stored = optuna.load_study(study_name="race", storage=configs[0].storage_url).user_attrs[ATTR_CONFIG]
    assert stored["max_epochs"] in (4, 9)


# --------------------------------------------------------------------------- every command honours Ctrl-C


def _interrupt_at_work(proc: subprocess.Popen[str], first_line: str, seconds: float) -> tuple[str, str]:
    """SIGINT once the command has printed ``first_line`` (it is past its imports, which vary
    with the machine and come after it listens) and has used ``seconds`` of CPU since."""
    assert proc.stdout is not None
    printed = []
    while not any(first_line in line for line in printed):
        line = proc.stdout.readline()
        assert line, f"the command ended before it printed {first_line!r}: {''.join(printed)}"
        printed.append(line)
    wait_for(at_work(proc.pid, seconds))
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    return "".join(printed) + out, err


@pytest.mark.slow
def test_ctrl_c_during_evaluate_exits_130_and_leaves_the_stored_verdict(make_experiment: Make, tmp_path: Path) -> None:
    """Before: two SIGINTs were ignored, the evaluation ran on for 234 s and exited 0 (Lightning
    turns a KeyboardInterrupt into sys.exit(1) and ignores every later SIGINT)."""
    config = make_experiment(name="ev", families=["mlp"], max_epochs=400, **{"budget.trials": 1})
    exp = run_study_quietly(config)
    evaluate(exp, echo=lambda _: None)
    before = exp.meta().user_attrs["verdict"]
    runs = ["--runs-dir", config.runs_dir]
    # started with SIGINT ignored, as a shell starts a background job: the command must still listen
    proc = cli("evaluate", "ev", *runs, "--seeds", "4", preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    out, err = _interrupt_at_work(proc, "evaluating 1 configuration(s)", seconds=2.0)
    assert proc.returncode == 130, out + err
    assert err.strip().splitlines() == [
        "interrupted (SIGINT): the evaluation stopped; the stored verdict is unchanged. Run the same command again "
        "to evaluate."
    ]
    assert exp.meta().user_attrs["verdict"] == before


def run_study_quietly(config: ExperimentConfig) -> Any:
    from workbench.study import run_study

    return run_study(config, echo=lambda _: None)


def at_work(pid: int, seconds: float = 4.0) -> Callable[[], bool]:
    """A condition that turns true once the command, listening to SIGINT, has used ``seconds`` of
    CPU since: past its imports (their length varies with the machine, and a signal sent
    before the command listens is lost) and into its work."""
    listening_at: list[float] = []

    def ready() -> bool:
        if not listening_at and catches_sigint(pid):
            listening_at.append(cpu_seconds(pid))
        return bool(listening_at) and cpu_seconds(pid) > listening_at[0] + seconds

    return ready


def catches_sigint(pid: int) -> bool:
    """Whether the process has its own SIGINT handler (the evaluation runs): until then, a
    process started with SIGINT ignored would drop the signal."""
    status = Path(f"/proc/{pid}/status").read_text()
    caught = int(next(line.split()[1] for line in status.splitlines() if line.startswith("SigCgt:")), 16)
    return bool(caught & (1 << (signal.SIGINT - 1)))


def cpu_seconds(pid: int) -> float:
    """CPU time a process and its running children (the evaluation's seed workers) have used:
    past its imports (about 5 s here) it is at work."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0  # it ended meanwhile
    own = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return own + sum(cpu_seconds(int(child)) for child in children)


@pytest.mark.slow
def test_ctrl_c_during_profile_exits_130_with_one_line(tmp_path: Path) -> None:
    """Before: ignored; the profile ran to its end."""
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "long.npz", X=np.cumsum(rng.normal(size=(200, 1, 5000)), axis=2), y=np.arange(200) % 2)
    ignore = lambda: signal.signal(signal.SIGINT, signal.SIG_IGN)  # noqa: E731  (a shell's background job)
    proc = cli("profile", "long.npz", "--layout", "NCL", "--budget", "120", cwd=tmp_path, preexec_fn=ignore)
    out, err = _interrupt_at_work(proc, "profiling 'long'", seconds=0.5)
    assert proc.returncode == 130, out + err
    assert err.strip().splitlines() == ["interrupted (SIGINT): the profile stopped; nothing was written."]


def test_max_epochs_bounds_every_run_of_a_study(make_experiment: Make) -> None:
    """Before: --max-epochs 2 ran 456 epochs (182 s), because min_steps lengthened the runs."""
    from workbench.study import run_study

    lines: list[str] = []
    config = make_experiment(name="bounded", families=["mlp"], max_epochs=2, min_steps=1000, **{"budget.trials": 1})
    exp = run_study(config, echo=lines.append)
    assert "training runs: at most 2 epochs (max_epochs)" in lines
    (trial,) = exp.study("mlp").get_trials()
    assert [fold["epochs"] for fold in attrs.outcome(trial)["folds"]] == [2]
    default = make_experiment(name="lengthened", families=["mlp"], max_epochs=None, min_steps=1000)
    assert "lengthened on small data to at least 1000 optimiser steps" in run_length_text(default)
