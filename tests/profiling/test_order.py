"""The model-free order tests (within and across sequences) and the model-based probe, on data with a known answer."""

from __future__ import annotations

import numpy as np
import pytest

import workbench as wb
from workbench.data.dataset import make_dataset
from workbench.data.layout import to_canonical
from workbench.profiling import autocorrelation_test, model_order_test, order_test, random_kernel_features
from workbench.profiling.probe import corrected_t_test


def unaligned_motifs(n: int = 120, length: int = 200, seed: int = 0) -> wb.Dataset:
    """Smooth bumps at random offsets on white noise: order matters, but no position is shared across samples."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 0.3, size=(n, 1, length))
    t = np.arange(length)
    for i in range(n):
        centre = rng.integers(20, length - 20)
        x[i, 0] += 3 * np.exp(-0.5 * ((t - centre) / 4.0) ** 2)
    return make_dataset(x, np.arange(n) % 2, name="unaligned")


def periodic(n: int = 80, length: int = 96, period: int = 24, seed: int = 0) -> wb.Dataset:
    """A daily cycle with random phase and amplitude, plus noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(length)
    phase = rng.uniform(0, 2 * np.pi, size=(n, 1, 1))
    x = rng.uniform(0.5, 2, size=(n, 1, 1)) * np.sin(2 * np.pi * t / period + phase) + rng.normal(
        0, 0.3, (n, 1, length)
    )
    return make_dataset(x, np.arange(n) % 2, name="periodic")


def spiky(n: int = 80, length: int = 300, seed: int = 0) -> wb.Dataset:
    """On/off load curves: long flat stretches at 0 or at a high level, switching at random times."""
    rng = np.random.default_rng(seed)
    x = np.zeros((n, 1, length))
    for i in range(n):
        level, t = 0.0, 0
        while t < length:
            run = int(rng.integers(5, 40))
            x[i, 0, t : t + run] = level
            level = 0.0 if level else float(rng.uniform(5, 10))
            t += run
    return make_dataset(x, np.arange(n) % 2, name="spiky")


def grouped_table(n: int = 300, groups: int = 4, size: int = 6, seed: int = 0) -> wb.Dataset:
    """Columns in groups of correlated measurements (layout NF), the groups listed one after another."""
    rng = np.random.default_rng(seed)
    latent = rng.normal(size=(n, groups))
    x = np.repeat(latent, size, axis=1) + 0.6 * rng.normal(size=(n, groups * size))
    x = x[:, rng.permutation(groups * size)]  # a real table lists related columns in no particular order
    return make_dataset(to_canonical(x, "NF"), (latent[:, 0] > 0).astype(int), name="grouped", order="unknown")


def test_unaligned_motifs_have_order_inside_each_sequence() -> None:
    within = autocorrelation_test(unaligned_motifs(), n_permutations=199)
    assert within.significant and within.p_value == 1 / 200  # the observed order beats every random order
    assert within.shape == "smooth" and within.reach is not None and 3 <= within.reach <= 20


def test_an_oscillation_is_order_even_when_neighbours_anticorrelate() -> None:
    """ACSF1-like: a fast oscillation (period 3) under an on/off envelope; lag 1 is negative, lag 3 high."""
    rng = np.random.default_rng(0)
    t = np.arange(400)
    x = np.stack([np.sin(2 * np.pi * t / 3 + 0.3) * (1 + 4 * (rng.random() > 0.5)) for _ in range(60)])[:, None]
    x = x * (1 + 0.05 * rng.normal(size=x.shape))
    within = autocorrelation_test(make_dataset(x, np.arange(60) % 2), n_permutations=199)
    assert within.significant and within.acf[0] < -0.3 and within.acf[2] > 0.8
    assert within.shape == "oscillating" and within.period == 3


def test_periodic_series_are_named_periodic_with_their_period() -> None:
    t = autocorrelation_test(periodic(), n_permutations=199)
    assert t.significant and t.shape == "periodic" and t.period is not None and 22 <= t.period <= 26


def test_spiky_on_off_series_are_ordered() -> None:
    t = autocorrelation_test(spiky(), n_permutations=199)
    assert t.significant and t.acf[0] > 0.5


@pytest.mark.parametrize(
    "dataset",
    [
        lambda: wb.synthetic.shuffled_motifs(200, 64),
        lambda: wb.synthetic.tabular_interactions(300, 16),
        lambda: grouped_table(),
        lambda: spiky().permute_positions(np.random.default_rng(1).permutation(300)),
    ],
    ids=["shuffled motifs", "independent table", "grouped table", "shuffled spiky"],
)
def test_shuffled_and_tabular_data_have_no_order_inside_the_sequences(dataset: object) -> None:
    t = autocorrelation_test(dataset(), n_permutations=199)  # type: ignore[operator]
    assert not t.significant and t.p_value is not None and t.p_value > 0.01


