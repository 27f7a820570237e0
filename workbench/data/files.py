"""Files → :class:`Dataset`: CSV, Parquet, NumPy (.npy/.npz) and .ts, each read with guards that
name the problem and its fix (a file too large for memory, decimal commas, duplicate columns, a
folder or device where a file was meant)."""

from __future__ import annotations

import errno
import math
import os
import stat
import warnings
import zipfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from workbench.data.dataset import Dataset, make_dataset
from workbench.data.frames import from_array, from_frame, refuse_duplicate_columns
from workbench.data.own_split import test_file_beside, with_test
from workbench.data.windowing import windows
from workbench.errors import DataError, DataWarning, LayoutError, option, option_name, short_repr

FILE_SUFFIXES = (".csv", ".parquet", ".pq", ".npy", ".npz", ".ts")


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
            raise DataError(f"{p.name}: name the label column with {option('target', '<column>')}.")
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
        no_window(p.name, kwargs)
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
            refuse_duplicate_columns(p.name, parquet.schema_arrow.names)
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
    refuse_duplicate_columns(p.name, [str(v) for v in header.iloc[0]])
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
    X, y = load_ts_arrays(p)
    seqs = X if isinstance(X, list) else None
    return make_dataset(
        seqs if seqs is not None else X,
        y,
        name=name,
        is_test=is_test,
        source=f"ts file {p.name}",
        **kwargs,
    )


def load_ts_arrays(p: Path) -> tuple[np.ndarray | list[np.ndarray], np.ndarray]:
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


def no_window(name: str, kwargs: dict[str, Any]) -> None:
    if kwargs.get("window") is not None or kwargs.get("step") is not None:
        raise DataError(
            f"{name!r} already holds one sequence per sample; windows cut one long recording (a table with a row "
            f"per time step, or an (T, C) array) into samples. Drop {option_name('window')} and "
            f"{option_name('step')} for this dataset."
        )
    for key in ("window", "step", "window_label"):
        kwargs.pop(key, None)
