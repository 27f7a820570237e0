"""The ``workbench`` command line: one subcommand per public function."""

from __future__ import annotations

import functools
import inspect
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal

import typer

from workbench.candidates import BASELINES, DEEP_FAMILIES
from workbench.config import ExperimentConfig
from workbench.errors import ConfigError, WorkbenchError, interface
from workbench.interrupt import exit_at_once_from_now, raise_at_once

app = typer.Typer(
    help="Model selection for 1D data: explicit layouts, order profiling, Conv1d vs MLP studies.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

StorageOption = Annotated[str | None, typer.Option(help="Storage URL; default sqlite in runs/<experiment>/.")]
ExperimentArgument = Annotated[str, typer.Argument(help="The experiment's name.")]
RunsDirOption = Annotated[
    str | None,
    typer.Option(help="Folder of run folders (default: runs; with --storage, the folder the experiment started with)."),
]

# How a command reads its data: declared once, keyed as the experiment config names them, and
# given to every command that loads data (``with_data_options``).
DATA_OPTIONS: dict[str, Any] = {
    "test_data": Annotated[
        str | None,
        typer.Option("--test", help="A test split of your own: a file read like the data, never studied."),
    ],
    "split_column": Annotated[
        str | None, typer.Option(help="CSV/Parquet: the column that says train or test for each row.")
    ],
    "layout": Annotated[str | None, typer.Option(help="Axes of an array file: NCL, NLC, NL, NF, CL or LC.")],
    "target": Annotated[
        str | None, typer.Option("--target", "--label-column", help="Label column of a CSV/Parquet file.")
    ],
    "task": Annotated[
        str | None,
        typer.Option(help="What the labels are: binary, multiclass, regression or per_step (default: inferred)."),
    ],
    "window": Annotated[
        int | None,
        typer.Option(help="One long recording (a row per time step): cut it into windows of this many steps."),
    ],
    "step": Annotated[int | None, typer.Option(help="Steps between windows (default: the window size).")],
    "window_label": Annotated[
        str | None, typer.Option(help="A window's label from its steps: last, majority, mean or per_step.")
    ],
    "time_column": Annotated[str | None, typer.Option(help="Windows: the time-stamp column (rows in time order).")],
    "group_column": Annotated[
        str | None, typer.Option(help="Windows: the recording id column (e.g. subject or session).")
    ],
    "impute": Annotated[
        str | None, typer.Option(help="Fill NaN values: ffill (the last value, carried forward) or zero.")
    ],
    "check_layout": Annotated[
        bool,
        typer.Option(
            "--check-layout/--no-check-layout",
            help="Refuse many channels of very short sequences (usually swapped axes); --no-check-layout accepts them.",
        ),
    ],
}
DATA_DEFAULTS = {"check_layout": True}


def with_data_options(function: Callable[..., None]) -> Callable[..., None]:
    """A command that reads data: it takes every option of :data:`DATA_OPTIONS` on the command
    line and receives them as one dict, ``data_options`` (unset options None, as the config's)."""
    signature = inspect.signature(function, eval_str=True)
    own = [p for p in signature.parameters.values() if p.name != "data_options"]
    added = [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=DATA_DEFAULTS.get(name), annotation=kind)
        for name, kind in DATA_OPTIONS.items()
    ]

    @functools.wraps(function)
    def run(*args: Any, **kwargs: Any) -> None:
        options = {name: kwargs.pop(name, None) for name in DATA_OPTIONS}
        options["check_layout"] = None if options["check_layout"] in (None, True) else False
        function(*args, data_options=options, **kwargs)

    run.__signature__ = signature.replace(parameters=own + added)  # type: ignore[attr-defined]
    run.__annotations__ = {**{p.name: p.annotation for p in own}, **DATA_OPTIONS}
    return run


def _load(source: str, options: dict[str, Any]) -> Any:
    """The dataset the data options describe (renamed as ``workbench.load`` takes them)."""
    from workbench.data import load

    rename = {"time_column": "time_col", "group_column": "group_col", "test_data": "test"}
    return load(source, **{rename.get(k, k): v for k, v in options.items()})


