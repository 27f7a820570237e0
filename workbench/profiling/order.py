"""Does feature order carry information? The model-free evidence, two views.

*Within each sequence* (:func:`autocorrelation_test`, the main evidence). Each
sequence's own autocorrelation at lags 1…K, averaged over samples and channels:
real series (smooth, spiky on/off, periodic, unaligned from sample to sample)
have neighbours that depend on each other inside every sequence, wherever their
patterns sit. The statistic is the sum over lags of the squared mean
autocorrelation, so an oscillation (negative at lag 1, positive at lag 4) counts
as much as smoothness. Its null distribution comes from fixed random
permutations of the positions (the same permutation for every sample), which is
exactly what "order does not matter" means.

*Across samples* (:func:`order_test`, the second view). For each pair of
positions ``(i, j)``, the absolute correlation across samples of
``X[:, c, i]`` and ``X[:, c, j]``: strong for aligned series (every sample's
pattern at the same positions), weak for unaligned ones.

Both views reduce the data to a position-by-position matrix once, so each random
order costs O(L) and a thousand of them cost milliseconds. Long sequences are
never thinned out (that would make neighbours several steps apart): the
within-sequence view cuts them into contiguous windows, and the across-sample
view averages consecutive blocks, which keeps neighbours adjacent.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import stats

from workbench.data.dataset import Dataset

MIN_SAMPLES = 10
MIN_POSITIONS = 4
MAX_POSITIONS = 512  # across samples: longer sequences are averaged in consecutive blocks down to this
MAX_WINDOW = 2048  # within sequences: longer sequences are cut into contiguous windows of this length
MAX_SAMPLES = 2000
# The model-free tests read at most this many values (64 MiB as float64: about a second on two
# cores), so that their cost is bounded whatever the shape: many samples are subsampled, many
# channels are a fixed random subset, and very long sequences a contiguous stretch of each.
MAX_VALUES = 2**23
MAX_CHANNELS = 64
MIN_SAMPLES_KEPT = 100  # samples kept before the sequences are cut shorter
MAX_LAGS = 10  # lags in the within-sequence statistic
SHOWN_LAGS = 64  # lags kept for the figure and the shape description


def common_length(ds: Dataset) -> int:
    """The length the order tests read: all of it, or for variable lengths their 25th percentile
    (three sequences in four are that long; the shorter ones are left out)."""
    return int(np.percentile(ds.lengths, 25)) if ds.variable_length else ds.max_length


def common_part(ds: Dataset, max_values: int = MAX_VALUES) -> np.ndarray:
    """``(N, C, L')`` float64 values on the first :func:`common_length` positions of the samples that
    have them, at most ``max_values`` of them: at most MAX_SAMPLES samples and MAX_CHANNELS
    channels (fixed random subsets), then, if still too many, fewer samples (not below
    MIN_SAMPLES_KEPT) and finally the first positions of each sequence, which keeps
    neighbours adjacent. Only the values kept are copied."""
    length = common_length(ds)
    rng = np.random.default_rng(0)
    samples = np.flatnonzero(ds.lengths >= length)
    channels = np.arange(ds.n_channels)
    if len(channels) > MAX_CHANNELS:
        channels = np.sort(rng.choice(channels, MAX_CHANNELS, replace=False))
    n = min(len(samples), MAX_SAMPLES, max(MIN_SAMPLES_KEPT, max_values // (len(channels) * length)))
    if n < len(samples):
        samples = np.sort(rng.choice(samples, n, replace=False))
    positions = np.arange(min(length, max(MIN_POSITIONS, max_values // (n * len(channels)))))
    return ds.X[np.ix_(samples, channels, positions)].astype(np.float64)


def _permutation_p(observed: float, null: np.ndarray) -> float:
    return (1 + int((null >= observed).sum())) / (1 + len(null))


# --------------------------------------------------------------------- within sequences
@dataclass
class AutocorrelationTest:
    """The within-sequence test's result; ``p_value`` is None when inconclusive."""

    statistic: float | None = None  # Σ over lags 1…K of the squared mean autocorrelation
    null: list[float] = field(default_factory=list)  # the same under random orders
    p_value: float | None = None
    effect_size: float | None = None  # (statistic − null mean) / null std
    lags: int = 0  # K
    acf: list[float] = field(default_factory=list)  # mean autocorrelation at lag 1, 2, … (up to SHOWN_LAGS)
    null_band: float | None = None  # |acf| a random order reaches (97.5th percentile of its lag-1 value)
    shape: str | None = None  # "smooth", "periodic", "oscillating" or "flat"
    reach: int | None = None  # first lag where |acf| falls inside the null band
    period: int | None = None  # the lag of a repeat, for periodic shapes
    n_permutations: int = 0
    positions_used: int = 0
    windows: int = 1  # contiguous windows each sequence was cut into
    inconclusive: str | None = None

    @property
    def significant(self) -> bool:
        return self.p_value is not None and self.p_value < 0.01


def _standardised_windows(x: np.ndarray) -> np.ndarray:
    """``(M, W)``: each sequence (and channel) cut into contiguous windows, each centred and scaled
    by its own spread, so that levels and amplitudes that differ between samples do not count."""
    n, c, length = x.shape
    width = min(length, MAX_WINDOW)
    count = length // width
    z = x[:, :, : count * width].reshape(n * c * count, width)
    z = z - z.mean(axis=1, keepdims=True)
    spread = z.std(axis=1, keepdims=True)
    return np.where(spread > 0, z / np.where(spread > 0, spread, 1.0), 0.0)


def _acf(gram: np.ndarray, order: np.ndarray, lags: int) -> np.ndarray:
    """Mean autocorrelation at lags 1…``lags`` of the sequences read in ``order``, from their
    mean outer product ``gram`` (trace 1)."""
    length = len(order)
    return np.array([gram[order[:-k], order[k:]].sum() * length / (length - k) for k in range(1, lags + 1)])


def _shape(acf: np.ndarray, band: float) -> tuple[str, int | None, int | None]:
    """Name the dependence's shape: where it falls inside the band, and whether it comes back."""
    if not len(acf) or np.all(np.abs(acf) <= band):
        return "flat", None, None
    inside = np.flatnonzero(np.abs(acf) <= band)
    reach = int(inside[0]) + 1 if len(inside) else len(acf)
    # A repeat: after a dip, a local maximum well above the dip and clearly positive. The last lag
    # counts when it is still rising: a daily curve of 24 hours comes back at its very end.
    for lag in range(2, len(acf) + 1):
        peak, after = acf[lag - 1], (acf[lag] if lag < len(acf) else -np.inf)
        if peak > max(acf[lag - 2], after) and peak > 0.3 and peak - acf[: lag - 1].min() > 0.3:
            return ("periodic" if acf[0] > 0 else "oscillating"), reach, lag
    return ("smooth" if acf[0] > 0 else "oscillating"), reach, None


def autocorrelation_test(
    ds: Dataset, *, n_permutations: int = 999, seed: int = 0, max_values: int = MAX_VALUES
) -> AutocorrelationTest:
    """Permutation test of each sequence's own dependence between nearby positions."""
    if ds.n_samples < MIN_SAMPLES:
        return AutocorrelationTest(inconclusive=f"only {ds.n_samples} samples; the test needs at least {MIN_SAMPLES}")
    x = common_part(ds, max_values)
    length = x.shape[2]
    if length < MIN_POSITIONS:
        return AutocorrelationTest(inconclusive=f"only {length} positions; the test needs at least {MIN_POSITIONS}")
    z = _standardised_windows(x)
    width = z.shape[1]
    gram = z.T @ z / (z.shape[0] * width)
    lags = max(1, min(MAX_LAGS, (width - 1) // 2))
    shown = _acf(gram, np.arange(width), min(SHOWN_LAGS, width - 1))
    observed = float((shown[:lags] ** 2).sum())
    rng = np.random.default_rng(seed)
    null_acf = np.array([_acf(gram, rng.permutation(width), lags) for _ in range(n_permutations)])
    null = (null_acf**2).sum(axis=1)
    spread = float(null.std())
    band = float(np.percentile(np.abs(null_acf[:, 0]), 97.5))
    shape, reach, period = _shape(shown, band)
    return AutocorrelationTest(
        statistic=observed,
        null=null.tolist(),
        p_value=_permutation_p(observed, null),
        effect_size=(observed - float(null.mean())) / spread if spread > 0 else 0.0,
        lags=lags,
        acf=shown.round(4).tolist(),
        null_band=band,
        shape=shape,
        reach=reach,
        period=period,
        n_permutations=n_permutations,
        positions_used=width,
        windows=length // width,
    )


# --------------------------------------------------------------------- across samples
@dataclass
class OrderTest:
    """The across-sample test's result; ``p_value`` is None when inconclusive."""

    statistic: float | None = None
    null: list[float] = field(default_factory=list)  # the permutation distribution
    p_value: float | None = None
    effect_size: float | None = None  # (statistic − null mean) / null std
    by_distance: list[float] = field(default_factory=list)  # mean |corr| at distance 1, 2, … (in blocks)
    null_level: float | None = None  # mean |corr| of random pairs
    correlation_length: int | None = None  # the distance where dependence falls to the null level
    decays: bool | None = None  # dependence falls with distance, as in a real series
    n_permutations: int = 0
    positions_used: int = 0
    block: int = 1  # positions averaged into one (long sequences)
    inconclusive: str | None = None

    @property
    def significant(self) -> bool:
        return self.p_value is not None and self.p_value < 0.01


def _block_averages(x: np.ndarray) -> np.ndarray:
    """At most MAX_POSITIONS positions: means of consecutive blocks, so neighbours stay adjacent."""
    length = x.shape[2]
    if length <= MAX_POSITIONS:
        return x
    block = -(-length // MAX_POSITIONS)
    count = length // block
    return x[:, :, : count * block].reshape(x.shape[0], x.shape[1], count, block).mean(axis=3)


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


def order_test(
    ds: Dataset, *, n_permutations: int = 999, seed: int = 0, max_distance: int = 64, max_values: int = MAX_VALUES
) -> OrderTest:
    """Permutation test of neighbour dependence across samples (aligned patterns)."""
    if ds.n_samples < MIN_SAMPLES:
        return OrderTest(inconclusive=f"only {ds.n_samples} samples; the test needs at least {MIN_SAMPLES}")
    full = common_part(ds, max_values)
    x = _block_averages(full)
    n, _, length = x.shape
    block = full.shape[2] // length
    if length < MIN_POSITIONS:
        return OrderTest(inconclusive=f"only {length} positions; the test needs at least {MIN_POSITIONS}")
    if n < MIN_SAMPLES:
        return OrderTest(inconclusive=f"only {n} sequences share a common length; the test needs {MIN_SAMPLES}")
    corr = _abs_correlations(x)
    observed = _neighbour_dependence(corr, np.arange(length))
    rng = np.random.default_rng(seed)
    null = np.array([_neighbour_dependence(corr, rng.permutation(length)) for _ in range(n_permutations)])
    p_value = _permutation_p(observed, null)
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
        correlation_length=correlation_length * block,
        decays=decays,
        n_permutations=n_permutations,
        positions_used=length,
        block=block,
    )
