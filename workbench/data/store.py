"""A dataset written once into a folder, and read back memory-mapped.

An experiment's data lives in its run folder (``runs/<name>/data/``) when it came from memory
(an array, a DataFrame, a :class:`Dataset`), and on large data whatever its source: every
worker, every resume and ``evaluate`` read those same bytes, and the operating system keeps one
copy of them in memory however many processes map them.

One ``.npy`` file per array (``X`` float32 ``(N, C, L)``, ``y``, ``lengths``, and ``is_test``,
``groups``, ``static``, ``starts``, ``start_times`` where the dataset has them) and ``meta.json``
with everything else a :class:`Dataset` holds (task, classes, names, source, notes) and the
fingerprint of the data it was written from. Nothing is pickled: text groups are stored as
fixed-width strings. The folder is written whole or not at all (a temporary folder, renamed).
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from workbench.data.dataset import Dataset
from workbench.errors import DataError
from workbench.files import write_atomically, write_text_atomically

FORMAT = "workbench-dataset-1"
META = "meta.json"
ARRAYS = ("X", "y", "lengths", "is_test", "groups", "static", "starts", "start_times")
TEXTS = ("name", "task", "order", "source", "task_inferred")
TUPLES = ("channel_names", "position_names", "classes", "static_names", "notes")


def is_stored_dataset(path: str | Path) -> bool:
    """A folder written by :func:`write_dataset`."""
    meta = Path(path) / META
    if not meta.is_file():
        return False
    try:
        return json.loads(meta.read_text()).get("format") == FORMAT
    except (OSError, ValueError):
        return False


def write_dataset(ds: Dataset, folder: str | Path, *, fingerprint: str | None = None, **extra: Any) -> Path:
    """Write ``ds`` to ``folder`` (replacing what is there), whole or not at all. ``fingerprint``:
    the source's (default: ``ds``'s own); ``extra``: more JSON values for ``meta.json``."""
    out = Path(folder)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.partial-"))
    try:
        for name in ARRAYS:
            values = getattr(ds, name)
            if values is not None:
                _save(partial / f"{name}.npy", _storable(name, np.asarray(values)))
        meta: dict[str, Any] = {"format": FORMAT, "fingerprint": fingerprint or ds.fingerprint(), **extra}
        meta |= {name: getattr(ds, name) for name in TEXTS}
        meta |= {name: None if getattr(ds, name) is None else list(getattr(ds, name)) for name in TUPLES}
        meta["window_step"] = ds.window_step
        write_text_atomically(partial / META, json.dumps(meta, indent=1))
        shutil.rmtree(out, ignore_errors=True)
        partial.rename(out)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return out


def _save(path: Path, array: np.ndarray) -> None:
    write_atomically(path, lambda file: np.save(file, array, allow_pickle=False))


def _storable(name: str, array: np.ndarray) -> np.ndarray:
    """An array ``np.save`` writes without pickling: object arrays (text group ids) as strings."""
    if array.dtype.kind == "O":
        return array.astype(str)
    if name == "X" and array.dtype != np.float32:
        return array.astype(np.float32)
    return np.ascontiguousarray(array)


def read_meta(folder: str | Path) -> dict[str, Any]:
    path = Path(folder) / META
    try:
        meta: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise DataError(f"Cannot read the stored dataset {str(folder)!r}: {exc}. Was the folder damaged?") from exc
    if meta.get("format") != FORMAT:
        raise DataError(f"{str(folder)!r} is not a dataset the workbench wrote (no {FORMAT!r} in {META}).")
    return meta


def read_dataset(folder: str | Path, *, mmap: bool = True) -> Dataset:
    """The dataset stored in ``folder``; ``mmap``: its arrays memory-mapped, read-only (the pages
    are shared by every process that maps them and read from disk only when touched)."""
    root = Path(folder)
    meta = read_meta(root)
    arrays: dict[str, Any] = {}
    for name in ARRAYS:
        path = root / f"{name}.npy"
        if path.is_file():
            try:
                arrays[name] = np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
            except (OSError, ValueError) as exc:
                raise DataError(f"Cannot read {path}: {exc}. Was the stored dataset damaged?") from exc
        else:
            arrays[name] = None
    if arrays["X"] is None or arrays["y"] is None or arrays["lengths"] is None:
        raise DataError(f"The stored dataset {str(root)!r} is incomplete: X, y and lengths are required.")
    values: dict[str, Any] = {name: meta[name] for name in TEXTS if name in meta}
    values |= {name: None if meta.get(name) is None else tuple(meta[name]) for name in TUPLES if name in meta}
    known = {f.name for f in dataclasses.fields(Dataset)}
    return Dataset(
        **{k: v for k, v in {**arrays, **values, "window_step": meta.get("window_step")}.items() if k in known}
    )
