"""The main job behind ``make demo`` / ``workbench demo``.

Today it runs the furthest end-to-end path that exists: load a built-in real
dataset, print its summary, run the shape doctor on the mistakes people make
with Conv1d, and train each model family once, scored on the held-out test split.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from torch import nn

from workbench.data import explain_shape, from_array, load
from workbench.models import FAMILIES, fit


def run_demo(dataset: str = "GunPoint", echo: Callable[[str], object] = print, epochs: int = 150) -> None:
    ds = load(dataset)
    echo("== 1. Data: one validated, channels-first dataset")
    echo(ds.summary())
    train, test = ds.official_split() if ds.has_official_split else ds.split(0.25, seed=0)
    fit_part, val = train.split(0.25, seed=0)
    echo(
        f"   splits: {fit_part.n_samples} fit / {val.n_samples} validation / {test.n_samples} test (seeded, stratified)"
    )

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

    echo(f"\n== 5. One configuration of each family on {ds.name} (validation from the train split, test held out)")
    for family in FAMILIES:
        result = fit(ds, family, {"lr": 3e-3, "batch_size": 16}, max_epochs=epochs, patience=epochs // 3, seed=0)
        metric = result.metric
        echo(
            f"   {family:<7} val {metric} {result.metrics[f'val_{metric}']:.3f}  "
            f"test {metric} {result.metrics.get(f'test_{metric}', float('nan')):.3f}  "
            f"{result.epochs_run} epochs ({result.stop_reason}), {result.wall_time_s:.1f} s"
        )
