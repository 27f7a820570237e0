"""``load``: any source → :class:`Dataset`, with a test split of the user's own where given.

A built-in name (``builtins.py``), a file or a stored dataset's folder (``files.py``,
``store.py``), a Dataset, an array or a DataFrame (``frames.py``). Nothing here touches the
network: built-in datasets are the files that ship inside installed packages.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from workbench.data.builtins import is_builtin, load_builtin, unknown_dataset
from workbench.data.dataset import Dataset
from workbench.data.files import FILE_SUFFIXES, read_file
from workbench.data.frames import from_array, from_frame
from workbench.data.own_split import with_mask, with_test
from workbench.data.store import is_stored_dataset, read_dataset
from workbench.data.windowing import windows
from workbench.errors import DataError


def load(source: Any, *, test: Any = None, **kwargs: Any) -> Dataset:
    """Load a dataset from a built-in name, a file path, a stored dataset's folder, an array or a
    DataFrame.

    ``test``: a test split of your own, which every study keeps apart: a second dataset, file,
    DataFrame or ``(X, y)`` pair, read with the same options, or a boolean mask of the samples
    that are the test split. A ``*_TRAIN`` file with a ``*_TEST`` file beside it is read as such a
    pair by itself (and says so in its notes).

    >>> ds = load("GunPoint")
    >>> ds.X.shape, ds.task
    ((200, 1, 150), 'binary')
    """
    kwargs = {k: v for k, v in kwargs.items() if v is not None}  # unset CLI/config options keep defaults
    if test is None:
        return _load_one(source, **kwargs)
    train = _load_one(source, **kwargs)
    if _is_mask(test, train.n_samples):
        return with_mask(train, test)
    if isinstance(test, tuple) and len(test) == 2 and not isinstance(test[0], str):
        # Arrays beside a Dataset are laid out as its data was given (a table NF, sequences NCL, as the
        # dataset itself is), unless another layout is named.
        canonical = "NF" if train.order == "unknown" else "NCL"
        layout = kwargs.get("layout") or (canonical if isinstance(source, Dataset) else None)
        test_ds = _load_one(test[0], **{**kwargs, "y": test[1], "layout": layout})
    else:
        test_ds = _load_one(test, **{k: v for k, v in kwargs.items() if k != "y"})
    combined = with_test(train, test_ds)
    note = f"test split: {getattr(test_ds, 'name', 'test')} ({test_ds.n_samples} samples), given with test="
    return replace(combined, notes=(*train.notes, note))


def _is_mask(values: Any, n: int) -> bool:
    if isinstance(values, str | Path | Dataset | pd.DataFrame | tuple):
        return False
    array = np.asarray(values)
    return array.dtype == bool and array.ndim == 1


def _load_one(source: Any, **kwargs: Any) -> Dataset:
    if isinstance(source, Dataset):
        return source
    if isinstance(source, pd.DataFrame):
        return from_frame(source, **kwargs)
    if isinstance(source, str | Path):
        text = str(source)
        if is_builtin(text):
            return load_builtin(text, **kwargs)
        p = Path(text)
        if is_stored_dataset(p):
            return read_dataset(p)
        if p.suffix.lower() in FILE_SUFFIXES or p.exists() or p.is_symlink():
            return read_file(p, **kwargs)
        raise unknown_dataset(text)
    if "y" not in kwargs:
        raise DataError("Loading an array needs labels: load(X, y=..., layout=...).")
    y = kwargs.pop("y")
    if "window" in kwargs:
        return windows(source, y, size=kwargs.pop("window"), label=kwargs.pop("window_label", "last"), **kwargs)
    return from_array(source, y, **kwargs)
