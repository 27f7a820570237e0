"""Every layout round-trips to canonical (N, C, L) and back."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from workbench import from_array
from workbench.data.layout import LAYOUTS, sequences_to_canonical, to_canonical
from workbench.errors import LayoutError

N, C, L = 5, 3, 20


@pytest.fixture
def canonical(rng: np.random.Generator) -> np.ndarray:
    return rng.normal(size=(N, C, L)).astype(np.float32)


# What the user holds in each layout, built from one canonical array.
USER_VIEW = {
    "NCL": lambda x: x,
    "NLC": lambda x: x.transpose(0, 2, 1),
    "NL": lambda x: x[:, 0, :],
    "NF": lambda x: x[:, 0, :],
    "CL": lambda x: x[0],
    "LC": lambda x: x[0].T,
}
EXPECTED = {
    "NCL": lambda x: x,
    "NLC": lambda x: x,
    "NL": lambda x: x[:, :1, :],
    "NF": lambda x: x[:, :1, :],
    "CL": lambda x: x[:1],
    "LC": lambda x: x[:1],
}


@pytest.mark.parametrize("layout", LAYOUTS)
def test_every_layout_converts_to_channels_first(layout: str, canonical: np.ndarray) -> None:
    out = to_canonical(USER_VIEW[layout](canonical), layout)
    np.testing.assert_array_equal(out, EXPECTED[layout](canonical))


@pytest.mark.parametrize("layout", LAYOUTS)
def test_every_layout_round_trips_through_a_dataset(layout: str, canonical: np.ndarray) -> None:
    user = USER_VIEW[layout](canonical)
    n = 1 if layout in ("CL", "LC") else N
    ds = from_array(user, np.arange(n) % 2 if n > 1 else 0, layout=layout, task=None if n > 1 else "regression")
    np.testing.assert_array_equal(ds.X, EXPECTED[layout](canonical))
    # and back: NLC users get their own axes again by transposing the canonical array
    if layout == "NLC":
        np.testing.assert_array_equal(ds.X.transpose(0, 2, 1), user)


def test_torch_tensors_are_accepted(canonical: np.ndarray) -> None:
    out = to_canonical(torch.from_numpy(canonical).permute(0, 2, 1), "NLC")
    np.testing.assert_array_equal(out, canonical)


def test_tabular_layout_marks_feature_order_unknown(canonical: np.ndarray) -> None:
    ds = from_array(canonical[:, 0, :], np.arange(N) % 2, layout="NF")
    assert ds.order == "unknown"
    assert from_array(canonical[:, 0, :], np.arange(N) % 2, layout="NL").order == "ordered"


def test_variable_length_lists_convert_per_layout(rng: np.random.Generator) -> None:
    seqs_lc = [rng.normal(size=(length, 2)) for length in (4, 7, 5)]
    out = sequences_to_canonical(seqs_lc, "NLC")
    assert [a.shape for a in out] == [(2, 4), (2, 7), (2, 5)]
    ds = from_array(seqs_lc, [0, 1, 0], layout="NLC")
    assert ds.X.shape == (3, 2, 7)
    assert ds.lengths.tolist() == [4, 7, 5]
    np.testing.assert_array_equal(ds.X[0, :, :4], seqs_lc[0].T.astype(np.float32))
    assert (ds.X[0, :, 4:] == 0).all()


def test_unknown_layout_lists_the_valid_ones() -> None:
    with pytest.raises(LayoutError, match="Unknown layout 'NCHW'.*'NCL'.*'NLC'.*'NF'"):
        to_canonical(np.zeros((2, 3, 4)), "NCHW")


def test_swapped_axes_are_refused_with_the_fix() -> None:
    keras = np.zeros((10, 128, 3))  # (batch, steps, dim) named NCL by mistake
    with pytest.raises(LayoutError, match=r"128 channels of length 3.*layout='NLC'.*permute\(0, 2, 1\)"):
        to_canonical(keras, "NCL")
    assert to_canonical(keras, "NCL", check=False).shape == (10, 128, 3)
    assert to_canonical(keras, "NLC").shape == (10, 3, 128)


def test_wrong_rank_names_the_layouts_that_fit() -> None:
    with pytest.raises(LayoutError, match=r"expects a 3-D array.*got shape \(128, 64\).*layout='NF'.*layout='NL'"):
        to_canonical(np.zeros((128, 64)), "NCL")
    with pytest.raises(LayoutError, match=r"1-D array.*reshape\(1, -1\)"):
        to_canonical(np.zeros(64), "NL")
