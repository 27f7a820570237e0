"""Rows that are really time steps are caught; a file sorted by class is not mistaken for one."""

from __future__ import annotations

import workbench as wb
from workbench.profiling import profile, sample_order_check


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


def test_the_warning_gives_the_windows_call_sized_from_the_dependence() -> None:
    """AR(1) rows with φ = 0.9: the correlation k rows apart, 0.9^k, falls below 0.2 after ~15 rows."""
    ds = wb.synthetic.time_steps_as_rows(2000, 8)
    check = sample_order_check(ds)
    assert check.dependence_length is not None and 8 <= check.dependence_length <= 24
    assert check.window == 32  # a power of two spanning the dependence twice
    warning = next(w for w in profile(ds, model_test=False).recommendation.warnings if "Consecutive rows" in w)
    assert "workbench.windows(X, y, size=32, step=8, layout='LC')" in warning and "--window 32 --step 8" in warning
    windowed = wb.windows(ds.X[:, 0, :], ds.y, size=32, step=8)  # the advice, followed
    assert windowed.X.shape == ((2000 - 32) // 8 + 1, 8, 32)


def test_independent_rows_get_no_window_advice() -> None:
    check = sample_order_check(wb.synthetic.tabular_interactions())
    assert check.window is None and check.dependence_length is None


def test_windows_are_not_told_to_become_windows() -> None:
    X, y = wb.synthetic.recording(3000, 3)
    check = sample_order_check(wb.windows(X, y, size=32, step=8))
    assert not check.dependent and "splits hold out later time" in (check.inconclusive or "")
