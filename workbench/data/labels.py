"""Labels: class indices or values with their task (binary, multiclass, regression, per-step),
inferred when none is named and said in words; per-step labels aligned to each sequence's length."""

from __future__ import annotations

from typing import Any, Literal, get_args

import numpy as np

from workbench.data.values import as_float
from workbench.errors import DataError, LayoutError

Task = Literal["binary", "multiclass", "regression", "per_step"]
TASKS: tuple[str, ...] = get_args(Task)

# Labels whose task nobody would read otherwise (text classes, booleans, a table of per-step
# labels): their inference is not worth a line.
OBVIOUS_TASKS = ("the labels are text", "the labels are booleans", "the labels are a table", "the labels are a few")
FEW_CLASSES = 20  # whole-number labels with at most this many values read as classes without a word

# Per-step labels past a sequence's length; the value torch's cross-entropy ignores.
IGNORE_INDEX = -100


def encode_labels(
    y: Any, *, n_samples: int, task: str | None, name: str
) -> tuple[np.ndarray, Task, tuple[str, ...] | None]:
    """Labels to ``int64`` class indices or ``float32`` values, with the task.

    Unless ``task`` says otherwise (:func:`infer_task`): floats mean regression, but for two
    whole numbers (0.0/1.0, as pandas and numpy store classes with a gap); integers, strings
    and booleans mean classification; a 2-D ``(N, L)`` array means per-step labels.
    """
    if y is None:
        raise DataError(f"Dataset {name!r} has no labels: pass y= (one label per sample).")
    arr = np.asarray(y.to_numpy() if hasattr(y, "to_numpy") else y)
    if arr.ndim == 0 or arr.shape[0] != n_samples:
        got = "a scalar" if arr.ndim == 0 else f"{arr.shape[0]} labels"
        raise DataError(
            f"Dataset {name!r} has {n_samples} samples but {got} (y shape {arr.shape}). "
            "There must be one label per sample (or one per time step, shape (N, L)); "
            "check that X and y come from the same rows and that the layout is right."
        )
    if arr.ndim > 2:
        raise DataError(f"y must be (N,) or (N, L) for per-step labels, got shape {arr.shape}.")
    kind: str
    if arr.ndim == 2:
        if task not in (None, "per_step"):
            raise DataError(f"y has shape {arr.shape} (one label per step), so task must be 'per_step', not {task!r}.")
        kind = "per_step"
    elif task is not None:
        kind = task
    else:
        kind = "regression" if infer_task(arr)[0] == "regression" else "classification"
    if kind == "regression":
        values = as_float(arr, "y")
        if not np.isfinite(values).all():
            rows = np.flatnonzero(~np.isfinite(values))[:10].tolist()
            raise DataError(f"Dataset {name!r} has NaN/inf labels at rows {rows}; drop or fix those rows.")
        if n_samples > 1 and values.min() == values.max():
            raise DataError(
                f"Dataset {name!r} has the same label ({values[0]:g}) for every sample: a regression has nothing "
                "to predict. Check the label column (or the rows that were selected)."
            )
        return values.astype(np.float32), "regression", None
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        rows = np.unique(np.argwhere(~np.isfinite(arr))[:, 0])[:10].tolist()
        raise DataError(f"Dataset {name!r} has missing labels at rows {rows}; drop or fix those rows.")
    if arr.dtype.kind == "O":
        missing = [i for i, v in enumerate(arr.ravel()) if v is None or v != v][:10]
        if missing:
            raise DataError(f"Dataset {name!r} has missing labels at rows {missing}; drop or fix those rows.")
    valid = arr != IGNORE_INDEX if arr.ndim == 2 and arr.dtype.kind in "iu" else np.ones(arr.shape, bool)
    uniques = _sorted_labels(arr[valid])
    if n_samples < 2:
        raise DataError(
            f"Dataset {name!r} has {n_samples} sample: a model learns from many, and a study needs at least "
            "two per class to split. Is the whole array one sample? Check its layout (e.g. layout='NL' for "
            "one sequence per row). If it is one long recording (a row per time step), cut it into samples: "
            "workbench.windows(X, y, size=64, step=16, layout='LC') with a label per step."
        )
    if len(uniques) < 2:
        raise DataError(
            f"Dataset {name!r} has a single class ({uniques[0] if uniques else 'none'!r}): there is "
            "nothing to tell apart. Check the label column, or pass task='regression' for values."
        )
    codes = _codes(arr, valid, uniques)
    if kind == "classification":
        kind = "binary" if len(uniques) == 2 else "multiclass"
    if kind not in ("binary", "multiclass", "per_step"):
        raise DataError(f"task={task!r} does not fit labels {uniques[:5]}…")
    if kind == "binary" and len(uniques) != 2:
        raise DataError(f"task='binary' but y has {len(uniques)} classes: use task='multiclass'.")
    return codes, kind, tuple(uniques)  # type: ignore[return-value]