def command(name: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """A subcommand whose Ctrl-C (or SIGTERM) prints one line and exits 130, as shells expect.
    Long operations stop at a safe point and say what they left behind and how to go on
    (``workbench.interrupt``); the others stop at once. Typer would exit silently."""

    def register(function: Callable[..., None]) -> Callable[..., None]:
        @functools.wraps(function)
        def run(*args: Any, **kwargs: Any) -> None:
            raise_at_once()  # also when the shell started us with SIGINT ignored (a background job)
            try:
                function(*args, **kwargs)
            except KeyboardInterrupt as exc:
                typer.echo(str(exc) or "interrupted: nothing was changed.", err=True)
                raise typer.Exit(130) from None

        return app.command(name)(run)

    return register


@command("datasets")
def datasets_command() -> None:
    """List the built-in datasets (all offline) with task, shape and lengths."""
    from workbench.data import list_datasets

    typer.echo(list_datasets().to_string(index=False))


@command("info")
@with_data_options
def info_command(
    source: Annotated[str, typer.Argument(help="A built-in dataset name or a file path.")],
    data_options: dict[str, Any],
) -> None:
    """Load a dataset, validate it and print its summary."""
    with interface("cli"):
        typer.echo(_load(source, data_options).summary())


@command("profile")
@with_data_options
def profile_command(
    source: Annotated[str, typer.Argument(help="A built-in dataset name or a file path.")],
    data_options: dict[str, Any],
    budget: Annotated[float, typer.Option(help="Upper bound in seconds; the probe is sized to it.")] = 30.0,
    skip_model_test: Annotated[bool, typer.Option("--skip-model-test", help="Run only the model-free tests.")] = False,
    json_path: Annotated[
        str | None, typer.Option("--json", help="Also write the profile as JSON to this file.")
    ] = None,
) -> None:
    """Does feature order matter? Profile the data and recommend mlp, conv1d or hybrid."""
    from workbench.profiling import profile
    from workbench.study.events import ProfileStarted, emit

    with interface("cli"):
        dataset = _load(source, data_options)
        emit(typer.echo, ProfileStarted(repr(dataset.name), budget))
        result = profile(dataset, budget_s=budget, model_test=not skip_model_test)
    typer.echo(result.summary())
    if json_path:
        result.to_json(json_path)
        typer.echo(f"profile written to {json_path}")


def _experiment_config(source: str, overrides: dict[str, Any]) -> ExperimentConfig:
    """A YAML config, or a dataset with defaults; ``overrides`` (the flags given, keyed as the
    config names them, with dots for nested keys: ``budget.trials``) win over either."""
    from workbench.config import load_config, make_config, name_from

    if _is_config(source):
        return load_config(source, overrides)
    return make_config({"name": overrides.get("name") or name_from(source), "data": source}, overrides)


def _is_config(source: str) -> bool:
    return source.endswith((".yaml", ".yml"))


@command("study")
@with_data_options
def study_command(
    source: Annotated[str, typer.Argument(help="An experiment YAML, or a dataset (built-in name or file).")],
    data_options: dict[str, Any],
    name: Annotated[str | None, typer.Option(help="Experiment name (default: from the config or data).")] = None,
    storage: Annotated[str | None, typer.Option(help="Storage URL; default sqlite in runs/<name>/.")] = None,
    trials: Annotated[int | None, typer.Option(help="Trials per family.")] = None,
    families: Annotated[str | None, typer.Option(help=f"Comma-separated, of: {','.join(DEEP_FAMILIES)}.")] = None,
    baselines: Annotated[
        str | None, typer.Option(help=f"Comma-separated, of: {','.join(BASELINES)} ('' for none).")
    ] = None,
    max_epochs: Annotated[
        int | None,
        typer.Option(help="Epochs per run at most (default: 60, lengthened on small data to 1000 optimiser steps)."),
    ] = None,
    time_limit: Annotated[
        str | None,
        typer.Option(
            "--time",
            help="One wall-clock budget for the whole experiment, e.g. 10m or 1h30m: spread across families, "
            "baselines and the evaluation from measured costs.",
        ),
    ] = None,
    full_budget: Annotated[
        bool,
        typer.Option(
            "--full-budget",
            help="Run every trial of the budget: no family stops when more trials are unlikely to beat the "
            "validation noise.",
        ),
    ] = False,
    runs_dir: Annotated[str | None, typer.Option(help="Folder for run folders.")] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            help="Worker processes on this machine (default: one per core, one thread each; per GPU with CUDA)."
        ),
    ] = None,
    per_gpu: Annotated[
        int | None,
        typer.Option(
            help="Worker processes per GPU (default: as many as its free memory holds for the data's largest "
            "model, at most one per CPU core and 8)."
        ),
    ] = None,
    evaluate_after: Annotated[bool, typer.Option("--evaluate/--no-evaluate", help="Run the final evaluation.")] = True,
) -> None:
    """Run (or resume) an experiment: one Optuna study per family, then the verdict."""
    started = time.time()  # a time limit counts from here, the imports below included
    from workbench.models.devices import auto_workers
    from workbench.study import evaluate, run_study, status_frame
    from workbench.study.status import stop_lines

    overrides = {
        "name": name,
        **data_options,
        "storage": storage,
        "budget.trials": trials,
        "max_epochs": max_epochs,
        "time_limit": time_limit,
        "stop_when_done": False if full_budget else None,
        "runs_dir": runs_dir,
        "families": families.split(",") if families is not None else None,
        "baselines": [b for b in baselines.split(",") if b] if baselines is not None else None,
    }
    config = _experiment_config(source, overrides)
    workers = workers or auto_workers()
    with interface("config" if _is_config(source) else "cli"):
        exp = run_study(config, workers=workers, per_gpu=per_gpu, echo=typer.echo, started=started)
    typer.echo(status_frame(exp).to_string(index=False))
    for line in stop_lines(exp):
        typer.echo(line)
    if evaluate_after:
        _print_verdict(exp, evaluate(exp, workers=workers, echo=typer.echo)[1])


