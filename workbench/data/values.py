"""The values of a dataset checked as they come in: numbers only, within float32's range, and no
NaN or infinity except where it pads a sequence's end (or the user chose how to fill it);
every refusal names the first positions and the fix."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from workbench.errors import DataError, current_interface, option


def as_float(a: Any, what: str) -> np.ndarray:
    arr = np.asarray(a)
    if arr.dtype.kind not in "biuf":
        raise DataError(
            f"{what} has dtype {arr.dtype}, not numbers. Convert text or categories to numbers "
            "first (e.g. pandas.get_dummies for categories), or drop those columns."
        )
    return arr.astype(np.float32, copy=False)


FLOAT32_MAX = float(np.finfo(np.float32).max)


def _where(
    channel: int, position: int, channel_names: Sequence[str] | None, position_names: Sequence[str] | None
) -> str:
    """'column 'x'' for a tabular feature, else 'channel 2 ('ecg')'."""
    if position_names is not None:
        return f"column {position_names[position]!r}"
    return f"channel {channel}" + (f" ({channel_names[channel]!r})" if channel_names is not None else "")


def check_float32_range(
    X: np.ndarray | list[np.ndarray],
    name: str,
    channel_names: Sequence[str] | None,
    position_names: Sequence[str] | None,
) -> None:
    """Models compute in float32: a finite value beyond ±3.4e38 would become inf."""
    for i, a in enumerate(X if isinstance(X, list) else [X]):
        arr = np.asarray(a)
        if arr.dtype.kind != "f" or arr.dtype.itemsize <= 4:
            continue
        huge = np.isfinite(arr) & (np.abs(arr) > FLOAT32_MAX)
        if huge.any():
            at = np.argwhere(huge)[0]
            channel, position = (int(at[0]), int(at[1])) if isinstance(X, list) else (int(at[1]), int(at[2]))
            sample = i if isinstance(X, list) else int(at[0])
            where = _where(channel, position, channel_names, position_names)
            raise DataError(
                f"Dataset {name!r}: {where} holds {float(arr[tuple(at)]):.3g} (sample {sample}), beyond the "
                f"±{FLOAT32_MAX:.3g} that float32 models compute in. Rescale that {where.split()[0]} first, "
                "e.g. divide it by a power of ten (or take its log)."
            )


def check_values(
    X: np.ndarray, lengths: np.ndarray, *, impute: str | None, name: str, position_names: Sequence[str] | None = None
) -> np.ndarray:
    real = np.arange(X.shape[2])[None, None, :] < lengths[:, None, None]
    bad = ~np.isfinite(X) & real
    if not bad.any():
        return X
    finite = ~bad & real
    if impute is not None:  # imputing a channel or column with no value at all would invent every value
        empty_channels = np.flatnonzero(~finite.any(axis=(0, 2)))
        empty_columns = np.flatnonzero(~finite.any(axis=(0, 1)) if position_names is not None else [])
        if len(empty_channels) or len(empty_columns):
            where = (
                [f"column {position_names[int(j)]!r}" for j in empty_columns]  # type: ignore[index]
                if len(empty_columns)
                else [f"channel {int(c)}" for c in empty_channels]
            )
            raise DataError(
                f"Dataset {name!r}: {', '.join(where[:5])} {'has' if len(where) == 1 else 'have'} no finite value in "
                f"any sample; impute={impute!r} would make every value up. Drop "
                f"{'it' if len(where) == 1 else 'them'} (or fix the source) before loading."
            )
    if impute is None:
        n_bad = int(bad.sum())
        i, c, t = (int(v) for v in np.argwhere(bad)[0])
        kinds = "NaN" if np.isnan(X[bad]).all() else "NaN/inf"
        msg = (
            f"Dataset {name!r} has {n_bad} {kinds} value(s) (first at sample {i}, channel {c}, "
            f"position {t}). Models cannot train on them. Clean the data, or load with "
            f"{option('impute', 'ffill')} (carry the last value forward along each sequence) or "
            f"{option('impute', 'zero')}."
        )
        if _nan_is_trailing_padding(bad):
            msg += " The NaNs all sit at the end of sequences: if they pad shorter sequences, " + (
                "pass a list of arrays (one per sequence) or lengths= instead."
                if current_interface() == "python"
                else "write each sequence at its own length (a .ts file with @equalLength false), or load the data "
                "in Python as a list of arrays (workbench.from_array)."
            )
        raise DataError(msg)
    X = X.copy()
    if impute == "zero":
        X[bad] = 0.0
        return X
    # ffill: forward along length within each sequence, then backward for leading gaps.
    for i, c in {(int(i), int(c)) for i, c, _ in np.argwhere(bad)}:
        row = X[i, c, : lengths[i]]
        ok = np.isfinite(row)
        if not ok.any():
            row[:] = 0.0
            continue
        idx = np.where(ok, np.arange(row.size), 0)
        np.maximum.accumulate(idx, out=idx)
        first = int(np.argmax(ok))
        idx[:first] = first
        X[i, c, : lengths[i]] = row[idx]
    return X


def _nan_is_trailing_padding(bad: np.ndarray) -> bool:
    # True when, per sample, bad positions form one block that reaches the end.
    per_pos = bad.all(axis=1)  # (N, L)
    any_bad = bad.any(axis=1)
    if not (per_pos == any_bad).all():
        return False
    tail = np.flip(np.cumprod(np.flip(per_pos, axis=1), axis=1), axis=1).astype(bool)
    return bool((tail == per_pos).all())
