from __future__ import annotations

import numpy as np
import pytest

import workbench as wb


def tiny(task: str) -> wb.Dataset:
    """Small datasets of each task, fast enough to train in a test."""
    if task == "binary":
        return wb.synthetic.ordered_motifs(48, 32, seed=1)
    if task == "multiclass":
        return wb.synthetic.ordered_motifs(48, 32, n_classes=3, seed=1)
    if task == "regression":
        base = wb.synthetic.ordered_motifs(48, 32, seed=1)
        return wb.from_array(base.X, base.X.std(axis=(1, 2)), layout="NCL")
    if task == "per_step":
        return wb.synthetic.per_step_labels(48, 32, seed=1)
    raise ValueError(task)


@pytest.fixture(params=["binary", "multiclass", "regression", "per_step"])
def task_dataset(request: pytest.FixtureRequest) -> wb.Dataset:
    return tiny(request.param)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)