def _print_verdict(exp: Any, verdict: Any) -> None:
    """The verdict, its warnings and notes (as the report shows them), and where the results are."""
    from workbench.study import write_results

    path = write_results(exp)
    typer.echo(f"\nVERDICT: {verdict.statement}")
    for note in verdict.notes:
        typer.echo(f"  {note}")
    typer.echo(f"results: {path}")


@command("worker")
def worker_command(
    experiment: Annotated[str, typer.Argument(help="The experiment's name in the storage.")],
    storage: Annotated[str, typer.Option(help="Storage URL, e.g. postgresql://user@host/db.")],
    worker_id: Annotated[int, typer.Option(help="Distinguishes workers' sampler seeds.")] = 0,
    threads: Annotated[int | None, typer.Option(help="CPU threads for this worker.")] = None,
    heartbeat: Annotated[
        int | None, typer.Option(help="Heartbeat interval (s) on RDB storages; default: the experiment's (10).")
    ] = None,
    grace: Annotated[
        int | None,
        typer.Option(help="Seconds without heartbeat before a trial is re-queued; default: the experiment's (60)."),
    ] = None,
) -> None:
    """Join an experiment from its storage alone and run trials until the budgets are used."""
    import os

    from workbench.study import open_experiment, run_worker

    with interface("config"):  # the data is read as the stored config says
        exp = open_experiment(experiment, storage, heartbeat_s=heartbeat, grace_s=grace, echo=typer.echo)
    run_worker(exp, worker_id=worker_id if worker_id else os.getpid(), threads=threads, echo=typer.echo)


@command("status")
def status_command(
    experiment: ExperimentArgument,
    storage: StorageOption = None,
    runs_dir: RunsDirOption = None,
) -> None:
    """A table of every family's progress against its budget."""
    from workbench.study import status_frame, validation_lines
    from workbench.study.status import stop_lines

    exp = _read(experiment, storage, runs_dir)
    typer.echo(status_frame(exp).to_string(index=False))
    typer.echo("\n".join(stop_lines(exp)))
    typer.echo("\n" + "\n".join(validation_lines(exp)))


@command("evaluate")
def evaluate_command(
    experiment: ExperimentArgument,
    storage: StorageOption = None,
    runs_dir: RunsDirOption = None,
    top_k: Annotated[int | None, typer.Option(help="Best configurations per family.")] = None,
    seeds: Annotated[int | None, typer.Option(help="Seeds (or folds) per configuration.")] = None,
    replicates: Annotated[
        Literal["folds", "seeds"] | None,
        typer.Option(help="After a k-fold study: score the best trial's fold models, or re-train over seeds."),
    ] = None,
) -> None:
    """Score the best configurations on the held-out test split over folds or seeds; print the verdict."""
    from workbench.study import evaluate

    with interface("config"):  # the data is read as the stored config says
        exp = _open(experiment, storage, runs_dir, echo=typer.echo)
    table_and_verdict = evaluate(
        exp, top_k=top_k, seeds=seeds, replicates=replicates, within_time_limit=False, echo=typer.echo
    )
    _print_verdict(exp, table_and_verdict[1])


def _url(experiment: str, storage: str | None, runs_dir: str | None) -> str:
    from workbench.config import default_storage_url

    return storage or default_storage_url(runs_dir or "runs", experiment)


def _open(experiment: str, storage: str | None, runs_dir: str | None, echo: Any = lambda _: None) -> Any:
    """To run or evaluate: the data is loaded and checked against the storage. Its files go to
    the run folder of that storage (``experiment.runs_dir_of``)."""
    from workbench.study import open_experiment

    return open_experiment(experiment, _url(experiment, storage, runs_dir), runs_dir=runs_dir, echo=echo)


