"""The decision logic, on constructed evidence: each branch, its words, its confidence."""

from __future__ import annotations

from typing import Any

import pytest

from workbench.profiling import (
    AutocorrelationTest,
    Descriptive,
    ModelOrderTest,
    OrderTest,
    SampleOrderCheck,
    recommend,
)


def descriptive(**overrides: Any) -> Descriptive:
    values: dict[str, Any] = {
        "name": "d",
        "source": "",
        "n_samples": 500,
        "n_train": 500,
        "n_test": 0,
        "n_channels": 1,
        "min_length": 64,
        "median_length": 64,
        "max_length": 64,
        "variable_length": False,
        "task": "binary",
        "classes": ["a", "b"],
        "class_counts": [250, 250],
        "n_static": 0,
        "declared_order": "ordered",
        "channel_mean": [0.0],
        "channel_std": [1.0],
        "duplicates": 0,
        "constant_positions": 0,
    }
    values.update(overrides)
    return Descriptive(**values)


ORDERED = OrderTest(
    statistic=0.8,
    null=[0.2] * 9,
    p_value=0.001,
    effect_size=30.0,
    by_distance=[0.8, 0.6, 0.3],
    null_level=0.2,
    correlation_length=6,
    decays=True,
    n_permutations=999,
    positions_used=64,
)
FLAT = OrderTest(
    statistic=0.2,
    null=[0.2] * 9,
    p_value=0.4,
    effect_size=0.1,
    by_distance=[0.2, 0.2, 0.2],
    null_level=0.2,
    correlation_length=1,
    decays=False,
    n_permutations=999,
    positions_used=64,
)
SERIES = AutocorrelationTest(
    statistic=5.0,
    null=[0.05] * 9,
    p_value=0.001,
    effect_size=300.0,
    lags=10,
    acf=[0.95, 0.8, 0.6, 0.4, 0.2, 0.05],
    null_band=0.1,
    shape="smooth",
    reach=6,
    n_permutations=999,
    positions_used=64,
)
DAILY = AutocorrelationTest(**{**SERIES.__dict__, "shape": "periodic", "period": 23, "acf": [0.9, 0.4, -0.6, 0.4]})
NO_SERIES = AutocorrelationTest(
    statistic=0.05, null=[0.05] * 9, p_value=0.5, effect_size=0.0, lags=10, acf=[0.01], null_band=0.1, shape="flat"
)


def probe(original: float, reference: float, shuffled: float, p_adv: float, p_gain: float) -> ModelOrderTest:
    return ModelOrderTest(
        metric="bal_acc",
        original=[original] * 10,
        reference=[reference] * 10,
        permuted=[[shuffled] * 3] * 10,
        advantage=original - reference,
        advantage_p=p_adv,
        gain=original - shuffled,
        p_value=p_gain,
        probe="random kernels + ridge",
        reference_name="ridge on the raw features (order-invariant)",
        chance=0.5,
    )


GAIN = probe(0.95, 0.80, 0.70, 0.001, 0.001)
EDGE_ONLY = probe(0.95, 0.80, 0.94, 0.001, 0.4)  # beats the reference, shuffling costs nothing
WEAK = probe(0.88, 0.84, 0.86, 0.2, 0.3)  # ahead, not significantly
NO_GAIN = probe(0.80, 0.85, 0.80, 0.9, 0.5)
INDEPENDENT = SampleOrderCheck(statistic=0.0, null=[0.0], p_value=0.5, dependent=False)


def test_real_order_that_a_convolution_exploits_is_conv1d_with_high_confidence() -> None:
    r = recommend(descriptive(), ORDERED, GAIN, INDEPENDENT, SERIES)
    assert (r.family, r.confidence_label) == ("conv1d", "high")
    assert any("p = 0.001" in reason and "lag-1 autocorrelation 0.95" in reason for reason in r.reasons)
    assert any("0.950 bal_acc against 0.800" in reason for reason in r.reasons)
    assert 3 in r.hints["kernel_size"] and max(r.hints["kernel_size"]) <= 13  # from the reach of 6


def test_a_series_whose_probe_edge_survives_shuffling_is_conv1d_with_medium_confidence() -> None:
    r = recommend(descriptive(), ORDERED, EDGE_ONLY, INDEPENDENT, SERIES)
    assert (r.family, r.confidence_label) == ("conv1d", "medium")


def test_a_weak_edge_on_a_series_is_conv1d_with_low_confidence() -> None:
    r = recommend(descriptive(), FLAT, WEAK, INDEPENDENT, SERIES)
    assert (r.family, r.confidence_label) == ("conv1d", "low") and any("let the study settle" in x for x in r.reasons)


