"""Are the "samples" really independent, or consecutive time steps of one process?

If row ``i`` resembles row ``i + k`` (k up to ``MAX_LAG``) far more than a random
other row does, the rows are probably time steps: a random train/test split then
puts neighbours on both sides and leaks. Several lags, so that a signal with a
period of a few rows (ACSF1's readings: +1.00 at lag 4, negative at lags 1–3) counts
as well as a smooth one. Features are first centred per class, so a file merely
sorted by label (iris is) does not look like a time series.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from workbench.data.dataset import Dataset
from workbench.data.windowing import FADED, MEASURED_ROWS, dependence_length, standardised_rows, window_for

MIN_ROWS = 20
MAX_ROWS = MEASURED_ROWS  # the check reads the first rows, in file order
MAX_FEATURES = 256  # and a fixed random subset of the features
MAX_LAG = 8  # rows apart that the check compares


@dataclass
class SampleOrderCheck:
    statistic: float | None = None  # the strongest mean correlation between rows 1..MAX_LAG apart
    lag: int | None = None  # how many rows apart it is
    null: list[float] = field(default_factory=list)
    p_value: float | None = None
    dependent: bool = False
    inconclusive: str | None = None
    dependence_length: int | None = None  # rows until the correlation between rows fades (below 0.2)
    window: int | None = None  # a window size (rows) that covers that dependence, for workbench.windows


def _lag_correlations(gram: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Mean over features of the correlation between rows ``k`` apart in ``order``, for
    k = 1..MAX_LAG, from ``gram = z @ z.T / F`` of the standardised rows ``z (N, F)``: once the
    row products are known, each random order of the null costs O(N) (199 orders of 5,000 rows
    × 256 features took 2 s as products of the rows themselves)."""
    n = len(order)
    return np.array([gram[order[:-k], order[k:]].mean() for k in range(1, min(MAX_LAG, n - 1) + 1)])


def sample_order_check(ds: Dataset, *, n_permutations: int = 199, seed: int = 0) -> SampleOrderCheck:
    """Permutation test of dependence between consecutive rows, in the order given."""
    if ds.windowed:  # overlapping neighbours by design; every split already holds out later time
        return SampleOrderCheck(
            inconclusive="windows of a recording: neighbours overlap by design, and splits hold out later time"
        )
    if ds.n_samples < MIN_ROWS:
        return SampleOrderCheck(inconclusive=f"only {ds.n_samples} rows; the check needs {MIN_ROWS}")
    order = np.arange(ds.n_samples)
    if ds.is_test is not None:  # judge the rows in their file order within each part
        order = np.flatnonzero(~ds.is_test) if (~ds.is_test).sum() >= MIN_ROWS else order
    order = order[:MAX_ROWS]  # a contiguous block keeps consecutive rows consecutive
    length = int(ds.lengths.min())
    z = ds.X[order][:, :, :length].reshape(len(order), -1)
    if z.shape[1] > MAX_FEATURES:
        z = z[:, np.sort(np.random.default_rng(seed).choice(z.shape[1], MAX_FEATURES, replace=False))]
    z = standardised_rows(z, ds.y[order] if ds.task in ("binary", "multiclass") else None)
    gram = z @ z.T / z.shape[1]
    by_lag = _lag_correlations(gram, np.arange(len(z)))
    observed, lag = float(by_lag.max()), int(by_lag.argmax()) + 1
    rng = np.random.default_rng(seed)  # the null takes the same maximum over lags: the test stays exact
    null = np.array([_lag_correlations(gram, rng.permutation(len(z))).max() for _ in range(n_permutations)])
    p_value = (1 + int((null >= observed).sum())) / (1 + n_permutations)
    # Significant and large: a small but real dependence (e.g. slow drift) is not worth a warning.
    dependent = p_value < 0.01 and observed > FADED
    if not dependent:
        return SampleOrderCheck(statistic=observed, lag=lag, null=null.tolist(), p_value=p_value, dependent=False)
    reach = dependence_length(z)
    return SampleOrderCheck(
        statistic=observed,
        lag=lag,
        null=null.tolist(),
        p_value=p_value,
        dependent=True,
        dependence_length=reach,
        window=window_for(reach, len(z)),
    )
