"""Sources: arrays, DataFrames, files and built-in datasets → :class:`Dataset`.

Nothing here touches the network: built-in datasets are the files that ship
inside the installed ``aeon`` wheel and scikit-learn's bundled tables.
"""

from __future__ import annotations

import difflib
import errno
import functools
import math
import os
import stat
import warnings
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from workbench.data.dataset import Dataset, make_dataset
from workbench.data.layout import check_layout_name, is_ragged, sequences_to_canonical, to_canonical
from workbench.data.own_split import split_from_column, test_file_beside, with_mask, with_test
from workbench.data.store import is_stored_dataset, read_dataset
from workbench.data.windowing import WindowLabel, suggest_window, windows
from workbench.errors import DataError, DataWarning, LayoutError, short_repr

FILE_SUFFIXES = (".csv", ".parquet", ".pq", ".npy", ".npz", ".ts")


# --------------------------------------------------------------------------- arrays


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
    return (
        f"X is one recording (layout {layout!r}: {what} channels) and y holds a label per step: the samples are "
        f"windows of it. Cut it into windows: workbench.windows(X, y, size={size}, step={step}, layout={layout!r}) "
        f"(the dependence between steps reaches about {reach} steps; a window spans it), or --window {size} --step "
        f"{step} on the command line."
    )


# --------------------------------------------------------------------------- frames


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
    _refuse_duplicate_columns("The DataFrame", df.columns)
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


# --------------------------------------------------------------------------- files


def read_file(
    path: str | Path,
    *,
    layout: str | None = None,
    target: str | None = None,
    x_key: str = "X",
    y_key: str = "y",
    y: Any = None,
    _pair: bool = True,
    **kwargs: Any,
) -> Dataset:
    """Read CSV, Parquet, ``.npy``/``.npz`` or ``.ts`` (UCR/UEA) into a dataset.

    CSV and Parquet go through :func:`from_frame` (``target=`` names the label
    column; ``split_column=`` one that says train or test); ``.npz`` holds ``X`` and ``y``
    arrays, and may hold ``is_test``, ``groups`` and ``lengths``; ``.npy`` holds ``X`` and takes
    ``y=``. ``name_TRAIN.ext`` with ``name_TEST.ext`` beside it is read as one dataset whose test
    split is the second file. Pickled objects are never loaded.
    """
    p = Path(path)
    if p.is_dir():
        found = sorted(f.name for f in p.iterdir() if f.suffix.lower() in FILE_SUFFIXES)
        raise DataError(
            f"{str(p)!r} is a folder, not a data file: pass one of its files"
            + (f", e.g. {', '.join(found[:5])}." if found else f" (it holds none of {', '.join(FILE_SUFFIXES)}).")
        )
    if not p.is_file():
        raise DataError(_not_a_file(p))
    if _pair and kwargs.get("window") is None and (beside := test_file_beside(p)) is not None:
        options = {"layout": layout, "target": target, "x_key": x_key, "y_key": y_key, **kwargs}
        train = read_file(p, **options, _pair=False)
        test = read_file(beside, **options, _pair=False)
        note = f"test split: {beside.name}, found beside {p.name} ({test.n_samples} samples)"
        return replace(with_test(train, test), name=p.stem.removesuffix("_TRAIN"), notes=(*train.notes, note))
    suffix = p.suffix.lower()
    name = kwargs.pop("name", p.stem)
    if suffix in (".csv", ".parquet", ".pq"):
        if target is None:
            raise DataError(f"{p.name}: name the label column with target=... (or --target on the CLI).")
        df = _read_table(p, suffix, target)
        return from_frame(df, target=target, layout=layout or "NF", name=name, **kwargs)
    if suffix in (".npy", ".npz"):
        X, y_file, extra = _read_numpy(p, x_key, y_key)
        labels = y if y is not None else y_file
        for key, values in extra.items():
            kwargs.setdefault(key, values)
        if labels is None:
            raise DataError(f"{p.name} holds no labels: pass y=, or save them in an .npz under key {y_key!r}.")
        if kwargs.get("window") is not None:
            if kwargs.keys() & {"time_col", "group_col"}:
                raise DataError(f"{p.name} holds arrays, not columns: pass time= and groups= to workbench.windows.")
            return windows(
                X,
                labels,
                size=kwargs.pop("window"),
                step=kwargs.pop("step", None),
                label=kwargs.pop("window_label", "last"),
                layout=layout or "LC",
                name=name,
                **kwargs,
            )
        if layout is None:
            raise LayoutError(
                f"{p.name} holds an array of shape {X.shape}: name its layout, e.g. layout='NCL' "
                "(PyTorch), 'NLC' (Keras) or 'NF' (a table)."
            )
        return from_array(X, labels, layout=layout, name=name, **kwargs)
    if suffix == ".ts":
        _no_window(p.name, kwargs)
        return _read_ts(p, name=name, **kwargs)
    raise DataError(f"Cannot read {p.name!r}: unknown file type {suffix!r}. Supported: {', '.join(FILE_SUFFIXES)}.")


