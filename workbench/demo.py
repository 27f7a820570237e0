"""The main job behind ``make demo`` / ``workbench demo``.

Load a built-in real dataset, show its layout and the shape doctor on the
mistakes people make with Conv1d, then run the experiment of ``configs/demo.yaml``:
profile, one study per family and baseline with equal budgets (SQLite storage in
``runs/demo/``), the re-training over seeds on the held-out test split, the verdict,
and the self-contained HTML report.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from torch import nn

from workbench.config import config_from_yaml, load_config, packaged_config_text
from workbench.data import explain_shape, from_array, load
from workbench.report.html import write_report
from workbench.study import evaluate, run_study, status_frame, validation_lines, write_results


def run_demo(config_path: str | Path | None = None, echo: Callable[[str], object] = print) -> None:
    """``config_path`` defaults to the demo config shipped in the package (configs/demo.yaml)."""
    if config_path is None:
        config = config_from_yaml(packaged_config_text("demo.yaml"), "demo.yaml")
    else:
        config = load_config(config_path)
    ds = load(config.data, **config.load_options())
    echo("== 1. Data: one validated, channels-first dataset")
    echo(ds.summary())
    train, test = ds.official_split() if ds.has_official_split else ds.split(0.25, seed=0)
    echo(f"   splits: {train.n_samples} train (validated by folds, see step 5) / {test.n_samples} test, kept apart")

    c = ds.n_channels
    conv = nn.Sequential(
        nn.Conv1d(c, 16, kernel_size=5, padding="same"),
        nn.BatchNorm1d(16),
        nn.ReLU(),
        nn.AdaptiveAvgPool1d(1),
        nn.Flatten(),
        nn.Linear(16, max(ds.n_classes, 1)),
    )
    echo("\n== 2. Shape doctor: a Conv1d model on a batch of 8 in canonical (N, C, L)")
    echo(str(explain_shape(conv, ds.X[:8])))

    echo("\n== 3. The same batch channels-last (N, L, C), as Keras stores it")
    echo(str(explain_shape(conv, ds.X[:8].transpose(0, 2, 1))))

    echo("\n== 4. A (128, 64) table fed to Conv1d(in_channels=64)")
    table = np.random.default_rng(0).normal(size=(128, 64)).astype(np.float32)
    echo(str(explain_shape(nn.Conv1d(64, 32, kernel_size=3), table)))
    tab = from_array(table, np.arange(128) % 2, layout="NF", name="table_128x64")
    echo("   loaded with layout='NF' instead:")
    echo(tab.summary())

    echo(f"\n== 5. The study: {', '.join(config.all_families)} on {config.data}, {config.budget.trials} trials each")
    exp = run_study(config, workers="auto", echo=echo)
    echo(status_frame(exp).to_string(index=False))
    echo("\n".join(validation_lines(exp)))
    echo(f"\n== 6. The verdict: top configuration of each family × {config.evaluation.seeds} seeds on the test split")
    _, verdict = evaluate(exp, workers="auto", echo=echo)
    path = write_results(exp)
    report = write_report(exp)
    echo(f"\nVERDICT: {verdict.statement}")
    for note in verdict.notes:
        echo(f"   {note}")
    echo(f"report: {report.absolute()}  (self-contained HTML; `workbench dashboard {config.name}` for the live view)")
    echo(f"results: {path}  (rerun to resume; `workbench status {config.name}` shows progress)")
