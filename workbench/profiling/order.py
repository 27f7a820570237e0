"""Does feature order carry information? Two tests, one model-free and one model-based.

*Model-free.* For each pair of positions ``(i, j)`` along L, the absolute
correlation across samples of ``X[:, c, i]`` and ``X[:, c, j]``. If the order is
real, neighbours (``|i − j| = 1``) depend on each other more than random pairs
do. The statistic is the mean neighbour dependence; its null distribution comes
from random permutations of the positions (the same permutation for every
sample), which is exactly what "order does not matter" means. The dependence by
distance gives the correlation length, a hint for kernel sizes.

*Model-based.* A small Conv1d trained on the original order versus the same
model on fixed random permutations of the positions, over several seeds. If
convolution can exploit the order, the original order scores higher; a paired
test across seeds says whether the gain is real.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import stats

from workbench.data.dataset import Dataset

MIN_SAMPLES = 10
MIN_POSITIONS = 4
MAX_POSITIONS = 512  # longer sequences are subsampled to this many evenly spaced positions
MAX_SAMPLES = 2000


@dataclass
class OrderTest:
    """The model-free test's result; ``p_value`` is None when inconclusive."""

    statistic: float | None = None
    null: list[float] = field(default_factory=list)  # the permutation distribution
    p_value: float | None = None
    effect_size: float | None = None  # (statistic − null mean) / null std
    by_distance: list[float] = field(default_factory=list)  # mean |corr| at distance 1, 2, …
    null_level: float | None = None  # mean |corr| of random pairs
    correlation_length: int | None = None  # the distance where dependence falls to the null level
    decays: bool | None = None  # dependence falls with distance, as in a real series
    n_permutations: int = 0
    positions_used: int = 0
    inconclusive: str | None = None

    @property
    def significant(self) -> bool:
        return self.p_value is not None and self.p_value < 0.01


def _position_matrix(ds: Dataset) -> np.ndarray:
    """``(N, C, L')`` values on positions every sample has (variable lengths cut to the shortest
    common part) and at most MAX_POSITIONS evenly spaced positions."""
    length = int(np.percentile(ds.lengths, 25)) if ds.variable_length else ds.max_length
    keep = ds.lengths >= length
    x = ds.X[keep, :, :length]
    if x.shape[0] > MAX_SAMPLES:
        x = x[np.random.default_rng(0).choice(x.shape[0], MAX_SAMPLES, replace=False)]
    if length > MAX_POSITIONS:
        x = x[:, :, np.linspace(0, length - 1, MAX_POSITIONS).round().astype(int)]
    return x


def _abs_correlations(x: np.ndarray) -> np.ndarray:
    """``(C, L, L)`` absolute correlations between positions, across samples."""
    n = x.shape[0]
    centred = x - x.mean(axis=0, keepdims=True)
    std = centred.std(axis=0)  # (C, L)
    cov = np.einsum("ncl,nck->clk", centred, centred) / n
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = cov / (std[:, :, None] * std[:, None, :])
    corr = np.nan_to_num(corr, nan=0.0)  # constant positions depend on nothing
    return np.abs(corr)


def _neighbour_dependence(corr: np.ndarray, order: np.ndarray) -> float:
    """Mean |corr| between consecutive positions of ``order``, averaged over channels."""
    return float(corr[:, order[:-1], order[1:]].mean())


def order_test(ds: Dataset, *, n_permutations: int = 999, seed: int = 0, max_distance: int = 64) -> OrderTest:
    """The model-free permutation test of neighbour dependence along L."""
    if ds.n_samples < MIN_SAMPLES:
        return OrderTest(inconclusive=f"only {ds.n_samples} samples; the test needs at least {MIN_SAMPLES}")
    x = _position_matrix(ds)
    n, _, length = x.shape
    if length < MIN_POSITIONS:
        return OrderTest(inconclusive=f"only {length} positions; the test needs at least {MIN_POSITIONS}")
    if n < MIN_SAMPLES:
        return OrderTest(inconclusive=f"only {n} sequences share a common length; the test needs {MIN_SAMPLES}")
    corr = _abs_correlations(x)
    observed = _neighbour_dependence(corr, np.arange(length))
    rng = np.random.default_rng(seed)
    null = np.array([_neighbour_dependence(corr, rng.permutation(length)) for _ in range(n_permutations)])
    p_value = (1 + int((null >= observed).sum())) / (1 + n_permutations)
    spread = float(null.std())
    effect = (observed - float(null.mean())) / spread if spread > 0 else 0.0
    off_diagonal = corr[:, ~np.eye(length, dtype=bool)]
    null_level = float(off_diagonal.mean())
    distances = range(1, min(max_distance, length - 1) + 1)
    by_distance = [float(np.mean([np.diagonal(corr[c], d).mean() for c in range(corr.shape[0])])) for d in distances]
    threshold = null_level + 2 * float(off_diagonal.std()) / np.sqrt(max(1, length - 1))
    below = [d for d, v in zip(distances, by_distance, strict=True) if v <= threshold]
    correlation_length = below[0] if below else len(by_distance)
    # A real series' dependence is highest next door and falls off with distance; grouped tables
    # (mean/error/worst of one measurement, 10 columns apart) peak far from the diagonal instead.
    window = by_distance[: max(3, min(len(by_distance), 2 * correlation_length))]
    decays = by_distance[0] >= max(by_distance) - 1e-9 and (
        len(window) < 3 or float(stats.spearmanr(range(len(window)), window).statistic) < 0
    )
    return OrderTest(
        statistic=observed,
        null=null.tolist(),
        p_value=p_value,
        effect_size=effect,
        by_distance=by_distance,
        null_level=null_level,
        correlation_length=correlation_length,
        decays=decays,
        n_permutations=n_permutations,
        positions_used=length,
    )


