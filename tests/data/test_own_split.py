"""A test split of the user's own, in every form (issue 37): a second dataset or array, a mask, a
split column, an ``is_test`` key in an .npz, a ``_TRAIN``/``_TEST`` pair of files."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import workbench as wb
from workbench import DataError
from workbench.errors import DataWarning


def _xy(n: int, seed: int = 0, classes: tuple[str, ...] = ("a", "b")) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 2, 16)), np.array(classes * n)[:n]


def test_a_second_array_or_a_mask_becomes_the_test_split() -> None:
    X, y = _xy(30)
    X2, y2 = _xy(10, seed=1, classes=("b", "c"))  # a class only the test split holds
    ds = wb.load(X, y=y, layout="NCL", test=(X2, y2))
    assert ds.has_official_split and int(ds.is_test.sum()) == 10 and ds.classes == ("a", "b", "c")  # type: ignore[union-attr]
    _, test = ds.official_split()
    np.testing.assert_allclose(test.X, X2.astype(np.float32))
    assert [ds.classes[i] for i in test.y] == list(y2)  # type: ignore[index]
    masked = wb.load(X, y=y, layout="NCL", test=np.arange(30) >= 24)
    assert masked.official_split()[1].n_samples == 6
    with pytest.raises(DataError, match="channel"):
        wb.load(X, y=y, layout="NCL", test=(X2[:, :1], y2))


def test_a_train_file_reads_the_test_file_beside_it(tmp_path: Path) -> None:
    """Before: `workbench study Coffee_TRAIN.ts` ignored the Coffee_TEST.ts beside it."""
    X, y = _xy(20)
    frame = pd.DataFrame(X.reshape(20, -1), columns=[f"f{i}" for i in range(32)]).assign(y=y)
    frame[:14].to_csv(tmp_path / "shop_TRAIN.csv", index=False)
    frame[14:].to_csv(tmp_path / "shop_TEST.csv", index=False)
    ds = wb.load(tmp_path / "shop_TRAIN.csv", target="y")
    assert ds.has_official_split and int(ds.is_test.sum()) == 6 and ds.name == "shop"  # type: ignore[union-attr]
    assert any("shop_TEST.csv, found beside shop_TRAIN.csv" in note for note in ds.notes)


def test_an_npz_keeps_its_split_and_names_the_arrays_it_does_not_read(tmp_path: Path) -> None:
    """Before: an `is_test` array in an .npz was ignored without a word."""
    X, y = _xy(20)
    path = tmp_path / "data.npz"
    np.savez(path, X=X, y=y, is_test=np.arange(20) >= 15, weights=np.ones(20))
    with pytest.warns(DataWarning, match=r"the arrays \['weights'\] are not read"):
        ds = wb.load(path, layout="NCL")
    assert ds.has_official_split and int(ds.is_test.sum()) == 5  # type: ignore[union-attr]
    np.savez(path, X=X, y=y, groups=np.arange(20) % 4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing unread: no warning
        assert wb.load(path, layout="NCL").groups is not None


def test_a_split_column_marks_the_test_rows_and_is_no_feature(tmp_path: Path) -> None:
    X, y = _xy(20)
    frame = pd.DataFrame(X[:, 0], columns=[f"f{i}" for i in range(16)]).assign(y=y)
    frame["part"] = ["train"] * 15 + ["TEST"] * 5
    frame.to_csv(tmp_path / "t.csv", index=False)
    ds = wb.load(tmp_path / "t.csv", target="y", split_column="part")
    assert int(ds.is_test.sum()) == 5 and ds.max_length == 16  # type: ignore[union-attr]
    frame.loc[0, "part"] = "later"
    with pytest.raises(DataError, match=r"Split column 'part' holds \['later'\]"):
        wb.from_frame(frame, target="y", split_column="part")
