"""The decision logic, on constructed evidence: each branch, its words, its confidence."""

from __future__ import annotations

from typing import Any

import pytest

from workbench.profiling import Descriptive, ModelOrderTest, OrderTest, SampleOrderCheck, recommend


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
GAIN = ModelOrderTest(metric="loss", original=[0.2] * 5, permuted=[[0.5, 0.5]] * 5, gain=0.3, p_value=0.001)
NO_GAIN = ModelOrderTest(metric="loss", original=[0.5] * 5, permuted=[[0.5, 0.5]] * 5, gain=-0.01, p_value=0.7)
INDEPENDENT = SampleOrderCheck(statistic=0.0, null=[0.0], p_value=0.5, dependent=False)


def test_real_order_that_a_convolution_exploits_is_conv1d_with_high_confidence() -> None:
    r = recommend(descriptive(), ORDERED, GAIN, INDEPENDENT)
    assert (r.family, r.confidence_label) == ("conv1d", "high")
    assert any("p = 0.001" in reason for reason in r.reasons)
    assert 3 in r.hints["kernel_size"] and max(r.hints["kernel_size"]) <= 13  # from the reach of 6


def test_no_order_and_no_gain_is_mlp_with_high_confidence() -> None:
    r = recommend(descriptive(declared_order="unknown"), FLAT, NO_GAIN, INDEPENDENT)
    assert (r.family, r.confidence_label) == ("mlp", "high")
    assert any("layout 'NF'" in reason for reason in r.reasons)
    assert r.hints["depth"][0] == 0


def test_correlated_table_columns_without_a_gain_are_still_mlp() -> None:
    grouped = OrderTest(**{**ORDERED.__dict__, "decays": False, "p_value": 0.005})
    r = recommend(descriptive(declared_order="unknown"), grouped, NO_GAIN, INDEPENDENT)
    assert (r.family, r.confidence_label) == ("mlp", "medium")
    assert any("gains nothing from their order" in reason for reason in r.reasons)


def test_a_gain_from_an_accidental_column_order_is_not_trusted() -> None:
    r = recommend(descriptive(declared_order="unknown"), FLAT, GAIN, INDEPENDENT)
    assert r.family == "mlp" and any("happen to be listed" in reason for reason in r.reasons)


def test_a_weak_gain_on_a_sequence_without_neighbour_structure_is_treated_as_chance() -> None:
    weak = ModelOrderTest(**{**GAIN.__dict__, "p_value": 0.03})
    assert recommend(descriptive(), FLAT, weak, INDEPENDENT).family == "mlp"
    strong = ModelOrderTest(**{**GAIN.__dict__, "p_value": 0.002})
    assert recommend(descriptive(), FLAT, strong, INDEPENDENT).family == "conv1d"


def test_static_features_make_it_hybrid() -> None:
    r = recommend(descriptive(n_static=3), ORDERED, GAIN, INDEPENDENT)
    assert r.family == "hybrid" and any("3 static feature" in reason for reason in r.reasons)


def test_inconclusive_tests_fall_back_to_the_declared_layout_with_low_confidence() -> None:
    none = OrderTest(inconclusive="only 5 samples; the test needs at least 10")
    skipped = ModelOrderTest(skipped="turned off")
    r = recommend(descriptive(n_train=5, n_samples=5), none, skipped, INDEPENDENT)
    assert (r.family, r.confidence_label) == ("conv1d", "low")
    assert any("only 5 samples" in c for c in r.caveats)


@pytest.mark.parametrize("n_train", [40, 99])
def test_small_training_sets_lower_the_confidence_and_say_why(n_train: int) -> None:
    r = recommend(descriptive(n_train=n_train), ORDERED, GAIN, INDEPENDENT)
    assert r.confidence_label == "medium"
    assert any(f"Only {n_train} training samples" in c for c in r.caveats)


def test_rows_that_are_time_steps_produce_a_leakage_warning() -> None:
    dependent = SampleOrderCheck(statistic=0.9, null=[0.0, 0.01], p_value=0.005, dependent=True)
    r = recommend(descriptive(declared_order="unknown"), FLAT, NO_GAIN, dependent)
    assert any("random train/test split would put neighbours on both sides" in w for w in r.warnings)


def test_per_step_labels_get_a_per_step_head_hint() -> None:
    r = recommend(descriptive(task="per_step"), ORDERED, GAIN, INDEPENDENT)
    assert "per_step" in r.hints["head"]
