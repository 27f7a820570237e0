"""The model-free order test and the model-based one, on data with a known answer."""

from __future__ import annotations

import numpy as np

import workbench as wb
from workbench.profiling import model_order_test, order_test


def test_ordered_sequences_show_decaying_neighbour_dependence() -> None:
    t = order_test(wb.synthetic.ordered_motifs(200, 64), n_permutations=199)
    assert t.significant and t.decays
    assert t.p_value == 1 / 200  # the observed order beats every random order
    assert t.effect_size is not None and t.effect_size > 10
    assert t.correlation_length is not None and 2 <= t.correlation_length <= 16
    assert t.by_distance[0] > t.by_distance[-1]


def test_shuffled_positions_lose_the_dependence() -> None:
    t = order_test(wb.synthetic.shuffled_motifs(200, 64), n_permutations=199)
    assert t.p_value is not None and t.p_value > 0.05
    assert not t.significant


def test_unordered_table_has_no_neighbour_structure() -> None:
    t = order_test(wb.synthetic.tabular_interactions(300, 16), n_permutations=199)
    assert not t.significant


def test_variable_length_sequences_are_tested_on_their_common_part() -> None:
    t = order_test(wb.synthetic.variable_length_motifs(120), n_permutations=199)
    assert t.significant and t.positions_used >= 24


def test_too_few_samples_or_positions_is_inconclusive_without_a_p_value() -> None:
    few = order_test(wb.synthetic.ordered_motifs(8, 32))
    assert few.p_value is None and "only 8 samples" in (few.inconclusive or "")
    short = wb.from_array(np.random.default_rng(0).normal(size=(50, 3)), np.arange(50) % 2, layout="NF")
    t = order_test(short)
    assert t.p_value is None and "only 3 positions" in (t.inconclusive or "")


def test_model_based_test_finds_the_gain_of_real_order() -> None:
    m = model_order_test(wb.synthetic.ordered_motifs(160, 48), seeds=4, epochs=25, budget_s=600, reach=5)
    assert m.significant and m.gain is not None and m.gain > 0.05
    assert len(m.original) == 4 and all(len(p) == 2 for p in m.permuted)


def test_model_based_test_stays_inside_its_budget_and_says_so() -> None:
    m = model_order_test(wb.synthetic.ordered_motifs(160, 48), seeds=10, epochs=5, budget_s=0.0)
    assert m.p_value is None and "time budget" in (m.inconclusive or "")


def test_model_based_test_skips_variable_length_data() -> None:
    m = model_order_test(wb.synthetic.variable_length_motifs(60))
    assert m.skipped and m.p_value is None
