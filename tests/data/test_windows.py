"""Windows of long recordings: exact slices, labels, leak-free splits, and bad input."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

import workbench as wb
from workbench.config import Validation
from workbench.data.dataset import Dataset
from workbench.data.splits import split_indices
from workbench.errors import interface
from workbench.study.validation import plan_validation


def _recording(n_steps: int = 1200, n_channels: int = 3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_steps, n_channels)).astype(np.float32)
    y = (np.arange(n_steps) // 50) % 3  # every class throughout the recording
    return X, y


# --------------------------------------------------------------------------- round trips


@pytest.mark.parametrize(("size", "step"), [(64, 16), (50, 50), (10, 37)])
def test_windows_are_the_slices_of_the_recording(size: int, step: int) -> None:
    X, y = _recording()
    ds = wb.windows(X, y, size=size, step=step)
    starts = np.arange(0, len(X) - size + 1, step)
    assert ds.starts is not None and ds.starts.tolist() == starts.tolist()
    assert ds.X.shape == (len(starts), 3, size)
    for i, s in enumerate(starts):
        np.testing.assert_array_equal(ds.X[i], X[s : s + size].T)
        assert ds.classes is not None and ds.classes[ds.y[i]] == str(y[s + size - 1])  # label="last"
    assert np.shares_memory(ds.X, X), "float32 input is windowed as a view, not copied"


def test_channels_first_recording_and_a_single_channel() -> None:
    X, y = _recording()
    by_row = wb.windows(X, y, size=32, step=8)
    np.testing.assert_array_equal(wb.windows(X.T, y, size=32, step=8, layout="CL").X, by_row.X)
    one = wb.windows(X[:, 0], y, size=32, step=8)
    np.testing.assert_array_equal(one.X[:, 0], by_row.X[:, 0])


def test_several_recordings_never_share_a_window_and_keep_their_ids() -> None:
    X, y = _recording(900)
    groups = np.repeat(["a", "b", "c"], [300, 400, 200])
    ds = wb.windows(X, y, size=40, step=20, groups=groups)
    assert ds.starts is not None and ds.groups is not None
    offsets = {"a": 0, "b": 300, "c": 700}
    lengths = {"a": 300, "b": 400, "c": 200}
    for i in range(ds.n_samples):
        rec, s = str(ds.groups[i]), int(ds.starts[i])
        assert s + 40 <= lengths[rec]
        np.testing.assert_array_equal(ds.X[i], X[offsets[rec] + s : offsets[rec] + s + 40].T)
    assert [int((ds.groups == r).sum()) for r in "abc"] == [14, 19, 9]


def test_interleaved_recordings_are_gathered_in_their_own_order() -> None:
    X, y = _recording(400)
    groups = np.tile(["a", "b"], 200)  # rows alternate between two recordings
    ds = wb.windows(X, y, size=20, step=20, groups=groups)
    first_b = int(np.flatnonzero(ds.groups == "b")[0])
    np.testing.assert_array_equal(ds.X[first_b], X[1::2][:20].T)


def test_time_stamps_are_kept_for_each_window() -> None:
    X, y = _recording(300)
    t = pd.date_range("2026-01-01", periods=300, freq="20ms").to_numpy()
    ds = wb.windows(X, y, size=30, step=30, time=t)
    assert ds.start_times is not None and ds.start_times[2] == t[60]
    third = ds.subset([2]).start_times
    assert third is not None and third[0] == t[60]


# --------------------------------------------------------------------------- labels


def test_per_step_labels_survive_windowing() -> None:
    X, y = _recording()
    letters = np.array(list("xyz"))[y]
    ds = wb.windows(X, letters, size=64, step=16, label="per_step")
    assert ds.task == "per_step" and ds.y.shape == (ds.n_samples, 64)
    assert ds.classes is not None and ds.starts is not None
    for i in (0, 7, ds.n_samples - 1):
        s = int(ds.starts[i])
        assert "".join(ds.classes[c] for c in ds.y[i]) == "".join(letters[s : s + 64])
    train, test = ds.split(0.25)
    assert train.y.shape[1] == test.y.shape[1] == 64


def test_majority_mean_and_custom_labels() -> None:
    X, _ = _recording(100)
    y = np.array([0] * 30 + [1] * 70)
    assert wb.windows(X, y, size=50, step=50, label="majority").y.tolist() == [0, 1]  # 30 of 50 steps are 0
    assert wb.windows(X, y, size=25, step=25, label="last").y.tolist() == [0, 1, 1, 1]  # y[24] is 0
    mean = wb.windows(X, np.arange(100.0), size=10, step=10, label="mean")
    assert mean.task == "regression" and mean.y.tolist() == [4.5 + 10 * k for k in range(10)]
    first = wb.windows(X, y, size=50, step=50, label=lambda steps: steps[0])
    assert first.y.tolist() == [0, 1]


def test_a_class_no_window_is_labelled_with_is_not_a_class() -> None:
    X, _ = _recording(100)
    y = np.zeros(100, dtype=np.int64)
    y[10] = 2  # a one-step event that is never a window's last step
    y[50:] = 1
    ds = wb.windows(X, y, size=25, step=25)
    assert ds.classes == ("0", "1")


# --------------------------------------------------------------------------- splits that do not leak


def _assert_apart(ds: Dataset, a: np.ndarray, b: np.ndarray) -> None:
    """No window of ``a`` shares a time step with one of ``b`` (same recording), and a gap of
    at least one window's length lies between them."""
    assert ds.starts is not None and ds.groups is not None
    assert len(a) and len(b) and not set(a.tolist()) & set(b.tolist())
    for rec in np.unique(ds.groups):
        sa = ds.starts[a][ds.groups[a] == rec]
        sb = ds.starts[b][ds.groups[b] == rec]
        if len(sa) and len(sb):
            assert np.abs(sa[:, None] - sb[None, :]).min() >= 2 * ds.max_length