def _not_a_file(p: Path) -> str:
    """Why a path that is not a regular file cannot be read: missing, a link that loops or leads
    nowhere, or a FIFO, socket or device (which can be read only once, or never ends)."""
    try:
        mode = p.stat().st_mode
    except FileNotFoundError:
        if p.is_symlink():
            return f"{str(p)!r} is a symbolic link to {str(p.readlink())!r}, which does not exist."
        return f"File {str(p)!r} does not exist (looked in {Path.cwd()})."
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return f"{str(p)!r} is a symbolic link that leads back to itself (a loop); point it at the data file."
        return f"Cannot read {str(p)!r}: {exc.strerror}."
    kind = "a FIFO (named pipe)" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode) else "a device"
    return (
        f"{str(p)!r} is {kind}, not a regular file: the workbench reads a data file more than once (to check, then "
        "to load it). Save the data to a file and pass that."
    )


def _read_table(p: Path, suffix: str, target: str) -> pd.DataFrame:
    kind = suffix[1:].upper()
    try:
        if suffix == ".csv":
            df = _read_csv(p, target)
        else:
            import pyarrow.parquet as pq

            parquet = pq.ParquetFile(p)
            _refuse_duplicate_columns(p.name, parquet.schema_arrow.names)
            _check_array_memory(
                parquet.metadata.num_rows * len(parquet.schema_arrow.names) * 8, f"{p.name} (as float64 columns)"
            )
            df = pd.read_parquet(p)
    except DataError:
        raise
    except Exception as exc:  # parser errors differ per engine; all mean the same to a user
        text = short_repr(str(exc), 200)
        raise DataError(
            f"Cannot read {str(p)!r}: {type(exc).__name__}: {text}. Is the file complete and a valid {kind}?"
        ) from exc
    if df.empty:
        raise DataError(f"{str(p)!r} has no rows.")
    return df


def _read_csv(p: Path, target: str) -> pd.DataFrame:
    """A CSV with its delimiter (',', or ';', tab, '|' where the header shows one) and decimal mark
    (',' only where the feature columns are written with one: European CSVs) found, and its label
    column read as written (:func:`labels_from_text`)."""
    df = pd.read_csv(p)
    sep = ","
    if len(df.columns) == 1 and (other := _other_delimiter(str(df.columns[0]))):
        sep = other
        df = pd.read_csv(p, sep=sep)
    # pandas renames a repeated name ('y', 'y' → 'y', 'y.1'): read the header as written.
    header = pd.read_csv(p, sep=sep, header=None, nrows=1, dtype=str, keep_default_na=False)
    _refuse_duplicate_columns(p.name, [str(v) for v in header.iloc[0]])
    decimal = "," if sep != "," and _decimal_commas(df.drop(columns=[target], errors="ignore")) else "."
    if decimal == ",":
        df = pd.read_csv(p, sep=sep, decimal=",")
    if target in df.columns:
        text = pd.read_csv(p, sep=sep, usecols=[target], dtype=str, keep_default_na=False)[target]
        df[target] = labels_from_text(text, df[target], decimal=decimal)
    return df


DECIMAL_COMMA = r"^\s*[-+]?\d+,\d*([eE][-+]?\d+)?\s*$"


def _decimal_commas(features: pd.DataFrame) -> bool:
    """Whether the columns that are not numbers are numbers written with a decimal comma ('0,126')."""
    text = [c for c in features.columns if not pd.api.types.is_numeric_dtype(features[c])]
    return bool(text) and all(features[c].dropna().astype(str).str.match(DECIMAL_COMMA).all() for c in text)


def labels_from_text(text: pd.Series, parsed: pd.Series, *, decimal: str = ".") -> pd.Series:
    """A label column as its cells are written: ``text`` (every cell as a string, only empty
    cells missing) or ``parsed`` (as pandas read it) where that loses nothing. pandas parses
    '01' and '1' into one integer (two classes merged without a word) and reads a class named
    'NA' or 'null' as missing; those columns keep their text. Numbers stay numbers."""
    written = text.str.strip()
    missing = written == ""
    cells = written[~missing]
    numbers = pd.to_numeric(cells.str.replace(decimal, ".", regex=False), errors="coerce")
    if not (numbers.isna() & (cells.str.lower() != "nan")).any():  # numbers ('nan' a missing one)
        known = numbers.notna()
        whole = bool((numbers[known] == numbers[known].round()).all())
        if not whole or numbers[known].nunique() == cells[known].nunique():
            return parsed  # and no two spellings of one number
    return written.mask(missing)  # text labels; an empty cell is missing