def _read(experiment: str, storage: str | None, runs_dir: str | None) -> Any:
    """For status, report and dashboard: read-only, no data loaded, nothing written."""
    from workbench.study.experiment import read_experiment

    return read_experiment(experiment, _url(experiment, storage, runs_dir), runs_dir=runs_dir)


@command("report")
def report_command(
    experiments: Annotated[list[str], typer.Argument(help="The experiment, or several with --compare.")],
    compare: Annotated[bool, typer.Option(help="Rank families across the experiments' datasets.")] = False,
    storage: StorageOption = None,
    runs_dir: RunsDirOption = None,
    out: Annotated[str | None, typer.Option(help="Where to write the HTML file.")] = None,
) -> None:
    """Write a self-contained HTML report (runs/<experiment>/report.html), rebuilt from the storage."""
    from workbench.report.html import write_comparison, write_report

    if compare:
        if len(experiments) < 2:
            raise ConfigError("--compare needs at least two experiments.")
        exps = [_read(name, storage, runs_dir) for name in experiments]
        path = write_comparison(exps, out or Path(runs_dir or "runs") / "comparison.html")
    else:
        if len(experiments) != 1:
            raise ConfigError(f"report takes one experiment (got {len(experiments)}); add --compare to compare them.")
        path = write_report(_read(experiments[0], storage, runs_dir), out)
    typer.echo(f"report: {path.absolute()}")


@command("dashboard")
def dashboard_command(
    experiment: ExperimentArgument,
    storage: StorageOption = None,
    runs_dir: RunsDirOption = None,
    host: Annotated[
        str, typer.Option(help="Address to bind. Anything but loopback exposes an unauthenticated server.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8080,
) -> None:
    """Start optuna-dashboard on the experiment's storage (profile and verdict as study notes)."""
    from workbench.report.dashboard import serve

    serve(_read(experiment, storage, runs_dir), host=host, port=port, echo=typer.echo)


@command("demo")
def demo_command(
    config: Annotated[str | None, typer.Option(help="Experiment config (default: configs/demo.yaml).")] = None,
) -> None:
    """The main job: data and shapes, profile, studies, evaluation over seeds, verdict."""
    from workbench.demo import run_demo

    run_demo(config, echo=typer.echo)


def main() -> None:
    """Entry point: a WorkbenchError prints its message (with the fix), not a traceback."""
    try:
        code = invoke()
    finally:
        exit_at_once_from_now()  # a Ctrl-C while the interpreter shuts down ends it, without a traceback
    raise SystemExit(code)


def invoke(args: list[str] | None = None) -> int:
    """Run the command line (``args``, else ``sys.argv``) in this process and return its exit code:
    a user error prints one ``error:`` line with the fix and gives 2. A bug raises, with the
    traceback a report needs."""
    try:
        app(args=args, prog_name="workbench")
    except SystemExit as exc:  # typer ends every command this way
        return exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    except WorkbenchError as exc:
        typer.echo(f"error: {exc}", err=True)
        return 2
    except OSError as exc:
        typer.echo(f"error: {os_error_text(exc)}", err=True)
        return 2
    except Exception as exc:
        text = storage_error_text(exc)
        if text is None:
            raise  # a bug: its traceback is what a report needs
        typer.echo(f"error: {text}", err=True)
        return 2
    return 0


def storage_error_text(exc: Exception) -> str | None:
    """A failure of the storage in one line, with the fix; None for any other exception. Optuna
    reports a failed commit as "invalid data … exceeding max length", and its own clean-up after
    one as an AssertionError: the chain of causes says what happened (a full disk, a lost server,
    a file that cannot be written). A transaction that failed was rolled back: nothing stored is
    lost, so the same command resumes."""
    from workbench.study.storage import storage_cause, storage_lost, storage_problem_text

    cause = storage_cause(exc)
    if cause is None:
        return None
    text = storage_problem_text(cause)
    if "full" in text.lower() or "no space" in text.lower():
        return (
            "the disk holding the storage is full. Free some space and run the same command again: "
            f"every finished trial is stored. ({text})"
        )
    return str(storage_lost(cause, None))


def os_error_text(exc: OSError) -> str:
    """A file-system failure as the cause and the fix (read-only folder, full disk)."""
    import errno

    where = f" {exc.filename}" if exc.filename else ""
    if exc.errno == errno.ENOSPC:
        return (
            f"the disk is full{' at' + where if where else ''}. Free some space and run the same command again: "
            "the storage keeps every finished trial."
        )
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"cannot write{where}: {exc.strerror}. Choose a writable folder with --runs-dir or --out."
    return f"{exc.strerror or exc}{':' + where if where else ''}"


if __name__ == "__main__":
    main()
