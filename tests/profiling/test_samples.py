"""Rows that are really time steps are caught; a file sorted by class is not mistaken for one."""

from __future__ import annotations

import workbench as wb
from workbench.profiling import sample_order_check


def test_rows_that_are_time_steps_are_dependent() -> None:
    check = sample_order_check(wb.synthetic.time_steps_as_rows())
    assert check.dependent and check.p_value is not None and check.p_value < 0.01


def test_independent_samples_are_not_flagged() -> None:
    assert not sample_order_check(wb.synthetic.tabular_interactions()).dependent


def test_a_file_sorted_by_class_is_not_a_time_series() -> None:
    iris = wb.load("iris")  # 50 setosa, then 50 versicolor, then 50 virginica
    assert not sample_order_check(iris).dependent


def test_too_few_rows_is_inconclusive() -> None:
    check = sample_order_check(wb.synthetic.tabular_interactions(12, 4))
    assert check.p_value is None and "only 12 rows" in (check.inconclusive or "")
