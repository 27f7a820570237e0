"""One long recording (or several) → a :class:`Dataset` of fixed-size windows.

A ``(T, F)`` table of T time steps × F sensors is not T samples: consecutive rows
are neighbours in time. Cutting it into windows makes samples a model can read
(``(N, C, size)``), and keeping each window's start and recording lets every split
hold out later time, with a gap, instead of shuffling neighbours onto both sides.

Memory: a single recording is windowed as a strided view (``sliding_window_view``),
so the windows share the recording's memory; the only copy is the float32
conversion (none when the input is float32 already). Several recordings are
gathered into one array of windows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from workbench.data.dataset import IMPUTE_CHOICES, Dataset, named
from workbench.data.labels import Task, encode_labels, infer_task
from workbench.data.values import FLOAT32_MAX
from workbench.errors import DataError, LayoutError, current_interface, option

LABELS = ("last", "majority", "mean", "per_step")
WindowLabel = str | Callable[[np.ndarray], Any]
CHUNK = 1 << 16  # rows per pass of the value checks: bounded temporaries on long recordings
FADED = 0.2  # a correlation between rows below this is not worth a warning (or a window)
MEASURED_ROWS = 5000  # the dependence is measured on the first rows


def windows(
    X: Any,
    y: Any = None,
    *,
    size: int,
    step: int | None = None,
    layout: str = "LC",
    label: WindowLabel = "last",
    groups: Any = None,
    time: Any = None,
    task: str | None = None,
    impute: str | None = None,
    name: str = "windows",
    channel_names: Sequence[str] | None = None,
    source: str = "",
) -> Dataset:
    """Cut a long recording into windows of ``size`` steps, ``step`` apart (default
    ``size``: no overlap).

    Args:
        X: ``(T, C)`` for ``layout="LC"`` (one row per time step), ``(C, T)`` for
            ``"CL"``, or ``(T,)`` for one channel.
        y: one label per time step, ``(T,)``.
        label: how a window's label comes from its steps: ``"last"`` (the label at its
            last step: what a model reading up to now would predict), ``"majority"``,
            ``"mean"`` (regression), ``"per_step"`` (keep every step's label: a
            segmentation task), or a function of one window's labels ``(size,)``.
        groups: ``(T,)`` recording id of each step (e.g. subject or session): windows
            never cross recordings, and splits treat a recording as a group.
        time: ``(T,)`` time stamps, increasing within each recording; each window
            keeps the time of its first step in ``start_times``.
        impute: ``"ffill"`` or ``"zero"`` for NaN gaps (default: refuse them).

    Every window keeps its first step (``starts``) and its recording (``groups``);
    the study then splits by time (later windows validate and test) with a gap.

    >>> ds = windows(np.random.rand(1000, 3), np.arange(1000) // 250, size=50, step=25)
    >>> ds.X.shape, ds.starts[:3].tolist()
    ((39, 3, 50), [0, 25, 50])
    """
    size, step = _check_size(size, step)
    rec = _recording(X, layout)
    n_steps, n_channels = rec.shape
    labels = _step_labels(y, n_steps, name)
    ids, order, bounds = _recordings(groups, n_steps)
    times = _times(time, n_steps, order, bounds, ids)
    if order is not None:
        rec, labels = rec[order], labels[order]
    _check_range(rec, name, channel_names)
    rec = rec.astype(np.float32, copy=False)  # the one copy: none when X is float32 already
    rec, imputed = _check_gaps(rec, bounds, impute, name, channel_names)
    if label not in LABELS and not callable(label):
        raise DataError(f"label must be one of {LABELS} or a function of one window's labels, but got {label!r}.")
    if label == "per_step" and task not in (None, "per_step"):
        raise DataError(f"label='per_step' keeps a label per step, so task must be 'per_step', not {task!r}.")
    _check_lengths(bounds, ids, size, rec.shape, layout)

    step_classes: tuple[str, ...] | None = None
    if label == "per_step":  # encoded once per step; each window's labels are then a view, like its values
        labels, _, step_classes = encode_labels(labels, n_samples=n_steps, task="per_step", name=name)
    views, window_labels, starts, recording = [], [], [], []
    for i, (a, b) in enumerate(bounds):
        n = (b - a - size) // step + 1
        views.append(sliding_window_view(rec[a:b], size, axis=0)[::step][:n])  # (n, C, size), a view
        starts.append(np.arange(n, dtype=np.int64) * step)
        recording.append(np.full(n, i))
        window_labels.append(_window_labels(labels[a:b], size, step, n, label))
    n_windows = sum(len(s) for s in starts)
    if n_windows < 2:
        raise DataError(
            f"{name!r}: a window of {size} steps, {step} apart, gives {n_windows} window from {n_steps} steps; "
            "a model learns from many. Use a smaller size or step."
        )
    Xw = views[0] if len(views) == 1 else np.concatenate(views)
    y_w = window_labels[0] if len(window_labels) == 1 else np.concatenate(window_labels)
    classes: tuple[str, ...] | None
    kind: Task
    if step_classes is not None:
        y_codes, kind, classes = y_w, "per_step", step_classes
    else:  # encoded per window: a class no window is labelled with is not a class of this dataset
        y_codes, kind, classes = encode_labels(y_w, n_samples=n_windows, task=task, name=name)
    start = np.concatenate(starts)
    rec_ids = np.asarray(ids)[np.concatenate(recording)]
    where = f"{len(ids)} recordings" if len(ids) > 1 else "one recording"
    first_times = (
        None if times is None else np.concatenate([times[a:b][s] for (a, b), s in zip(bounds, starts, strict=True)])
    )
    return Dataset(
        X=Xw,
        y=y_codes,
        task=kind,
        lengths=np.full(n_windows, size, dtype=np.int64),
        name=name,
        order="ordered",
        channel_names=tuple(named(channel_names, n_channels, "channel", "channel_names", prefix="ch")),
        classes=classes,
        groups=rec_ids,
        starts=start,
        start_times=first_times,
        window_step=step,
        source=source
        or f"windows of {size} steps, step {step}, from {where} of {n_steps} steps (label: {_name(label)})",
        notes=(f"{imputed} time step(s) with NaN/inf imputed with {impute!r}",) if imputed else (),
        task_inferred="" if task is not None or step_classes is not None else infer_task(y_w)[1],
    )


# --------------------------------------------------------------------------- checks


def _check_size(size: Any, step: Any) -> tuple[int, int]:
    step = size if step is None else step
    for what, v in (("size", size), ("step", step)):
        if isinstance(v, bool) or not isinstance(v, int | np.integer):
            raise DataError(f"window {what} must be a whole number of time steps, but got {v!r}.")
        if v < 1:
            fix = "step=size for windows side by side, smaller for overlap" if what == "step" else "e.g. size=64"
            raise DataError(f"window {what} must be at least 1 time step, but got {v} ({fix}).")
    return int(size), int(step)


def _recording(X: Any, layout: str) -> np.ndarray:
    """``(T, C)``, a view of ``X`` whenever possible."""
    if layout not in ("LC", "CL"):
        raise LayoutError(
            f"windows() reads one long recording: layout 'LC' (one row per time step, a column per channel) "
            f"or 'CL' (a row per channel), not {layout!r}. Arrays that are already (N, C, L) samples need "
            "from_array instead."
        )
    arr = np.asarray(X)
    if arr.dtype.kind not in "biuf":
        raise DataError(f"X has dtype {arr.dtype}, not numbers. Convert or drop non-numeric columns first.")
    if arr.ndim == 1:
        return arr[:, None]
    if arr.ndim != 2:
        raise LayoutError(
            f"windows() takes one recording of shape (T, C) (layout 'LC') or (C, T) ('CL'), but X has shape "
            f"{arr.shape}. For several recordings, stack them along time and pass groups= (a recording id per step)."
        )
    return arr if layout == "LC" else arr.T


def _step_labels(y: Any, n_steps: int, name: str) -> np.ndarray:
    if y is None:
        raise DataError(
            f"{name!r}: windows need a label per time step, y of shape ({n_steps},) (e.g. the activity at each step); "
            "a window's label is taken from its steps (label='last', 'majority', 'mean' or 'per_step')."
        )
    arr = np.asarray(y.to_numpy() if hasattr(y, "to_numpy") else y)
    if arr.ndim != 1 or arr.shape[0] != n_steps:
        raise DataError(
            f"{name!r}: y has shape {arr.shape} but the recording has {n_steps} time steps; windows need one label "
            f"per step, shape ({n_steps},). Check that X and y come from the same rows (and the layout: 'LC' has "
            "one row per step)."
        )
    return arr


def _recordings(groups: Any, n_steps: int) -> tuple[list[Any], np.ndarray | None, list[tuple[int, int]]]:
    """Recording ids in order of first appearance, the row order that makes each recording
    contiguous (None when already so), and each recording's ``[start, end)`` rows."""
    if groups is None:
        return [0], None, [(0, n_steps)]
    g = np.asarray(groups.to_numpy() if hasattr(groups, "to_numpy") else groups)
    if g.shape != (n_steps,):
        raise DataError(f"groups must hold one recording id per time step, shape ({n_steps},), got {g.shape}.")
    import pandas as pd

    codes, uniques = pd.factorize(g, use_na_sentinel=False)
    order = None
    if (np.diff(codes) < 0).any():  # codes number recordings by first appearance: a step back interleaves
        order = np.argsort(codes, kind="stable")  # interleaved recordings: each one's rows, in their order
        codes = codes[order]
    edges = np.flatnonzero(np.diff(codes)) + 1
    starts, ends = np.r_[0, edges], np.r_[edges, n_steps]
    return list(uniques), order, list(zip(starts.tolist(), ends.tolist(), strict=True))


def _times(
    time: Any, n_steps: int, order: np.ndarray | None, bounds: list[tuple[int, int]], ids: list[Any]
) -> np.ndarray | None:
    """The time stamps in recording order; refuses unsorted or repeated times (sorting
    silently could hide rows that belong to another recording)."""
    if time is None:
        return None
    t = np.asarray(time.to_numpy() if hasattr(time, "to_numpy") else time)
    if t.shape != (n_steps,):
        raise DataError(f"time must hold one time stamp per step, shape ({n_steps},), got {t.shape}.")
    if order is not None:
        t = t[order]
    for (a, b), rid in zip(bounds, ids, strict=True):
        part = t[a:b]
        bad = np.flatnonzero(~(part[1:] > part[:-1]))
        if bad.size:
            i = int(bad[0]) + 1
            where = f" of recording {rid!r}" if len(ids) > 1 else ""
            kind = "repeats" if part[i] == part[i - 1] else "goes back"
            raise DataError(
                f"The time column {kind} at row {a + i}{where} ({part[i - 1]} then {part[i]}): windows need "
                "the rows in time order, once per step. Refused rather than sorted, since unsorted rows often mean "
                "mixed recordings: sort the rows by recording and time first (df.sort_values([...])), drop "
                "repeated time stamps, or pass groups= to tell the recordings apart."
            )
    return t


def _check_range(rec: np.ndarray, name: str, channel_names: Sequence[str] | None) -> None:
    if rec.dtype.kind != "f" or rec.dtype.itemsize <= 4:
        return
    for a in range(0, len(rec), CHUNK):
        huge = np.isfinite(rec[a : a + CHUNK]) & (np.abs(rec[a : a + CHUNK]) > FLOAT32_MAX)
        if huge.any():
            t, c = (int(v) for v in np.argwhere(huge)[0])
            raise DataError(
                f"{name!r}: {_channel(c, channel_names)} holds {float(rec[a + t, c]):.3g} at step {a + t}, beyond "
                f"the ±{FLOAT32_MAX:.3g} that float32 models compute in. Rescale that channel first."
            )


def _check_gaps(
    rec: np.ndarray,
    bounds: list[tuple[int, int]],
    impute: str | None,
    name: str,
    channel_names: Sequence[str] | None,
) -> tuple[np.ndarray, int]:
    """Refuse NaN/inf (saying where the gaps are), or impute them within each recording;
    the number of steps imputed."""
    if impute is not None and impute not in IMPUTE_CHOICES:
        raise DataError(f"impute must be one of {IMPUTE_CHOICES} or None, but got {impute!r}.")
    bad_rows = [a + np.flatnonzero(~np.isfinite(rec[a : a + CHUNK]).all(axis=1)) for a in range(0, len(rec), CHUNK)]
    rows = np.concatenate(bad_rows) if bad_rows else np.array([], dtype=np.int64)
    if rows.size == 0:
        return rec, 0
    if impute is None:
        gaps = _runs(rows)
        shown = ", ".join(f"{a}–{b - 1}" if b - a > 1 else f"{a}" for a, b in gaps[:5])
        c = int(np.flatnonzero(~np.isfinite(rec[rows[0]]))[0])
        raise DataError(
            f"{name!r} has NaN/inf at {rows.size} time step(s) in {len(gaps)} gap(s), at steps {shown}"
            f"{'…' if len(gaps) > 5 else ''} (first in {_channel(c, channel_names)}). Windows over a gap cannot be "
            f"trained on: pass {option('impute', 'ffill')} (carry the last value forward within each recording) or "
            f"{option('impute', 'zero')}, or cut the recording at the gaps (a new recording id per piece, "
            f"{'via groups=' if current_interface() == 'python' else 'in the ' + option('group_col', '<column>')})."
        )
    rec = np.array(rec, dtype=np.float32, copy=True)
    for a, b in bounds:
        part = rec[a:b]
        for c in np.flatnonzero(~np.isfinite(part).all(axis=0)):
            col = part[:, c]
            ok = np.isfinite(col)
            if impute == "zero" or not ok.any():
                col[~ok] = 0.0
                continue
            idx = np.where(ok, np.arange(col.size), 0)
            np.maximum.accumulate(idx, out=idx)
            idx[: int(np.argmax(ok))] = int(np.argmax(ok))  # leading gap: the first value, backwards
            part[:, c] = col[idx]
    return rec, int(rows.size)


def _runs(rows: np.ndarray) -> list[tuple[int, int]]:
    breaks = np.flatnonzero(np.diff(rows) > 1) + 1
    return [(int(r[0]), int(r[-1]) + 1) for r in np.split(rows, breaks)]


def _check_lengths(
    bounds: list[tuple[int, int]], ids: list[Any], size: int, shape: tuple[int, ...], layout: str
) -> None:
    short = [(rid, b - a) for (a, b), rid in zip(bounds, ids, strict=True) if b - a < size]
    if not short:
        return
    if len(ids) == 1:
        n_steps, n_channels = shape
        hint = ""
        if n_channels >= size:
            other = "CL" if layout == "LC" else "LC"
            hint = f" The other axis has {n_channels} entries: if those are the time steps, pass layout={other!r}."
        raise DataError(
            f"The window ({size} steps) is longer than the recording ({n_steps} steps). Use size ≤ {n_steps}.{hint}"
        )
    listed = ", ".join(f"{rid!r} ({n} steps)" for rid, n in short[:5])
    raise DataError(
        f"{len(short)} of {len(ids)} recordings are shorter than the window of {size} steps: {listed}"
        f"{'…' if len(short) > 5 else ''}. Use size ≤ {min(n for _, n in short)} or drop those recordings."
    )


# --------------------------------------------------------------------------- labels


def _window_labels(labels: np.ndarray, size: int, step: int, n: int, label: WindowLabel) -> np.ndarray:
    """Each window's label (in the caller's values), ``(n,)``; ``(n, size)`` per step."""
    starts = np.arange(n) * step
    if label == "last":
        return labels[starts + size - 1]
    if label == "per_step":
        return sliding_window_view(labels, size)[::step][:n]
    if label == "mean":
        if labels.dtype.kind not in "biuf":
            raise DataError("label='mean' averages numeric labels (regression); use 'last' or 'majority' for classes.")
        total = np.r_[0.0, np.cumsum(labels, dtype=np.float64)]
        return (total[starts + size] - total[starts]) / size
    if label == "majority":
        if labels.dtype.kind == "f" and not np.array_equal(labels, np.round(labels)):
            raise DataError("label='majority' counts classes; the labels are continuous: use 'mean' or 'last'.")
        values, codes = np.unique(labels, return_inverse=True)
        best = np.full(n, -1, dtype=np.int64)
        best_count = np.full(n, -1, dtype=np.int64)
        for k in range(len(values)):  # one class at a time: memory O(T), not O(T × classes)
            running = np.r_[0, np.cumsum(codes == k, dtype=np.int64)]
            count = running[starts + size] - running[starts]
            better = count > best_count  # ties go to the first class in sorted order
            best[better], best_count[better] = k, count[better]
        return values[best]
    assert callable(label)
    return np.array([label(labels[s : s + size]) for s in starts])


def _name(label: WindowLabel) -> str:
    return label if isinstance(label, str) else getattr(label, "__name__", "a function")


def _channel(c: int, names: Sequence[str] | None) -> str:
    return f"channel {c}" + (f" ({names[c]!r})" if names is not None and c < len(names) else "")


# --------------------------------------------------------------------------- how long a window


def standardised_rows(values: np.ndarray, classes: np.ndarray | None = None) -> np.ndarray:
    """``(N, F)`` rows as float64, each feature centred (within each class, when ``classes``
    are given: a file sorted by label is not a time series) and scaled to unit variance."""
    z = np.array(values, dtype=np.float64)
    if classes is not None:
        for k in np.unique(classes):
            z[classes == k] -= z[classes == k].mean(axis=0)
    else:
        z -= z.mean(axis=0)
    return z / np.where(z.std(axis=0) > 0, z.std(axis=0), 1.0)


def dependence_length(z: np.ndarray) -> int:
    """The first lag (in rows) at which the mean |correlation| between rows ``lag`` apart falls
    below ``FADED``; the longest lag measured when it never does (periodic signals).
    ``z``: standardised ``(N, F)``."""
    n = len(z)
    max_lag = max(1, n // 4)
    spectrum = np.fft.rfft(z, n=2 * n, axis=0)  # autocorrelation of every feature at once, O(N log N)
    acf = np.fft.irfft(np.abs(spectrum) ** 2, axis=0)[: max_lag + 1]
    acf = acf / np.where(acf[0] > 0, acf[0], 1.0)
    mean = np.abs(acf).mean(axis=1)
    below = np.flatnonzero(mean[1:] < FADED)
    return int(below[0]) + 1 if below.size else max_lag


def window_for(reach: int, n_rows: int) -> int:
    """A window that spans the dependence twice over (a power of two, at least 16), short enough
    for the rows to give dozens of windows."""
    size = 1 << max(4, int(np.ceil(np.log2(2 * reach))))
    return max(4, min(size, 1 << int(np.log2(max(4, n_rows // 16)))))


def suggest_window(recording: np.ndarray, labels: np.ndarray | None = None) -> tuple[int, int, int]:
    """``(size, step, reach)`` for a ``(T, C)`` recording: the rows the dependence reaches
    (measured on the first rows), a window spanning it, and a step of a quarter window."""
    rows = np.asarray(recording)[:MEASURED_ROWS]
    classes = None
    if labels is not None and np.asarray(labels).dtype.kind not in "fc":
        classes = np.asarray(labels)[:MEASURED_ROWS]
    reach = dependence_length(standardised_rows(rows, classes))
    size = window_for(reach, len(rows))
    return size, max(1, size // 4), reach
