"""The Dataset: labels, masks, splits, fingerprints."""

from __future__ import annotations

import numpy as np
import pytest

from workbench import from_array, synthetic
from workbench.data import IGNORE_INDEX
from workbench.errors import DataError


def test_labels_are_encoded_with_numeric_order() -> None:
    ds = from_array(np.zeros((4, 1, 8)) + np.arange(4)[:, None, None], ["10", "2", "2", "10"], layout="NCL")
    assert ds.classes == ("2", "10")
    assert ds.y.tolist() == [1, 0, 0, 1]
    assert ds.task == "binary"


def test_task_is_inferred_from_labels() -> None:
    x = np.random.default_rng(0).normal(size=(6, 1, 8))
    assert from_array(x, [0, 1, 2, 0, 1, 2], layout="NCL").task == "multiclass"
    assert from_array(x, np.linspace(0, 1, 6), layout="NCL").task == "regression"
    assert from_array(x, [True, False] * 3, layout="NCL").task == "binary"
    assert from_array(x, [0.0, 1.0] * 3, layout="NCL", task="binary").classes == ("0", "1")


def test_mask_is_derived_from_lengths() -> None:
    ds = synthetic.variable_length_motifs(20, min_length=16, max_length=30)
    mask = ds.mask()
    assert mask.shape == (20, ds.max_length)
    np.testing.assert_array_equal(mask.sum(axis=1), ds.lengths)
    assert (ds.X[~np.broadcast_to(mask[:, None, :], ds.X.shape)] == 0).all()


def test_lengths_argument_zeroes_padding() -> None:
    x = np.ones((2, 1, 5))
    ds = from_array(x, [0, 1], layout="NCL", lengths=[3, 5])
    assert ds.X[0, 0].tolist() == [1, 1, 1, 0, 0]
    assert ds.variable_length


def test_split_is_seeded_and_stratified() -> None:
    ds = synthetic.ordered_motifs(200)
    a_fit, a_val = ds.split(0.25, seed=3)
    _, b_val = ds.split(0.25, seed=3)
    assert a_val.fingerprint() == b_val.fingerprint()
    assert a_val.n_samples == 50 and a_fit.n_samples == 150
    assert abs(int(np.bincount(a_val.y)[0]) - 25) <= 1  # stratified: each class keeps its share
    assert ds.split(0.25, seed=4)[1].fingerprint() != a_val.fingerprint()


def test_group_split_keeps_groups_whole() -> None:
    ds = synthetic.ordered_motifs(120)
    groups = np.arange(120) // 6  # 20 subjects, six sequences each
    grouped = from_array(ds.X, ds.y, layout="NCL", groups=groups)
    fit, val = grouped.split(0.25, seed=0)
    assert fit.groups is not None and val.groups is not None
    assert not set(fit.groups) & set(val.groups)
    assert fit.n_samples + val.n_samples == 120


def test_official_split_comes_from_the_source() -> None:
    ds = synthetic.ordered_motifs(40)
    marked = from_array(ds.X, ds.y, layout="NCL", is_test=np.arange(40) >= 30)
    train, test = marked.official_split()
    assert (train.n_samples, test.n_samples) == (30, 10)
    with pytest.raises(DataError, match="no official train/test split.*split\\("):
        ds.official_split()


def test_subset_trims_padding_to_the_longest_selected() -> None:
    ds = from_array([np.ones(3), np.ones(9), np.ones(4)], [0, 1, 0], layout="NL")
    sub = ds.subset([0, 2])
    assert sub.X.shape == (2, 1, 4)


def test_per_step_labels_are_ignored_past_each_length() -> None:
    seqs = [np.ones(3), np.ones(5)]
    ds = from_array(seqs, np.array([[0, 1, 0, 0, 0], [1, 1, 0, 1, 0]]), layout="NL")
    assert ds.task == "per_step"
    assert ds.y[0].tolist() == [0, 1, 0, IGNORE_INDEX, IGNORE_INDEX]


def test_fingerprint_changes_with_the_data() -> None:
    a = synthetic.ordered_motifs(50, seed=0)
    assert a.fingerprint() == synthetic.ordered_motifs(50, seed=0).fingerprint()
    assert a.fingerprint() != synthetic.ordered_motifs(50, seed=1).fingerprint()


def test_flat_view_is_what_an_mlp_sees() -> None:
    ds = synthetic.ordered_motifs(10, 16, channels=2)
    assert ds.flat().shape == (10, 32)


def test_permute_positions_moves_values_and_names() -> None:
    ds = synthetic.tabular_interactions(10, 4)
    perm = np.array([3, 2, 1, 0])
    out = ds.permute_positions(perm)
    np.testing.assert_array_equal(out.X, ds.X[:, :, ::-1])
    assert out.position_names == ("x3", "x2", "x1", "x0")


def test_summary_names_axes_task_and_split() -> None:
    ds = synthetic.variable_length_motifs(30)
    text = ds.summary()
    assert "(N, C, L)" in text and "variable length" in text and "binary" in text