@pytest.mark.parametrize("strategy", ["auto", "time", "holdout", "kfold", "group"])
def test_no_validation_or_test_window_overlaps_a_training_window(strategy: str) -> None:
    X, y = _recording(2400)
    ds = wb.windows(X, y, size=48, step=12, groups=np.repeat(["s1", "s2", "s3"], 800))
    train_idx, test_idx = split_indices(ds, 0.25, seed=0)
    _assert_apart(ds, train_idx, test_idx)
    train = ds.subset(train_idx)
    plan = plan_validation(train, Validation(strategy=strategy, folds=3), seed=0)  # type: ignore[arg-type]
    assert plan.strategy == {"auto": "blocked", "time": "blocked", "holdout": "time", "kfold": "blocked"}.get(
        strategy, "group"
    )
    for fit, val in plan.folds:
        if strategy == "group":  # whole recordings on each side
            assert not set(train.groups[fit]) & set(train.groups[val])  # type: ignore[index]
        else:
            _assert_apart(train, fit, val)
    assert "window" in plan.reason or strategy == "group"


def test_the_test_split_holds_the_end_of_each_recording() -> None:
    X, y = _recording(2000)
    ds = wb.windows(X, y, size=40, step=10, groups=np.repeat([1, 2], 1000))
    _, test_idx = split_indices(ds, 0.25, seed=0)
    assert ds.starts is not None and ds.groups is not None
    for rec in (1, 2):
        mine = ds.groups == rec
        assert ds.starts[test_idx][ds.groups[test_idx] == rec].min() > np.quantile(ds.starts[mine], 0.7)


def test_a_shuffled_split_of_overlapping_windows_overstates_the_score() -> None:
    """The leak, measured: the README reports these two numbers (benchmarks/window_leak.py)."""
    X, y = wb.synthetic.recording(20_000, seed=0)
    leak = wb.split_leak(wb.windows(X, y, size=64, step=8))
    assert leak.shuffled > 0.8 and leak.time_ordered < 0.6, leak.summary()
    assert leak.inflation > 0.3


# --------------------------------------------------------------------------- frames and files


def test_a_frame_with_a_row_per_time_step() -> None:
    X, y = _recording(600)
    df = pd.DataFrame(X, columns=["ax", "ay", "az"]).assign(activity=np.array(["sit", "walk", "run"])[y])
    df["t"] = np.arange(600) * 0.02
    ds = wb.from_frame(df, target="activity", window=60, step=30, time_col="t")
    assert ds.X.shape == (19, 3, 60) and ds.channel_names == ("ax", "ay", "az")
    assert ds.start_times is not None and ds.start_times[1] == pytest.approx(0.6)
    np.testing.assert_array_equal(ds.X[1], X[30:90].T)