def test_a_series_that_a_linear_model_reads_as_well_is_mlp_with_low_confidence() -> None:
    r = recommend(descriptive(), ORDERED, NO_GAIN, INDEPENDENT, SERIES)
    assert (r.family, r.confidence_label) == ("mlp", "low")


def test_short_series_read_as_well_by_a_linear_model_say_why_the_probe_cannot_settle_it() -> None:
    """JapaneseVowels (7–29 steps, 12 channels): the probe loses to ridge on the raw values, yet
    trained Conv1d models edge past linear ones; the caveat says so instead of a confident answer."""
    r = recommend(descriptive(median_length=15, min_length=7, max_length=29), ORDERED, NO_GAIN, INDEPENDENT, SERIES)
    assert (r.family, r.confidence_label) == ("mlp", "low")
    assert any("short (median 15 steps)" in c and "the study's comparison decides" in c for c in r.caveats)
    long = recommend(descriptive(), ORDERED, NO_GAIN, INDEPENDENT, SERIES)
    assert not any("short (median" in c for c in long.caveats)


def test_a_daily_cycle_is_described_as_a_cycle() -> None:
    r = recommend(descriptive(), FLAT, WEAK, INDEPENDENT, DAILY)
    assert any("comes back every 23 positions, a cycle" in reason for reason in r.reasons)
    assert not any("grouped table" in reason for reason in r.reasons)


def test_no_order_and_no_gain_is_mlp_with_high_confidence() -> None:
    r = recommend(descriptive(declared_order="unknown"), FLAT, NO_GAIN, INDEPENDENT, NO_SERIES)
    assert (r.family, r.confidence_label) == ("mlp", "high")
    assert any("layout 'NF'" in reason for reason in r.reasons)
    assert any("no more alike than in a random order" in reason for reason in r.reasons)
    assert r.hints["depth"][0] == 0


def test_a_probe_edge_without_any_order_is_credited_to_non_linear_features() -> None:
    r = recommend(descriptive(), FLAT, EDGE_ONLY, INDEPENDENT, NO_SERIES)
    assert r.family == "mlp" and any("non-linear features" in reason for reason in r.reasons)


def test_a_gain_from_an_accidental_column_order_is_not_trusted() -> None:
    behind = probe(0.85, 0.95, 0.75, 0.99, 0.001)  # the order helps the probe, which still trails the reference
    r = recommend(descriptive(declared_order="unknown"), FLAT, behind, INDEPENDENT, NO_SERIES)
    assert (r.family, r.confidence_label) == ("mlp", "high")


def test_stored_profiles_without_the_within_sequence_test_are_judged_on_the_across_sample_one() -> None:
    assert recommend(descriptive(), ORDERED, GAIN, INDEPENDENT).family == "conv1d"
    assert recommend(descriptive(), FLAT, NO_GAIN, INDEPENDENT).family == "mlp"


def test_static_features_make_it_hybrid() -> None:
    r = recommend(descriptive(n_static=3), ORDERED, GAIN, INDEPENDENT, SERIES)
    assert r.family == "hybrid" and any("3 static feature" in reason for reason in r.reasons)


def test_inconclusive_tests_fall_back_to_the_declared_layout_with_low_confidence() -> None:
    none = AutocorrelationTest(inconclusive="only 5 samples; the test needs at least 10")
    skipped = ModelOrderTest(skipped="turned off")
    r = recommend(descriptive(n_train=5, n_samples=5), OrderTest(inconclusive="x"), skipped, INDEPENDENT, none)
    assert (r.family, r.confidence_label) == ("conv1d", "low")
    assert any("only 5 samples" in c for c in r.caveats)


@pytest.mark.parametrize("n_train", [40, 99])
def test_small_training_sets_cap_the_confidence_and_say_why(n_train: int) -> None:
    r = recommend(descriptive(n_train=n_train), ORDERED, GAIN, INDEPENDENT, SERIES)
    assert r.confidence_label == "medium"
    assert any(f"Only {n_train} training samples" in c for c in r.caveats)


def test_rows_that_are_time_steps_produce_a_leakage_warning() -> None:
    dependent = SampleOrderCheck(statistic=0.9, null=[0.0, 0.01], p_value=0.005, dependent=True)
    r = recommend(descriptive(declared_order="unknown"), FLAT, NO_GAIN, dependent, NO_SERIES)
    assert any("random train/test split would put neighbours on both sides" in w for w in r.warnings)


def test_per_step_labels_get_a_per_step_head_hint() -> None:
    r = recommend(descriptive(task="per_step"), ORDERED, GAIN, INDEPENDENT, SERIES)
    assert "per_step" in r.hints["head"]
