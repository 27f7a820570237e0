"""Built-in datasets: the UCR/UEA files that ship inside the installed ``aeon`` wheel and
scikit-learn's bundled tables. Nothing here touches the network."""

from __future__ import annotations

import difflib
import functools
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from workbench.data.dataset import Dataset, make_dataset
from workbench.data.files import load_ts_arrays, no_window
from workbench.data.layout import to_canonical
from workbench.errors import DataError

SKLEARN_DATASETS = {
    "breast_cancer": "load_breast_cancer",
    "wine": "load_wine",
    "iris": "load_iris",
    "digits": "load_digits",
    "diabetes": "load_diabetes",
}


@functools.cache
def _aeon_datasets() -> dict[str, tuple[Path, Path]]:
    """Every classification/regression problem shipped inside the aeon wheel."""
    import aeon.datasets

    root = Path(aeon.datasets.__file__).parent / "data"
    found: dict[str, tuple[Path, Path]] = {}
    for train in sorted(root.glob("*/*_TRAIN.ts")):
        test = train.with_name(train.name.replace("_TRAIN.ts", "_TEST.ts"))
        if test.is_file():
            found[train.name[: -len("_TRAIN.ts")]] = (train, test)
    return found


def is_builtin(name: str) -> bool:
    return name in _aeon_datasets() or name in SKLEARN_DATASETS


def builtin_names() -> list[str]:
    return sorted([*_aeon_datasets(), *SKLEARN_DATASETS], key=str.lower)


def load_builtin(name: str, **kwargs: Any) -> Dataset:
    """Load a built-in dataset by name (see :func:`list_datasets`)."""
    no_window(name, kwargs)
    aeon_sets = _aeon_datasets()
    if name in aeon_sets:
        train, test = aeon_sets[name]
        X_tr, y_tr = load_ts_arrays(train)
        X_te, y_te = load_ts_arrays(test)
        if isinstance(X_tr, list) or isinstance(X_te, list):
            X: np.ndarray | list[np.ndarray] = list(X_tr) + list(X_te)
        else:
            X = np.concatenate([X_tr, X_te])
        is_test = np.r_[np.zeros(len(y_tr), bool), np.ones(len(y_te), bool)]
        return make_dataset(
            X,
            np.concatenate([y_tr, y_te]),
            name=name,
            is_test=is_test,
            source="aeon (UCR/UEA archive, official split)",
            **kwargs,
        )
    if name in SKLEARN_DATASETS:
        import sklearn.datasets

        bunch = getattr(sklearn.datasets, SKLEARN_DATASETS[name])()
        return _sklearn_dataset(name, bunch, **kwargs)
    raise unknown_dataset(name)


def _sklearn_dataset(name: str, bunch: Any, **kwargs: Any) -> Dataset:
    data = np.asarray(bunch.data, dtype=np.float64)
    y = bunch.target
    if name != "diabetes":  # class names read better than codes in summaries and reports
        y = np.asarray(bunch.target_names)[y]
    features = getattr(bunch, "feature_names", None)
    return make_dataset(
        to_canonical(data, "NF"),
        y,
        name=name,
        order="unknown",
        task="regression" if name == "diabetes" else None,
        position_names=[str(f) for f in features] if features is not None else None,
        source="scikit-learn (bundled table, no official split)",
        **kwargs,
    )


def unknown_dataset(name: str) -> DataError:
    names = builtin_names()
    close = difflib.get_close_matches(name, names, n=3, cutoff=0.5)
    close += [n for n in names if n.lower() == name.lower() and n not in close]
    hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
    return DataError(
        f"Unknown dataset {name!r}: it is neither a built-in dataset nor an existing file.{hint} "
        f"Built-in datasets: {', '.join(names)} (workbench.list_datasets() shows their shapes)."
    )


@functools.cache
def _dataset_table() -> pd.DataFrame:
    rows = []
    for name in builtin_names():
        ds = load_builtin(name)
        rows.append(
            {
                "name": name,
                "source": "aeon" if name in _aeon_datasets() else "sklearn",
                "task": ds.task,
                "classes": ds.n_classes or None,
                "samples": ds.n_samples,
                "train": int((~ds.is_test).sum()) if ds.is_test is not None else None,
                "test": int(ds.is_test.sum()) if ds.is_test is not None else None,
                "channels": ds.n_channels,
                "min_length": int(ds.lengths.min()),
                "max_length": int(ds.lengths.max()),
                "variable_length": ds.variable_length,
                "order": ds.order,
            }
        )
    table = pd.DataFrame(rows)
    return table.astype({"classes": "Int64", "train": "Int64", "test": "Int64"})


def list_datasets() -> pd.DataFrame:
    """Every built-in dataset with its task, shape and whether lengths vary.

    All of them ship inside installed packages; nothing is downloaded.
    """
    return _dataset_table().copy()