def test_windows_on_a_builtin_dataset_are_refused() -> None:
    with pytest.raises(wb.DataError, match="already holds one sequence per sample"):
        wb.load("GunPoint", window=32)


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"size": 2000}, r"window \(2000 steps\) is longer than the recording \(1200 steps\)"),
        ({"size": 64, "step": 0}, "step must be at least 1"),
        ({"size": 6.5}, "whole number of time steps"),
        ({"size": 64, "label": "median"}, "label must be one of"),
        ({"size": 64, "layout": "NCL"}, "one long recording"),
    ],
)
def test_bad_window_settings_say_what_to_change(kwargs: dict[str, Any], message: str) -> None:
    X, y = _recording()
    with pytest.raises(wb.DataError, match=message):
        wb.windows(X, y, **kwargs)


def test_a_recording_read_the_wrong_way_round_is_pointed_out() -> None:
    X, _ = _recording(100, n_channels=500)  # 100 rows of 500 columns: probably (C, T)
    with pytest.raises(wb.DataError, match="pass layout='CL'"):
        wb.windows(X, np.zeros(100), size=128)


def test_labels_of_another_length_are_refused() -> None:
    X, y = _recording()
    with pytest.raises(wb.DataError, match=r"y has shape \(1199,\) but the recording has 1200 time steps"):
        wb.windows(X, y[:-1], size=64)
    with pytest.raises(wb.DataError, match="need a label per time step"):
        wb.windows(X, size=64)


def test_an_unsorted_time_column_is_refused_with_the_fix() -> None:
    X, y = _recording(300)
    t = np.arange(300.0)
    t[[100, 101]] = t[[101, 100]]
    with pytest.raises(wb.DataError, match=r"goes back at row 101 \(101.0 then 100.0\).*Refused rather than sorted"):
        wb.windows(X, y, size=30, time=t)
    t = np.arange(300.0)
    t[5] = t[4]
    with pytest.raises(wb.DataError, match="repeats at row 5"):
        wb.windows(X, y, size=30, time=t)


def test_nan_gaps_are_located_and_can_be_imputed() -> None:
    X, y = _recording(600)
    X[100:120, 1] = np.nan
    X[400, 0] = np.inf
    with pytest.raises(
        wb.DataError, match=r"21 time step\(s\) in 2 gap\(s\), at steps 100–119, 400 \(first in channel 1"
    ):
        wb.windows(X, y, size=50)
    filled = wb.windows(X, y, size=50, impute="ffill")
    assert np.isfinite(filled.X).all() and filled.X[2, 1, :20].tolist() == [X[99, 1]] * 20
    assert any("21 time step(s)" in note for note in filled.notes)


def test_too_few_windows_for_a_split_says_what_to_change() -> None:
    X, y = _recording(300)
    ds = wb.windows(X, y, size=100, step=100)  # 3 windows: no room for a gap
    with pytest.raises(wb.DataError, match="too few for a time-ordered split.*smaller step"):
        ds.split(0.25)
    with pytest.raises(wb.DataError, match="gives 1 window"):
        wb.windows(X, y, size=250, step=100)


def test_one_long_array_loaded_as_samples_points_to_windows() -> None:
    X, y = _recording()
    with pytest.raises(wb.DataError, match=r"workbench.windows\(X, y, size=64, step=16, layout='LC'\)"):
        wb.from_array(X, y[-1:], layout="LC")


def test_one_recording_with_a_label_per_step_gets_the_sized_windows_call() -> None:
    rows = wb.synthetic.time_steps_as_rows(2000, 8)  # AR(0.9): the dependence reaches ~15 steps
    X, y = rows.X[:, 0, :], rows.y
    with pytest.raises(wb.DataError, match=r"workbench.windows\(X, y, size=32, step=8, layout='LC'\)") as info:
        wb.from_array(X, y, layout="LC")
    assert "--window" not in str(info.value)  # in Python, the Python call
    with interface("cli"), pytest.raises(wb.DataError, match=r"Cut it into windows: --window 32 --step 8 \("):
        wb.from_array(X, y, layout="LC")  # an array file read by the command line
    with pytest.raises(wb.DataError, match=r"size=32, step=8, layout='CL'"):
        wb.from_array(X.T, y, layout="CL")
    with pytest.raises(wb.DataError, match="y holds 1999 labels.*one label per step \\(2000\\)"):
        wb.from_array(X, y[:-1], layout="LC")
