"""The stored, evaluated experiment the report, dashboard and JupyterLab tests read."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from workbench.config import make_config
from workbench.study import Experiment, evaluate, run_study

HOSTILE = "<script>alert('pwned')</script>"


def _experiment(
    folder: Path, name: str, *, seed: int, families: list[str], baselines: tuple[str, ...] = ("linear",)
) -> Experiment:
    """A small stored, evaluated experiment on a table whose first column name is hostile HTML."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(80, 6))
    y = (X[:, 0] + X[:, 1] * X[:, 2] > 0).astype(int)
    frame = pd.DataFrame(X, columns=[HOSTILE, "b", "c", "d", "e", "f"]).assign(label=y)
    path = folder / f"{name}.csv"
    frame.to_csv(path, index=False)
    config = make_config(
        {
            "name": name,
            "data": str(path),
            "layout": "NF",
            "target": "label",
            "families": families,
            "baselines": list(baselines),
            "budget": {"trials": 3},
            "max_epochs": 5,
            "min_steps": 0,
            "patience": None,
            "runs_dir": str(folder / "runs"),
            "profile_budget_s": 0,
            "validation": {"strategy": "kfold", "folds": 3, "repeats": 1},
            "evaluation": {"top_k": 1, "seeds": 2},
            "seed": seed,
        }
    )
    exp = run_study(config, echo=lambda _: None)
    evaluate(exp, echo=lambda _: None)
    return exp


@pytest.fixture(scope="session")
def stored(tmp_path_factory: pytest.TempPathFactory) -> Experiment:
    return _experiment(tmp_path_factory.mktemp("report"), "tables", seed=0, families=["mlp", "conv1d"])