def infer_task(y: Any) -> tuple[str, str]:
    """The task that labels ``y`` imply when none is named, and why, in words: ``("regression",
    "the labels are numbers with 87 distinct values")``. The kind is ``regression``,
    ``classification`` (binary or multiclass by the number of classes) or ``per_step``."""
    arr = np.asarray(y.to_numpy() if hasattr(y, "to_numpy") else y)
    if arr.ndim == 2:
        return "per_step", "the labels are a table (N, L): one label per time step"
    if arr.dtype.kind == "f":
        finite = arr[np.isfinite(arr)]
        distinct = np.unique(finite)
        if len(distinct) == 2 and bool(np.all(distinct == np.round(distinct))):
            shown = "/".join(f"{v:.1f}" for v in distinct)
            return "classification", f"the labels are floats but only two whole numbers ({shown}): two classes"
        return "regression", f"the labels are numbers with {len(distinct)} distinct values"
    if arr.dtype.kind == "b":
        return "classification", "the labels are booleans"
    if arr.dtype.kind in "iu":
        n_values = len(np.unique(arr))
        if n_values <= FEW_CLASSES:
            return "classification", f"the labels are a few whole numbers ({n_values} distinct): classes"
        return "classification", f"the labels are whole numbers ({n_values} distinct): classes"
    return "classification", "the labels are text: classes"


def _codes(arr: np.ndarray, valid: np.ndarray, uniques: list[str]) -> np.ndarray:
    """Class index of each label (IGNORE_INDEX where not valid), one dictionary lookup per
    distinct value: a recording's millions of per-step labels encode in a second."""
    lookup = {u: i for i, u in enumerate(uniques)}
    codes = np.full(arr.shape, IGNORE_INDEX, dtype=np.int64)
    try:
        values, inverse = np.unique(arr[valid], return_inverse=True)
    except TypeError:  # objects of mixed types do not sort: one lookup per label
        codes[valid] = [lookup[_label_key(v)] for v in arr[valid]]
        return codes
    codes[valid] = np.array([lookup[_label_key(v)] for v in values], dtype=np.int64)[inverse.ravel()]
    return codes


def _label_key(v: Any) -> str:
    if isinstance(v, float | np.floating) and float(v).is_integer():
        return str(int(v))
    return str(v)


def _sorted_labels(values: np.ndarray) -> list[str]:
    try:
        distinct = np.unique(values)
    except TypeError:  # objects of mixed types do not sort
        distinct = values.ravel()
    keys = sorted({_label_key(v) for v in distinct})
    try:  # numeric labels sort as numbers: "2" before "10"
        return sorted(keys, key=float)
    except ValueError:
        return keys


def align_per_step(y: np.ndarray, shape: tuple[int, ...], lengths: np.ndarray, name: str) -> np.ndarray:
    _, channels, length = shape
    if y.shape[1] != length:
        hint = ""
        if y.shape[1] == channels:
            hint = " Its length matches the channel axis instead: the layout is probably swapped ('NCL' ↔ 'NLC')."
        raise LayoutError(
            f"Dataset {name!r}: per-step labels have length {y.shape[1]} but the sequences have "
            f"length {length} (X is (N, C, L) = {shape}).{hint}"
        )
    y = y.copy()
    y[np.arange(length)[None, :] >= lengths[:, None]] = IGNORE_INDEX
    return y