@dataclass
class ModelOrderTest:
    """Conv1d on the original order vs on fixed random permutations, paired by seed."""

    metric: str = ""
    original: list[float] = field(default_factory=list)  # one score per seed
    permuted: list[list[float]] = field(default_factory=list)  # per seed, one score per permutation
    gain: float | None = None  # mean over seeds of original − mean(permuted)
    p_value: float | None = None  # one-sided paired t-test across seeds
    seconds: float = 0.0
    epochs: int = 0
    skipped: str | None = None
    inconclusive: str | None = None

    @property
    def significant(self) -> bool:
        return self.p_value is not None and self.p_value < 0.05 and (self.gain or 0.0) > 0.0


MODEL_TEST_PARAMS: dict[str, Any] = {
    "channels": 32,
    "depth": 2,
    "dropout": 0.1,
    "pooling": "avgmax",  # max pooling finds a local shape wherever it is; avg keeps the level
    "lr": 3e-3,
    "batch_size": 16,
}
# The paired test compares validation loss, a proper scoring rule: on the small validation
# folds of small datasets, accuracy moves in steps of 1/15 and hides real gains.
MODEL_TEST_METRIC = "loss"


def model_order_test(
    ds: Dataset,
    *,
    budget_s: float = 60.0,
    seeds: int = 10,
    permutations: int = 2,
    epochs: int = 60,
    seed: int = 0,
    reach: int | None = None,
) -> ModelOrderTest:
    """Train a small Conv1d on the original and on permuted positions, seed by seed.

    ``reach`` (the model-free correlation length) sizes the kernel: a kernel that
    spans the dependence can see the local shapes the order creates.

    Stops starting new seeds when ``budget_s`` is spent; with fewer than three
    finished seeds the paired test is inconclusive rather than guessed.
    """
    from workbench.models.system import MAXIMIZE
    from workbench.models.train import fit

    metric = MODEL_TEST_METRIC
    result = ModelOrderTest(metric=metric, epochs=epochs)
    if ds.variable_length:
        result.skipped = "variable-length sequences cannot share one permutation of positions"
        return result
    if ds.max_length < MIN_POSITIONS:
        result.inconclusive = f"only {ds.max_length} positions"
        return result
    train = ds.official_split()[0] if ds.has_official_split else ds
    if train.n_samples < 2 * MIN_SAMPLES:
        result.inconclusive = f"only {train.n_samples} training samples; the test needs {2 * MIN_SAMPLES}"
        return result
    if train.n_samples > MAX_SAMPLES:
        train = train.subset(np.random.default_rng(seed).choice(train.n_samples, MAX_SAMPLES, replace=False))
    kernel = int(min(15, max(5, reach or 7)) | 1)
    params = {**MODEL_TEST_PARAMS, "kernel_size": min(kernel, train.max_length)}
    rng = np.random.default_rng(seed)
    perms = [rng.permutation(train.max_length) for _ in range(permutations)]
    sign = 1.0 if MAXIMIZE[metric] else -1.0
    start = time.perf_counter()
    for s in range(seeds):
        elapsed = time.perf_counter() - start
        per_seed = elapsed / s if s else 0.0
        if elapsed + per_seed > budget_s:  # do not start a seed that would end past the budget
            break
        fit_part, val = train.split(0.3, seed=seed + s)

        def score(a: Dataset, b: Dataset, s: int = s) -> float:
            r = fit(a, "conv1d", params, validation=b, max_epochs=epochs, patience=None, seed=seed + s, metric=metric)
            return float(r.metrics.get(f"val_{metric}", np.nan))

        result.original.append(score(fit_part, val))
        result.permuted.append([score(fit_part.permute_positions(p), val.permute_positions(p)) for p in perms])
    result.seconds = time.perf_counter() - start
    if len(result.original) < 3:
        result.inconclusive = (
            f"the time budget ({budget_s:.0f} s) allowed {len(result.original)} seed(s); the paired test needs 3"
        )
        return result
    diffs = sign * (np.array(result.original) - np.array([np.mean(p) for p in result.permuted]))
    result.gain = float(diffs.mean())
    if np.allclose(diffs, diffs[0]):
        # No spread, so no t-test: the exact one-sided sign test is what the data support.
        result.p_value = 0.5 ** len(diffs) if diffs[0] > 0 else 1.0
    else:
        result.p_value = float(stats.ttest_1samp(diffs, 0.0, alternative="greater").pvalue)
    return result
