"""The ``workbench`` command line: one subcommand per public function."""

from __future__ import annotations

from typing import Annotated

import typer

from workbench.errors import WorkbenchError

app = typer.Typer(
    help="Model selection for 1D data: explicit layouts, order profiling, Conv1d vs MLP studies.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

LayoutOption = Annotated[str | None, typer.Option(help="Axes of an array file: NCL, NLC, NL, NF, CL or LC.")]
TargetOption = Annotated[str | None, typer.Option(help="Label column of a CSV/Parquet file.")]


@app.command("datasets")
def datasets_command() -> None:
    """List the built-in datasets (all offline) with task, shape and lengths."""
    from workbench.data import list_datasets

    typer.echo(list_datasets().to_string(index=False))


@app.command("info")
def info_command(
    source: Annotated[str, typer.Argument(help="A built-in dataset name or a file path.")],
    layout: LayoutOption = None,
    target: TargetOption = None,
) -> None:
    """Load a dataset, validate it and print its summary."""
    from workbench.data import load

    kwargs = {k: v for k, v in {"layout": layout, "target": target}.items() if v is not None}
    typer.echo(load(source, **kwargs).summary())


@app.command("profile")
def profile_command(
    source: Annotated[str, typer.Argument(help="A built-in dataset name or a file path.")],
    layout: LayoutOption = None,
    target: TargetOption = None,
    budget: Annotated[float, typer.Option(help="Seconds for the model-based order test.")] = 60.0,
    skip_model_test: Annotated[bool, typer.Option("--skip-model-test", help="Run only the model-free tests.")] = False,
    json_path: Annotated[
        str | None, typer.Option("--json", help="Also write the profile as JSON to this file.")
    ] = None,
) -> None:
    """Does feature order matter? Profile the data and recommend mlp, conv1d or hybrid."""
    from workbench.data import load
    from workbench.profiling import profile

    kwargs = {k: v for k, v in {"layout": layout, "target": target}.items() if v is not None}
    result = profile(load(source, **kwargs), budget_s=budget, model_test=not skip_model_test)
    typer.echo(result.summary())
    if json_path:
        result.to_json(json_path)
        typer.echo(f"profile written to {json_path}")


@app.command("demo")
def demo_command(
    dataset: Annotated[str, typer.Option(help="Built-in dataset to run on.")] = "GunPoint",
) -> None:
    """The main job: the furthest end-to-end path the workbench has."""
    from workbench.demo import run_demo

    run_demo(dataset, echo=typer.echo)


def main() -> None:
    """Entry point: a WorkbenchError prints its message (with the fix), not a traceback."""
    try:
        app()
    except WorkbenchError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise SystemExit(2) from exc


if __name__ == "__main__":
    main()
