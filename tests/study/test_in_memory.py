"""Studies of data in memory, with a test split of one's own (issue 37): each test failed before
("'Dataset' object has no attribute 'data'", "data: Input should be a valid string")."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import workbench as wb
from workbench.config import make_config
from workbench.errors import ConfigError
from workbench.study import evaluate, open_experiment, run_study

SMALL: dict[str, Any] = {
    "families": ["mlp"],
    "baselines": [],
    "budget": {"trials": 1},
    "max_epochs": 2,
    "min_steps": 0,
    "patience": None,
    "profile_budget_s": 0,
    "validation": {"strategy": "holdout"},
    "evaluation": {"top_k": 1, "seeds": 2},
}


def quiet(_: object) -> None:
    pass


def _arrays(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    ds = wb.synthetic.ordered_motifs(n, 24, seed=seed)
    return ds.X, ds.y


def test_a_dataset_in_memory_is_studied_with_its_own_test_split(tmp_path: Path) -> None:
    X, y = _arrays(60, 0)
    X_test, y_test = _arrays(20, 1)  # "collected later": the study must score exactly these
    ds = wb.from_array(X, y, layout="NCL")
    runs = tmp_path / "runs"
    exp = run_study(ds, test=(X_test, y_test), name="mine", runs_dir=str(runs), echo=quiet, **SMALL)
    assert exp.config.data == str(runs / "mine" / "source") and exp.config.test_data is None
    assert exp.data.test.n_samples == 20 and exp.data.train.n_samples == 60
    np.testing.assert_allclose(exp.data.test.X, X_test.astype(np.float32))
    _, verdict = evaluate(exp, echo=quiet)
    assert verdict.families and verdict.families[0].family == "mlp"
    reopened = open_experiment("mine", exp.config.storage_url, echo=quiet)  # a worker, a resume, evaluate
    assert reopened.data.fingerprint == exp.data.fingerprint and reopened.data.test.n_samples == 20


def test_the_same_data_again_resumes_and_other_data_under_its_name_is_refused(tmp_path: Path) -> None:
    runs = str(tmp_path / "runs")
    X, y = _arrays(40, 0)
    first = make_config({"name": "mine", "data": (X, y), "layout": "NCL", "runs_dir": runs})
    again = make_config({"name": "mine", "data": (X, y), "layout": "NCL", "runs_dir": runs})
    assert first.data == again.data
    X2, y2 = _arrays(40, 5)
    with pytest.raises(ConfigError, match=r"Experiment 'mine' holds other data .*name='mine-2'"):
        make_config({"name": "mine", "data": (X2, y2), "layout": "NCL", "runs_dir": runs})


def test_a_dataframe_in_memory_makes_a_config(tmp_path: Path) -> None:
    X, y = _arrays(40, 0)
    frame = pd.DataFrame(X[:, 0], columns=[f"f{i}" for i in range(24)]).assign(label=y)
    config = make_config({"name": "table", "data": frame, "target": "label", "runs_dir": str(tmp_path)})
    stored = wb.load(config.data)
    assert stored.n_samples == 40 and stored.order == "unknown"  # a wide frame: unordered features
