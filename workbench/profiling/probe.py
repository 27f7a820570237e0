"""Does an order-aware model beat order-invariant ones, and does its edge vanish when the order goes?

The probe is fast, strong and deterministic: random convolutional kernel features
in the manner of MiniRocket (Dempster et al., 2021: the 84 kernels of length 9
with weights −1 and 2, exponentially spaced dilations, biases from quantiles of
the data's own convolution outputs, and the proportion of positive values as the
pooled feature), read by a ridge head. It has no training loop to under-run and
no compilation step, and its cost is predictable, so the profile can size it to
its budget before starting.

It is scored by repeated k-fold cross-validation of the training split, on the
original order and on fixed random permutations of the positions, beside an
order-invariant reference: the same ridge head on the raw features, whose score
no permutation of positions changes. Differences are paired by fold and tested
with the corrected resampled t-test of Nadeau and Bengio (2003), because folds
share training samples and a plain paired test over them is overconfident.

A probe that cannot beat chance on the original order has not learned the data,
and then the test says so instead of concluding anything.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from scipy import stats

from workbench.data.dataset import Dataset
from workbench.interrupt import safe_point
from workbench.profiling.order import MIN_POSITIONS, MIN_SAMPLES

KERNEL_LENGTH = 9
# MiniRocket's 84 kernels: weight 2 on three of the nine taps and −1 elsewhere, so every kernel sums to zero.
BASE_KERNELS = np.array(
    [[2.0 if i in taps else -1.0 for i in range(KERNEL_LENGTH)] for taps in itertools.combinations(range(9), 3)],
    dtype=np.float32,
)
N_FEATURES = 2000  # about MiniRocket's tenth: enough for small data, 5× cheaper
MAX_DILATIONS = 16
FOLDS = 5
REPEATS = 2
PERMUTATIONS = 3
MAX_PROBE_SAMPLES = 500  # stratified; enough for the paired tests, and it keeps large data cheap
# Very long or very wide data is read as at most this many channels (a fixed random subset) and
# positions (means of consecutive blocks, which keep neighbours adjacent): the features of one
# sample of 200,000 steps took seconds, and the sizing pass alone overran a 5 s budget.
MAX_PROBE_CHANNELS = 32
MAX_PROBE_POSITIONS = 2048
ALPHAS = np.logspace(-3, 3, 10)
ALPHA = 0.05


@dataclass
class ModelOrderTest:
    """The model-based test: the probe on the original vs shuffled orders, beside an order-invariant
    reference, fold by fold. Scores are cross-validated ``metric`` values (higher is better)."""

    metric: str = ""
    original: list[float] = field(default_factory=list)  # one score per fold
    permuted: list[list[float]] = field(default_factory=list)  # per fold, one score per permutation
    gain: float | None = None  # mean of original − mean(permuted): what shuffling the order costs the probe
    p_value: float | None = None  # one-sided corrected t-test of the gain
    seconds: float = 0.0
    epochs: int = 0  # stored profiles from the earlier Conv1d probe; 0 for this probe
    skipped: str | None = None
    inconclusive: str | None = None
    probe: str = ""  # what the order-aware probe was
    reference_name: str = ""  # what the order-invariant reference was
    reference: list[float] = field(default_factory=list)  # one score per fold
    advantage: float | None = None  # mean of original − reference: the probe's edge over order-invariant
    advantage_p: float | None = None  # one-sided corrected t-test of the advantage
    chance: float | None = None  # the score of guessing
    samples_used: int = 0
    positions_used: int = 0

    @property
    def significant(self) -> bool:
        """Shuffling the order costs the probe a real amount."""
        return self.p_value is not None and self.p_value < ALPHA and (self.gain or 0.0) > 0.0

    @property
    def beats_reference(self) -> bool:
        """The order-aware probe beats the order-invariant reference on the original order."""
        return self.advantage_p is not None and self.advantage_p < ALPHA and (self.advantage or 0.0) > 0.0


def corrected_t_test(differences: np.ndarray, test_fraction: float) -> float:
    """One-sided p-value that the mean difference over cross-validation folds is above zero.

    Nadeau & Bengio's correction inflates the variance by ``n_test / n_train`` for
    the overlap between folds' training sets.
    """
    d = np.asarray(differences, dtype=np.float64)
    if np.allclose(d, d[0]):
        return 0.5 ** len(d) if d[0] > 0 else 1.0  # no spread: the exact sign test is what the data support
    variance = (1.0 / len(d) + test_fraction / (1.0 - test_fraction)) * d.var(ddof=1)
    t = float(d.mean() / np.sqrt(variance))
    return float(stats.t.sf(t, df=len(d) - 1))


# ------------------------------------------------------------------------ the features
def _dilations(length: int) -> np.ndarray:
    largest = max(1.0, (length - 1) / (KERNEL_LENGTH - 1))
    return np.unique(np.floor(np.logspace(0, np.log2(largest), MAX_DILATIONS, base=2)).astype(int))


def random_kernel_features(x: np.ndarray, *, seed: int = 0, n_features: int = N_FEATURES) -> np.ndarray:
    """``(N, F)`` MiniRocket-style features of ``x (N, C, L)``: for each kernel and dilation, the
    proportion of positions where the convolution exceeds each of a few biases. The kernels,
    channel subsets and bias quantiles depend on ``seed`` only; the biases come from convolving
    one example per dilation, so the same ``x`` and seed always give the same features."""
    rng = np.random.default_rng(seed)
    n, channels, length = x.shape
    if length < KERNEL_LENGTH:  # zero-padded at the end to one kernel's length, so short sequences convolve too
        x = np.pad(x, ((0, 0), (0, 0), (0, KERNEL_LENGTH - length)))
        length = KERNEL_LENGTH
    dilations = _dilations(length)
    n_kernels = len(BASE_KERNELS)
    per_kernel = max(1, n_features // (n_kernels * len(dilations)))
    # Each kernel reads a random subset of channels and sums them, as MiniRocket does.
    keep = np.zeros((n_kernels, channels), dtype=np.float32)
    for k in range(n_kernels):
        keep[k, rng.choice(channels, rng.integers(1, min(channels, 3) + 1), replace=False)] = 1.0
    weights = torch.from_numpy(BASE_KERNELS[:, None, :] * keep[:, :, None])
    fractions = (np.arange(1, per_kernel * n_kernels * len(dilations) + 1) * 0.6180339887) % 1.0
    fractions = fractions.reshape(len(dilations), n_kernels, per_kernel)
    data = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
    chunk = max(1, int(2e7 // (n_kernels * length * per_kernel)))  # bounds the comparison tensor's memory
    features = []
    with torch.no_grad():
        for i, dilation in enumerate(dilations):
            padding = int(dilation * (KERNEL_LENGTH // 2)) if i % 2 else 0  # half with padding, as MiniRocket

            def convolve(batch: torch.Tensor, dilation: int = int(dilation), padding: int = padding) -> torch.Tensor:
                return torch.nn.functional.conv1d(batch, weights, dilation=dilation, padding=padding)

            example = convolve(data[int(rng.integers(n))][None])[0].numpy()  # (kernels, L')
            biases = torch.from_numpy(
                np.stack([np.quantile(example[k], fractions[i, k]) for k in range(n_kernels)]).astype(np.float32)
            )
            parts = [
                (convolve(data[s : s + chunk])[..., None] > biases[None, :, None, :]).float().mean(dim=2)
                for s in range(0, n, chunk)
            ]
            features.append(torch.cat(parts).reshape(n, -1))
    return torch.cat(features, dim=1).numpy()


# ------------------------------------------------------------------------ the test
def _folds(y: np.ndarray, classification: bool, seed: int) -> list[tuple[np.ndarray, np.ndarray]] | str:
    from sklearn.model_selection import RepeatedKFold, RepeatedStratifiedKFold

    if classification:
        smallest = int(min(np.bincount(y)[np.bincount(y) > 0]))
        if smallest < 2:
            return "a class has fewer than 2 training samples, so no fold can hold it on both sides"
        cv = RepeatedStratifiedKFold(n_splits=min(FOLDS, smallest), n_repeats=REPEATS, random_state=seed)
    else:
        cv = RepeatedKFold(n_splits=FOLDS, n_repeats=REPEATS, random_state=seed)
    return list(cv.split(np.zeros(len(y)), y))


def _fold_scores(
    features: np.ndarray, y: np.ndarray, folds: list[tuple[np.ndarray, np.ndarray]], classification: bool
) -> np.ndarray:
    from sklearn.linear_model import RidgeClassifierCV, RidgeCV
    from sklearn.metrics import balanced_accuracy_score, r2_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    scores = []
    for train, test in folds:
        head = RidgeClassifierCV(alphas=ALPHAS) if classification else RidgeCV(alphas=ALPHAS)
        model = make_pipeline(StandardScaler(), head).fit(features[train], y[train])
        predicted = model.predict(features[test])
        score = balanced_accuracy_score(y[test], predicted) if classification else r2_score(y[test], predicted)
        scores.append(float(score))
    return np.array(scores)


def _training_part(ds: Dataset, seed: int) -> tuple[np.ndarray, np.ndarray] | str:
    """The training split's values and labels, at most MAX_PROBE_SAMPLES (stratified).

    Variable lengths are stretched to the median length, as the conv families read them
    (``lengths: resample``). Cutting them to a common part instead threw most of each sequence
    away on short data: JapaneseVowels (7–29 steps) was probed on its first 7 steps, where the
    probe scored 0.71 against the raw-value reference's 0.97."""
    train = ds.official_split()[0] if ds.has_official_split else ds
    if train.n_samples < 2 * MIN_SAMPLES:
        return f"only {train.n_samples} training samples; the test needs {2 * MIN_SAMPLES}"
    if train.n_samples > MAX_PROBE_SAMPLES:
        from sklearn.model_selection import train_test_split

        stratify = train.y if train.task in ("binary", "multiclass") else None
        keep, _ = train_test_split(
            np.arange(train.n_samples), train_size=MAX_PROBE_SAMPLES, random_state=seed, stratify=stratify
        )
        train = train.subset(np.sort(keep))
    channels = np.arange(train.n_channels)
    if len(channels) > MAX_PROBE_CHANNELS:
        channels = np.sort(np.random.default_rng(seed).choice(channels, MAX_PROBE_CHANNELS, replace=False))
    values = train.X[:, channels]
    if train.variable_length:
        from workbench.models.blocks import resample

        length = max(int(np.median(train.lengths)), MIN_POSITIONS)
        stretched = resample(torch.from_numpy(values.astype(np.float32)), torch.from_numpy(train.lengths), length)
        values = stretched.numpy()
    length = values.shape[2]
    block = -(-length // MAX_PROBE_POSITIONS)
    count = length // block
    x = values[:, :, : count * block].astype(np.float64)
    if block > 1:
        x = x.reshape(len(x), len(channels), count, block).mean(axis=3)
    return x, train.y


PROBE_TIMING_BATCH = 16


def _timed(call: Callable[[], object]) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def model_order_test(
    ds: Dataset, *, budget_s: float = 30.0, permutations: int = PERMUTATIONS, seed: int = 0
) -> ModelOrderTest:
    """Random-kernel probe on the original and on ``permutations`` fixed random orders, beside a
    ridge reference on the raw features, by repeated k-fold cross-validation of the training split.

    The probe is sized before it starts: a timed pass over a few samples sets how many samples
    fit in ``budget_s``; permutations that would end past the budget are not started, and with
    none finished the test is inconclusive rather than guessed.
    """
    classification = ds.task in ("binary", "multiclass")
    result = ModelOrderTest(
        metric="bal_acc" if classification else "r2",
        probe=f"random convolutional kernels (MiniRocket-style, {N_FEATURES} features) + ridge",
        reference_name="ridge on the raw features (order-invariant)",
    )
    if ds.task == "per_step":
        result.skipped = "per-step labels need a model that keeps the length; the probe predicts one label per sequence"
        return result
    part = _training_part(ds, seed)
    if isinstance(part, str):
        result.inconclusive = part
        return result
    x, y = part
    if x.shape[2] < MIN_POSITIONS:
        result.inconclusive = f"only {x.shape[2]} positions; the test needs at least {MIN_POSITIONS}"
        return result
    start = time.perf_counter()
    # Size before starting: after a first call that pays the one-off set-up, a batch of 16 timed
    # three times, the fastest kept (a call also pays a fixed part, a quantile per kernel and
    # dilation for the biases, which a batch spreads thin; and a busy machine makes one timing
    # slow, not all three: a single sample, timed once beside another busy process, once sized the
    # probe to 4 samples of a profile that then took 3.6 s of its 30). Then keep as many samples as
    # let the original order and the permutations fit in half the budget (the ridge fits take the
    # rest); the smallest probe that means anything runs wherever it fits the whole budget.
    random_kernel_features(x[:1], seed=seed)
    batch = min(PROBE_TIMING_BATCH, len(x))
    per_sample = min(_timed(lambda: random_kernel_features(x[:batch], seed=seed)) for _ in range(3)) / batch
    left = 0.5 * budget_s - (time.perf_counter() - start)
    one = per_sample * (1 + permutations)
    affordable = max(0, int(left / max(one, 1e-9)))
    if affordable < 2 * MIN_SAMPLES and 2 * MIN_SAMPLES * one * 2 <= budget_s - (time.perf_counter() - start):
        affordable = min(len(x), 2 * MIN_SAMPLES)  # the ridge fits cost about as much again
    if affordable < len(x):
        if affordable < 2 * MIN_SAMPLES:
            result.inconclusive = (
                f"the time budget ({budget_s:.0f} s) affords the probe {affordable} samples of length {x.shape[2]}; "
                f"it needs {2 * MIN_SAMPLES}"
            )
            return result
        keep = np.sort(np.random.default_rng(seed).choice(len(x), affordable, replace=False))
        x, y = x[keep], y[keep]
    folds = _folds(y, classification, seed)
    if isinstance(folds, str):
        result.inconclusive = folds
        return result
    test_fraction = len(folds[0][1]) / len(y)
    result.samples_used, result.positions_used = len(x), x.shape[2]
    result.chance = 1.0 / len(np.unique(y)) if classification else 0.0

    safe_point()
    original = _fold_scores(random_kernel_features(x, seed=seed), y, folds, classification)
    reference = _fold_scores(x.reshape(len(x), -1), y, folds, classification)
    one_pass = time.perf_counter() - start
    rng = np.random.default_rng(seed)
    permuted: list[np.ndarray] = []
    for _ in range(permutations):
        safe_point()
        if time.perf_counter() - start + one_pass > budget_s:  # do not start one that would end past the budget
            break
        order = rng.permutation(x.shape[2])
        permuted.append(_fold_scores(random_kernel_features(x[:, :, order], seed=seed), y, folds, classification))
    result.seconds = time.perf_counter() - start
    result.original, result.reference = original.round(4).tolist(), reference.round(4).tolist()
    result.advantage = float((original - reference).mean())
    result.advantage_p = corrected_t_test(original - reference, test_fraction)
    if corrected_t_test(original - result.chance, test_fraction) >= ALPHA:
        result.inconclusive = (
            f"the probe did not learn this data ({result.metric} {original.mean():.3f} against {result.chance:.3f} "
            "for guessing), so its scores judge nothing"
        )
        return result
    if not permuted:
        result.inconclusive = f"the time budget ({budget_s:.0f} s) allowed no shuffled order after the original one"
        return result
    by_fold = np.stack(permuted, axis=1)  # (folds, permutations)
    result.permuted = by_fold.round(4).tolist()
    result.gain = float((original - by_fold.mean(axis=1)).mean())
    result.p_value = corrected_t_test(original - by_fold.mean(axis=1), test_fraction)
    return result
