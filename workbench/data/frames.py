"""Data in memory → :class:`Dataset`: arrays in a named layout, and DataFrames (wide: one row per
sample; long: one row per time step; or one long recording to cut into windows)."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from workbench.data.dataset import Dataset, make_dataset
from workbench.data.layout import check_layout_name, is_ragged, sequences_to_canonical, to_canonical
from workbench.data.own_split import split_from_column, with_mask
from workbench.data.windowing import WindowLabel, suggest_window, windows
from workbench.errors import DataError, LayoutError, current_interface, options


def from_array(
    X: Any,
    y: Any,
    *,
    layout: str,
    task: str | None = None,
    lengths: Any = None,
    name: str = "array",
    channel_names: Sequence[str] | None = None,
    position_names: Sequence[str] | None = None,
    static: Any = None,
    static_names: Sequence[str] | None = None,
    groups: Any = None,
    is_test: Any = None,
    impute: str | None = None,
    check_layout: bool = True,
) -> Dataset:
    """Build a dataset from an array (or a list of variable-length arrays).

    ``layout`` names the axes of ``X`` once: ``"NCL"``, ``"NLC"`` (Keras),
    ``"NL"``, ``"NF"`` (tabular, order unknown), ``"CL"``/``"LC"`` (one sample).

    >>> ds = from_array(np.random.rand(128, 64), np.arange(128) % 2, layout="NF")
    >>> ds.X.shape
    (128, 1, 64)
    """
    name_ = check_layout_name(layout)
    canonical: np.ndarray | list[np.ndarray]
    canonical = sequences_to_canonical(X, name_) if is_ragged(X) else to_canonical(X, name_, check=check_layout)
    if name_ in ("CL", "LC") and np.ndim(y) == 0:
        y = np.asarray([y])
    if name_ in ("CL", "LC") and not is_ragged(X) and np.ndim(y) == 1 and len(y) > 1:
        raise DataError(_one_recording(np.asarray(X), np.asarray(y), name_))
    return make_dataset(
        canonical,
        y,
        task=task,
        lengths=lengths,
        name=name,
        order="unknown" if name_ == "NF" else "ordered",
        channel_names=channel_names,
        position_names=position_names,
        static=static,
        static_names=static_names,
        groups=groups,
        is_test=is_test,
        impute=impute,
        source=f"array, layout {name_}",
    )


def _one_recording(X: np.ndarray, y: np.ndarray, layout: str) -> str:
    """One sample with many labels is one long recording with a label per step: the call
    that cuts it into windows, sized from how far the dependence between steps reaches."""
    rec = X.reshape(-1, 1) if X.ndim == 1 else X if layout == "LC" else X.T  # (T, C)
    steps, channels = rec.shape
    what = f"{steps} steps × {channels}"
    if len(y) != steps:
        return (
            f"X is one recording (layout {layout!r}: {what} channels) but y holds {len(y)} labels. As one sample "
            f"it takes one label; as a recording to cut into windows (workbench.windows), one label per step ({steps})."
        )
    size, step, reach = suggest_window(rec, y)
    if current_interface() == "python":
        fix = f"workbench.windows(X, y, size={size}, step={step}, layout={layout!r})"
    else:  # an array file read by the command line or a config
        fix = options(window=size, step=step)
    return (
        f"X is one recording (layout {layout!r}: {what} channels) and y holds a label per step: the samples are "
        f"windows of it. Cut it into windows: {fix} (the dependence between steps reaches about {reach} steps; "
        "a window spans it)."
    )


def from_frame(
    df: pd.DataFrame,
    *,
    target: str,
    layout: str = "NF",
    id_col: str | None = None,
    time_col: str | None = None,
    group_col: str | None = None,
    static_cols: Sequence[str] = (),
    feature_cols: Sequence[str] | None = None,
    task: str | None = None,
    name: str = "frame",
    impute: str | None = None,
    window: int | None = None,
    step: int | None = None,
    window_label: WindowLabel = "last",
    split_column: str | None = None,
) -> Dataset:
    """Build a dataset from a DataFrame, wide or long.

    *Wide* (no ``id_col``): one row per sample; the feature columns are tabular
    features (``layout="NF"``) or the time steps of one channel (``layout="NL"``).

    *Long* (``id_col`` and ``time_col``): one row per (sequence, time step);
    every remaining numeric column is a channel, ``target`` is one label per
    sequence (or per step, which makes a per-step task), ``group_col`` keeps a
    subject's sequences on one side of every split.

    *One long recording* (``window=``): one row per time step, a column per sensor,
    ``target`` a label per step; windows of ``window`` steps, ``step`` apart, become
    the samples (:func:`workbench.windows`). ``group_col`` (or ``id_col``) names the
    recording of each row, ``time_col`` its time stamp.

    ``split_column`` names a column that says, for each row, whether it is training or test data
    (``train``/``test``, booleans, or 0/1 with 1 the test): a test split of your own, kept apart by
    every study.
    """
    refuse_duplicate_columns("The DataFrame", df.columns)
    _require_columns(df, [target], "target")
    if split_column is not None:
        _require_columns(df, [split_column], "split column")
        if window is not None:
            raise DataError(
                "split_column= marks samples, and windows of one recording are cut later: split the recording "
                "by time instead (a study holds out the last part of each recording)."
            )
        is_test = split_from_column(df[split_column], split_column)
        rest = df.drop(columns=[split_column])
        if id_col is not None:  # one value per sequence: its first row's
            first = df.groupby(id_col, sort=True)[split_column].first()
            is_test = split_from_column(first, split_column)
        return with_mask(
            from_frame(
                rest,
                target=target,
                layout=layout,
                id_col=id_col,
                time_col=time_col,
                group_col=group_col,
                static_cols=static_cols,
                feature_cols=feature_cols,
                task=task,
                name=name,
                impute=impute,
            ),
            is_test,
        )
    if window is not None:
        return _windowed_frame(
            df,
            target=target,
            size=window,
            step=step,
            label=window_label,
            time_col=time_col,
            recording_col=group_col or id_col,
            feature_cols=feature_cols,
            task=task,
            name=name,
            impute=impute,
        )
    if step is not None:
        raise DataError("step= goes with window= (the window size in time steps); pass both, e.g. window=64, step=16.")
    if id_col is not None:
        return _from_long_frame(
            df,
            target=target,
            id_col=id_col,
            time_col=time_col,
            group_col=group_col,
            static_cols=static_cols,
            feature_cols=feature_cols,
            task=task,
            name=name,
            impute=impute,
        )
    if layout not in ("NF", "NL"):
        raise LayoutError(
            f"A wide DataFrame (one row per sample) takes layout 'NF' (columns are unordered "
            f"features) or 'NL' (columns are time steps), not {layout!r}. For one row per time "
            "step, pass id_col= and time_col= (long format)."
        )
    skip = {target, *static_cols, *([group_col] if group_col else [])}
    cols = list(feature_cols) if feature_cols is not None else [c for c in df.columns if c not in skip]
    _require_columns(df, [*cols, *static_cols, *([group_col] if group_col else [])], "column")
    _require_numeric(df, cols, target)
    if df[target].isna().any():
        rows = df.index[df[target].isna()][:10].tolist()
        raise DataError(f"Target column {target!r} is missing at rows {rows}; drop or fix those rows.")
    return from_array(
        df[cols].to_numpy(dtype=np.float64),
        df[target].to_numpy(),
        layout=layout,
        task=task,
        name=name,
        position_names=[str(c) for c in cols] if layout == "NF" else None,
        static=df[list(static_cols)].to_numpy(dtype=np.float64) if static_cols else None,
        static_names=[str(c) for c in static_cols] or None,
        groups=df[group_col].to_numpy() if group_col else None,
        impute=impute,
    )


def _from_long_frame(
    df: pd.DataFrame,
    *,
    target: str,
    id_col: str,
    time_col: str | None,
    group_col: str | None,
    static_cols: Sequence[str],
    feature_cols: Sequence[str] | None,
    task: str | None,
    name: str,
    impute: str | None,
) -> Dataset:
    keys = [id_col, *([time_col] if time_col else []), *([group_col] if group_col else [])]
    _require_columns(df, [*keys, *static_cols], "column")
    skip = {target, *keys, *static_cols}
    cols = list(feature_cols) if feature_cols is not None else [c for c in df.columns if c not in skip]
    if not cols:
        raise DataError(f"Long DataFrame has no value columns besides {sorted(skip)}.")
    _require_columns(df, cols, "value column")
    _require_numeric(df, cols, target)
    if time_col is not None:
        dup = df.duplicated([id_col, time_col])
        if dup.any():
            row = df.index[dup][0]
            raise DataError(
                f"Rows repeat the same ({id_col!r}, {time_col!r}) pair, first at row {row} "
                f"({df.loc[row, id_col]!r}, {df.loc[row, time_col]!r}); each time step of a "
                "sequence must appear once. Aggregate or drop duplicates first."
            )
        df = df.sort_values([id_col, time_col], kind="stable")
    seqs: list[np.ndarray] = []
    labels: list[Any] = []
    per_step = False
    statics: list[np.ndarray] = []
    groups: list[Any] = []
    ids = []
    for seq_id, part in df.groupby(id_col, sort=True):
        seqs.append(part[cols].to_numpy(dtype=np.float64).T)  # (C, L_i)
        values = part[target].to_numpy()
        per_step = per_step or len(pd.unique(values)) > 1
        labels.append(values)
        ids.append(seq_id)
        if static_cols:
            statics.append(part[list(static_cols)].iloc[0].to_numpy(dtype=np.float64))
        if group_col:
            g = pd.unique(part[group_col])
            if len(g) > 1:
                raise DataError(
                    f"Sequence {seq_id!r} spans groups {list(g)[:3]} in {group_col!r}; a sequence belongs to one group."
                )
            groups.append(g[0])
    if per_step:
        max_len = max(s.shape[1] for s in seqs)
        y = np.full((len(seqs), max_len), -100, dtype=np.int64)
        raw = np.concatenate(labels)
        _, codes = np.unique(raw.astype(str), return_inverse=True)
        pos = 0
        for i, values in enumerate(labels):
            y[i, : len(values)] = codes[pos : pos + len(values)]
            pos += len(values)
        y_arg: Any = y
    else:
        y_arg = np.array([v[0] for v in labels])
    lengths = {s.shape[1] for s in seqs}
    X: np.ndarray | list[np.ndarray] = np.stack(seqs) if len(lengths) == 1 else seqs
    return make_dataset(
        X,
        y_arg,
        task="per_step" if per_step else task,
        name=name,
        channel_names=[str(c) for c in cols],
        static=np.stack(statics) if statics else None,
        static_names=[str(c) for c in static_cols] or None,
        groups=np.asarray(groups) if group_col else None,
        impute=impute,
        source=f"long frame ({len(ids)} ids)",
    )


def _windowed_frame(
    df: pd.DataFrame,
    *,
    target: str,
    size: int,
    step: int | None,
    label: WindowLabel,
    time_col: str | None,
    recording_col: str | None,
    feature_cols: Sequence[str] | None,
    task: str | None,
    name: str,
    impute: str | None,
) -> Dataset:
    keys = [c for c in (time_col, recording_col) if c is not None]
    _require_columns(df, keys, "column")
    skip = {target, *keys}
    cols = list(feature_cols) if feature_cols is not None else [c for c in df.columns if c not in skip]
    if not cols:
        raise DataError(f"The frame has no sensor columns besides {sorted(skip)}.")
    _require_columns(df, cols, "column")
    _require_numeric(df, cols, target)
    if df[target].isna().any():
        rows = df.index[df[target].isna()][:10].tolist()
        raise DataError(f"Target column {target!r} is missing at rows {rows}; drop or fix those rows.")
    return windows(
        df[cols].to_numpy(dtype=np.float32),  # the one copy (float32, time × channels)
        df[target].to_numpy(),
        size=size,
        step=step,
        layout="LC",
        label=label,
        groups=df[recording_col].to_numpy() if recording_col else None,
        time=df[time_col].to_numpy() if time_col else None,
        task=task,
        impute=impute,
        name=name,
        channel_names=[str(c) for c in cols],
        source=f"frame of {len(df)} time steps × {len(cols)} channels, windows of {size} (step {step or size})",
    )


def _require_columns(df: pd.DataFrame, cols: Sequence[str], what: str) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        have = ", ".join(map(repr, list(df.columns)[:20]))
        close = difflib.get_close_matches(str(missing[0]), [str(c) for c in df.columns], n=3)
        hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
        raise DataError(f"{what} {missing[0]!r} is not in the data.{hint} Columns: {have}.")


def _require_numeric(df: pd.DataFrame, cols: Sequence[str], target: str) -> None:
    bad = [c for c in cols if not pd.api.types.is_numeric_dtype(df[c])]
    if bad:
        example = df[bad[0]].dropna().iloc[0] if df[bad[0]].notna().any() else None
        raise DataError(
            f"Column(s) {bad[:5]} are not numeric (e.g. {bad[0]!r} holds {example!r}). Encode them "
            f"(pandas.get_dummies for categories), drop them, or pass feature_cols= to choose the "
            f"numeric columns. If {bad[0]!r} is the label, pass target={bad[0]!r} (now {target!r})."
        )


def refuse_duplicate_columns(where: str, names: Iterable[Any]) -> None:
    """Two columns with one name are ambiguous: read as a label, one of them would silently
    become a feature under a renamed name ('y.1')."""
    names = list(names)
    seen: dict[str, int] = {}
    for i, name in enumerate(names):
        if name in seen:
            repeated = ", ".join(map(repr, sorted({str(n) for n in names if names.count(n) > 1})[:5]))
            raise DataError(
                f"{where} has more than one column named {repeated} (columns {seen[name] + 1} and {i + 1}, counting "
                "from 1): the workbench cannot tell which is meant. Rename or drop the repeats, "
                "then load it again."
            )
        seen[name] = i
