"""How much a shuffled split of windows overstates a model's score.

Overlapping windows of neighbouring steps are near copies. Split at random, each test
window has a near twin in training, and a model that memorises (1-nearest-neighbour, the
purest case) looks far better than it is. Split by time (later windows held out, after
a gap), it faces what it would in use. The difference is the leak.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from workbench.data.dataset import Dataset
from workbench.data.splits import split_indices
from workbench.errors import DataError


@dataclass(frozen=True)
class SplitLeak:
    metric: str  # bal_acc (classes) or r2 (regression)
    shuffled: float  # score on a random (stratified) split of the windows
    time_ordered: float  # score on the split the workbench uses: later time, after a gap

    @property
    def inflation(self) -> float:
        return self.shuffled - self.time_ordered

    def summary(self) -> str:
        return (
            f"1-nearest-neighbour {self.metric}: {self.shuffled:.3f} on a shuffled split of the windows, "
            f"{self.time_ordered:.3f} on the time-ordered split; the shuffled split overstates it by "
            f"{self.inflation:+.3f}."
        )


def split_leak(ds: Dataset, *, fraction: float = 0.25, seed: int = 0) -> SplitLeak:
    """Score a 1-nearest-neighbour model on a shuffled split and on the time-ordered split of
    windowed data (:func:`workbench.windows`)."""
    if not ds.windowed:
        raise DataError(f"{ds.name!r} is not windowed: split_leak compares splits of windows (workbench.windows).")
    if ds.task == "per_step":
        raise DataError("split_leak scores one label per window; use label='last' or 'majority' for this check.")
    shuffled = dataclasses.replace(ds, starts=None, groups=None)  # what a split that ignores time does
    scores = [_score(ds, *split_indices(split, fraction, seed=seed)) for split in (shuffled, ds)]
    return SplitLeak("r2" if ds.task == "regression" else "bal_acc", *scores)


def _score(ds: Dataset, train: np.ndarray, test: np.ndarray) -> float:
    from sklearn.metrics import balanced_accuracy_score, r2_score  # imported when used, as in probe.py
    from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor

    flat = ds.flat()
    model = KNeighborsRegressor(1) if ds.task == "regression" else KNeighborsClassifier(1)
    predicted = model.fit(flat[train], ds.y[train]).predict(flat[test])
    score = r2_score if ds.task == "regression" else balanced_accuracy_score
    return float(score(ds.y[test], predicted))