def test_long_sequences_are_cut_into_contiguous_windows_not_thinned() -> None:
    rng = np.random.default_rng(0)
    walk = np.cumsum(rng.normal(size=(12, 1, 5000)), axis=2)
    t = autocorrelation_test(make_dataset(walk, np.arange(12) % 2), n_permutations=199)
    assert t.windows == 2 and t.positions_used == 2048 and t.significant and t.acf[0] > 0.9
    across = order_test(make_dataset(walk, np.arange(12) % 2), n_permutations=199)
    assert across.block == 10 and across.positions_used == 500


def test_the_across_sample_view_sees_aligned_series() -> None:
    t = order_test(wb.synthetic.ordered_motifs(200, 64), n_permutations=199)
    assert t.significant and t.decays and t.by_distance[0] > t.by_distance[-1]


def test_variable_length_sequences_are_tested_on_their_common_part() -> None:
    t = autocorrelation_test(wb.synthetic.variable_length_motifs(120), n_permutations=199)
    assert t.significant and t.positions_used >= 24


def test_too_few_samples_or_positions_is_inconclusive_without_a_p_value() -> None:
    few = autocorrelation_test(wb.synthetic.ordered_motifs(8, 32))
    assert few.p_value is None and "only 8 samples" in (few.inconclusive or "")
    short = wb.from_array(np.random.default_rng(0).normal(size=(50, 3)), np.arange(50) % 2, layout="NF")
    t = order_test(short)
    assert t.p_value is None and "only 3 positions" in (t.inconclusive or "")


# --------------------------------------------------------------------------- the probe
def test_random_kernel_features_are_deterministic_and_shaped() -> None:
    x = np.random.default_rng(0).normal(size=(20, 3, 100)).astype(np.float32)
    a, b = random_kernel_features(x, seed=1), random_kernel_features(x, seed=1)
    assert np.array_equal(a, b) and a.shape[0] == 20 and 1000 <= a.shape[1] <= 2000
    assert ((a >= 0) & (a <= 1)).all()  # proportions of positive values
    assert random_kernel_features(x[:, :, :5], seed=1).shape[0] == 20  # shorter than a kernel: padded


def test_the_probe_finds_the_gain_of_real_order() -> None:
    m = model_order_test(wb.synthetic.ordered_motifs(200, 64), budget_s=60)
    assert m.significant and m.beats_reference and m.gain is not None and m.gain > 0.1
    assert len(m.original) == len(m.reference) == 10 and all(len(p) == 3 for p in m.permuted)


def test_the_probe_finds_no_gain_on_shuffled_positions() -> None:
    m = model_order_test(wb.synthetic.shuffled_motifs(200, 64), budget_s=60)
    assert m.p_value is not None and not m.significant


def test_a_probe_that_cannot_learn_is_inconclusive() -> None:
    rng = np.random.default_rng(0)
    noise = make_dataset(rng.normal(size=(120, 1, 64)), rng.integers(0, 2, 120), name="noise")
    m = model_order_test(noise, budget_s=60)
    assert m.p_value is None and "did not learn this data" in (m.inconclusive or "")


def test_the_probe_is_skipped_for_per_step_labels_and_sized_to_its_budget() -> None:
    assert model_order_test(wb.synthetic.per_step_labels(60)).skipped
    m = model_order_test(wb.synthetic.ordered_motifs(160, 48), budget_s=0.0)
    assert m.p_value is None and "time budget" in (m.inconclusive or "")


def test_corrected_t_test_is_more_cautious_than_a_plain_one() -> None:
    d = np.array([0.05, 0.1, 0.0, 0.08, 0.02, 0.06, 0.04, 0.09, 0.01, 0.07])
    from scipy import stats

    assert corrected_t_test(d, 0.2) > stats.ttest_1samp(d, 0, alternative="greater").pvalue
    assert corrected_t_test(np.full(10, 0.1), 0.2) == 0.5**10 and corrected_t_test(-d, 0.2) > 0.9


@pytest.mark.slow
def test_a_large_dataset_is_profiled_with_a_probe_sized_to_its_budget() -> None:
    rng = np.random.default_rng(0)
    ds = wb.from_array(rng.normal(size=(30_000, 1, 500)).astype(np.float32), rng.integers(0, 2, 30_000), layout="NCL")
    p = wb.profile(ds, budget_s=10)
    assert p.model_order.samples_used > 0 or "time budget" in (p.model_order.inconclusive or "")
    assert p.model_order.samples_used <= 500  # MAX_PROBE_SAMPLES, then sized to the budget