def _refuse_duplicate_columns(where: str, names: Iterable[Any]) -> None:
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


def _other_delimiter(header: str) -> str | None:
    """A CSV read as one column whose name holds ';', tab or '|' was written with that delimiter."""
    return next((sep for sep in (";", "\t", "|") if sep in header), None)


NPZ_EXTRA = ("is_test", "groups", "lengths")  # per-sample arrays an .npz may hold beside X and y


def _read_numpy(p: Path, x_key: str, y_key: str) -> tuple[np.ndarray, np.ndarray | None, dict[str, np.ndarray]]:
    """X, y and the per-sample arrays of NPZ_EXTRA an .npz holds; a key it holds but nothing reads
    is named in a warning (it was dropped without a word: an ``is_test`` split among them)."""
    try:
        if p.suffix.lower() == ".npy":
            with p.open("rb") as f:
                _check_npy_size(f, p.stat().st_size, p.name)
            return np.load(p, allow_pickle=False), None, {}
        with np.load(p, allow_pickle=False) as archive:
            if x_key not in archive.files:
                raise DataError(f"{p.name} has arrays {archive.files} but no {x_key!r}; pass x_key= to choose one.")
            for key in archive.files:
                info = archive.zip.getinfo(f"{key}.npy")
                with archive.zip.open(info) as member:
                    _check_npy_size(member, info.file_size, f"{p.name}[{key!r}]")
            X = archive[x_key]
            y = archive[y_key] if y_key in archive.files else None
            extra = {key: archive[key] for key in NPZ_EXTRA if key in archive.files}
            unread = [key for key in archive.files if key not in {x_key, y_key, *NPZ_EXTRA}]
            if unread:
                warnings.warn(
                    f"{p.name}: the arrays {unread} are not read (only {x_key!r}, {y_key!r} and "
                    f"{', '.join(map(repr, NPZ_EXTRA))} are); rename one to is_test, groups or lengths if it is one.",
                    DataWarning,
                    stacklevel=4,
                )
            return X, y, extra
    except DataError:
        raise
    except ValueError as exc:
        if "pickle" in str(exc):
            raise DataError(
                f"{p.name} stores Python objects, which would need unpickling; the workbench never "
                "unpickles files. Save plain numeric arrays (np.savez(path, X=X, y=y))."
            ) from exc
        raise DataError(f"Cannot read {str(p)!r}: {exc}. Is the file truncated?") from exc
    except (OSError, EOFError, zipfile.BadZipFile) as exc:
        raise DataError(f"Cannot read {str(p)!r}: {type(exc).__name__}: {exc}. Is the file truncated?") from exc


def _check_npy_size(f: Any, file_size: int, what: str) -> None:
    """Read an .npy header and refuse an array the file cannot hold, or the memory cannot,
    before allocating it: a damaged or crafted header can claim terabytes, and a compressed
    .npz entry can claim (and truly hold) a thousand times its size on disk."""
    npy: Any = np.lib.format  # untyped in numpy's stubs
    version = npy.read_magic(f)
    read_header = npy.read_array_header_1_0 if version == (1, 0) else npy.read_array_header_2_0
    shape, _, dtype = read_header(f)
    claimed = int(np.prod(shape, dtype=object)) * dtype.itemsize
    if claimed > file_size:
        raise DataError(
            f"{what}: its header claims an array of shape {shape} ({claimed / 2**30:.3g} GiB of {dtype}) but the "
            f"file holds {file_size / 2**20:.3g} MiB. The file is truncated or damaged; write it again (np.save)."
        )
    _check_array_memory(claimed, f"{what} (shape {shape}, {dtype})")


MAX_ARRAY_ENV = "WORKBENCH_MAX_ARRAY_GB"
DEFAULT_MAX_ARRAY_GB = 4.0  # a billion float32 values; set WORKBENCH_MAX_ARRAY_GB to read more


def max_array_bytes() -> int:
    """The largest array a file may hold: ``WORKBENCH_MAX_ARRAY_GB`` (GiB), default 4."""
    text = os.environ.get(MAX_ARRAY_ENV, "")
    try:
        gib = float(text) if text else DEFAULT_MAX_ARRAY_GB
    except ValueError:
        raise DataError(f"{MAX_ARRAY_ENV}={text!r} is not a number of GiB (e.g. {MAX_ARRAY_ENV}=16).") from None
    return int(gib * 2**30)


def _check_array_memory(claimed: int, what: str) -> None:
    """Refuse, before decompressing or allocating, an array over the cap or over what this
    machine has free: reading it needs the array and its float32 copy."""
    cap = max_array_bytes()
    if claimed > cap:
        raise DataError(
            f"{what} holds {claimed / 2**30:.3g} GiB, more than the {cap / 2**30:.3g} GiB the workbench reads from one "
            f"file. If the data is real and the machine has the memory, raise the cap: {MAX_ARRAY_ENV}="
            f"{math.ceil(2 * claimed / 2**30)}."
        )
    free = available_memory()
    if free is not None and 1.5 * claimed > free:
        raise DataError(
            f"{what} holds {claimed / 2**30:.3g} GiB, and reading it needs about {1.5 * claimed / 2**30:.3g} GiB; "
            f"this machine has {free / 2**30:.3g} GiB free. Free memory, or load a part of the data."
        )


def available_memory() -> int | None:
    """Bytes of memory this process can still take (Linux: MemAvailable, within a cgroup's limit);
    None where it cannot be read."""
    free: int | None = None
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    free = int(line.split()[1]) * 1024
    except (OSError, ValueError):
        return None
    try:  # cgroup v2 (containers): the limit left
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        used = int(Path("/sys/fs/cgroup/memory.current").read_text())
        if limit != "max" and free is not None:
            free = min(free, int(limit) - used)
    except (OSError, ValueError):
        pass
    return free


def _read_ts(p: Path, *, name: str, is_test: Any = None, **kwargs: Any) -> Dataset:
    X, y = _load_ts_arrays(p)
    seqs = X if isinstance(X, list) else None
    return make_dataset(
        seqs if seqs is not None else X,
        y,
        name=name,
        is_test=is_test,
        source=f"ts file {p.name}",
        **kwargs,
    )


def _load_ts_arrays(p: Path) -> tuple[np.ndarray | list[np.ndarray], np.ndarray]:
    from aeon.datasets import load_from_ts_file

    try:
        X, y = load_from_ts_file(str(p))
    except Exception as exc:  # aeon raises IOError/ValueError/IndexError for broken files
        raise DataError(f"Cannot read {str(p)!r} as a .ts (UCR/UEA) file: {type(exc).__name__}: {exc}") from exc
    if len(X) == 0 or len(y) == 0:
        raise DataError(_no_series(p))
    if isinstance(X, list):
        return [np.asarray(a, dtype=np.float64) for a in X], np.asarray(y)
    return np.asarray(X, dtype=np.float64), np.asarray(y)


def _no_series(p: Path) -> str:
    with p.open(errors="replace") as f:
        has_data = any(line.strip().lower().startswith("@data") for line in f)
    if not has_data:
        return (
            f"{p.name} has no '@data' line: a .ts file lists its series after the header line '@data' "
            "(one series per line, values separated by ',', the label after ':'). Is the file complete?"
        )
    return f"{p.name} has an '@data' line but no series after it. Is the file complete?"


# --------------------------------------------------------------------------- built-ins

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


def builtin_names() -> list[str]:
    return sorted([*_aeon_datasets(), *SKLEARN_DATASETS], key=str.lower)


def load_builtin(name: str, **kwargs: Any) -> Dataset:
    """Load a built-in dataset by name (see :func:`list_datasets`)."""
    _no_window(name, kwargs)
    aeon_sets = _aeon_datasets()
    if name in aeon_sets:
        train, test = aeon_sets[name]
        X_tr, y_tr = _load_ts_arrays(train)
        X_te, y_te = _load_ts_arrays(test)
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


def _no_window(name: str, kwargs: dict[str, Any]) -> None:
    if kwargs.get("window") is not None or kwargs.get("step") is not None:
        raise DataError(
            f"{name!r} already holds one sequence per sample; window= and step= cut one long recording (a table "
            "with a row per time step, or an (T, C) array) into samples. Drop --window/--step for this dataset."
        )
    for key in ("window", "step", "window_label"):
        kwargs.pop(key, None)


def unknown_dataset(name: str) -> DataError:
    names = builtin_names()
    close = difflib.get_close_matches(name, names, n=3, cutoff=0.5)
    close += [n for n in names if n.lower() == name.lower() and n not in close]
    hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
    return DataError(
        f"Unknown dataset {name!r}: it is neither a built-in dataset nor an existing file.{hint} "
        f"Built-in datasets: {', '.join(names)} (workbench.list_datasets() shows their shapes)."
    )


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
        if text in _aeon_datasets() or text in SKLEARN_DATASETS:
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
