"""The validated, canonical dataset every other stage of the workbench consumes."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal, get_args

import numpy as np

from workbench.data.labels import IGNORE_INDEX, OBVIOUS_TASKS, TASKS, Task, align_per_step, encode_labels, infer_task
from workbench.data.splits import split_indices
from workbench.data.values import as_float, check_float32_range, check_values
from workbench.errors import DataError, LayoutError, option

Order = Literal["ordered", "unknown"]
Impute = Literal["ffill", "zero"]
IMPUTE_CHOICES: tuple[str, ...] = get_args(Impute)


@dataclass(frozen=True, eq=False)
class Dataset:
    """Sequences in canonical ``(N, C, L)`` layout with their labels.

    Build one with :func:`workbench.from_array`, :func:`workbench.from_frame` or
    :func:`workbench.load` rather than by hand: those validate and convert.

    Attributes:
        X: ``(N, C, L)`` float32, zero past each sequence's length.
        y: ``(N,)`` int64 class index or float32 value; ``(N, L)`` int64 for
            per-step labels, :data:`IGNORE_INDEX` past each length.
        task: ``binary``, ``multiclass``, ``regression`` or ``per_step``.
        lengths: ``(N,)`` int64, the true length of each sequence.
        order: ``ordered`` when position along L has meaning (time, wavelength),
            ``unknown`` for tabular features (layout ``NF``).
        classes: original label of each class index (classification tasks).
        is_test: ``(N,)`` bool, the source's official test split, if it has one.
        groups: ``(N,)`` group ids (e.g. subject) that a split must not cut.
        static: ``(N, S)`` float32 per-sequence features (hybrid models).
        starts: ``(N,)`` windows cut from long recordings (:func:`workbench.windows`):
            each window's first step in its recording (``groups``). Splits of
            windowed data hold out later time, with a gap (``splits.split_indices``).
        start_times: ``(N,)`` the time stamp of each window's first step, if known.
        window_step: steps between consecutive windows of a recording.
    """

    X: np.ndarray
    y: np.ndarray
    task: Task
    lengths: np.ndarray
    name: str = "dataset"
    order: Order = "ordered"
    channel_names: tuple[str, ...] = ()
    position_names: tuple[str, ...] | None = None
    classes: tuple[str, ...] | None = None
    is_test: np.ndarray | None = None
    groups: np.ndarray | None = None
    static: np.ndarray | None = None
    static_names: tuple[str, ...] = ()
    source: str = ""
    notes: tuple[str, ...] = field(default=())
    task_inferred: str = ""  # why ``task`` is what it is, when the labels decided it (empty: it was named)
    starts: np.ndarray | None = None
    start_times: np.ndarray | None = None
    window_step: int | None = None

    # ------------------------------------------------------------------ shape
    @property
    def n_samples(self) -> int:
        return int(self.X.shape[0])

    @property
    def n_channels(self) -> int:
        return int(self.X.shape[1])

    @property
    def max_length(self) -> int:
        return int(self.X.shape[2])

    @property
    def variable_length(self) -> bool:
        return bool(self.lengths.min() != self.lengths.max())

    @property
    def n_classes(self) -> int:
        return 0 if self.classes is None else len(self.classes)

    @property
    def windowed(self) -> bool:
        """Windows of long recordings: neighbouring samples overlap in time."""
        return self.starts is not None

    @property
    def n_static(self) -> int:
        return 0 if self.static is None else int(self.static.shape[1])

    def mask(self) -> np.ndarray:
        """``(N, L)`` bool, True on real positions; derived from ``lengths``."""
        return np.arange(self.max_length)[None, :] < self.lengths[:, None]

    def flat(self) -> np.ndarray:
        """``(N, C·L)`` view for Linear/MLP models and non-deep baselines."""
        return self.X.reshape(self.n_samples, -1)

    # ----------------------------------------------------------------- splits
    @property
    def has_official_split(self) -> bool:
        return self.is_test is not None and bool(self.is_test.any()) and bool((~self.is_test).any())

    def subset(self, index: np.ndarray | Sequence[int]) -> Dataset:
        """The samples at ``index`` (ints or a boolean mask), padding trimmed."""
        idx = np.asarray(index)
        if idx.dtype == bool:
            idx = np.flatnonzero(idx)
        if idx.size == 0:
            raise DataError(f"Selecting 0 samples from dataset {self.name!r} gives an empty dataset.")
        lengths = self.lengths[idx]
        keep = int(lengths.max())
        rows: np.ndarray | slice = idx
        if idx.size > 1 and (np.diff(idx) == 1).all():
            # A run of samples stays a view: windows of a recording, and the splits of large data,
            # which its experiment keeps in split order in one memory-mapped file.
            rows = slice(int(idx[0]), int(idx[-1]) + 1)
        y = self.y[rows]
        if y.ndim == 2:
            y = y[:, :keep]
        return replace(
            self,
            X=self.X[rows, :, :keep],
            y=y,
            lengths=lengths,
            is_test=None if self.is_test is None else self.is_test[idx],
            groups=None if self.groups is None else self.groups[idx],
            static=None if self.static is None else self.static[idx],
            starts=None if self.starts is None else self.starts[idx],
            start_times=None if self.start_times is None else self.start_times[idx],
        )

    def permute_positions(self, permutation: np.ndarray) -> Dataset:
        """The same data with positions along L reordered by one fixed permutation.

        Needs fixed-length data: a permutation of a padded axis would mix padding
        into the sequences.
        """
        perm = np.asarray(permutation)
        if self.variable_length:
            raise DataError("Positions of variable-length sequences cannot be permuted as one block.")
        if sorted(perm.tolist()) != list(range(self.max_length)):
            raise DataError(f"permutation must reorder 0..{self.max_length - 1}, got {perm[:8]}….")
        y = self.y[:, perm] if self.y.ndim == 2 else self.y
        names = None if self.position_names is None else tuple(self.position_names[i] for i in perm)
        return replace(self, X=np.ascontiguousarray(self.X[:, :, perm]), y=y, position_names=names)

    def official_split(self) -> tuple[Dataset, Dataset]:
        """``(train, test)`` as published by the source (UCR/UEA datasets have one)."""
        if not self.has_official_split or self.is_test is None:
            raise DataError(
                f"Dataset {self.name!r} has no official train/test split. Use "
                f"dataset.split(test_fraction, seed=...) to make a seeded one."
            )
        return self.subset(~self.is_test), self.subset(self.is_test)

    def split(self, fraction: float = 0.25, *, seed: int = 0) -> tuple[Dataset, Dataset]:
        """Seeded split into ``(rest, held_out)`` with ``fraction`` held out.

        Stratified by class for classification (when every class has at least two
        samples); keeps groups whole when ``groups`` is set. Windowed data is split
        by time instead: the last ``fraction`` of each recording, after a gap.
        """
        if not 0.0 < fraction < 1.0:
            raise DataError(f"fraction must be between 0 and 1 (exclusive), but got {fraction}.")
        rest, held = split_indices(self, fraction, seed=seed)
        return self.subset(rest), self.subset(held)

    # ------------------------------------------------------------ description
    def fingerprint(self) -> str:
        """A short hash of the values and labels: same data, same fingerprint."""
        h = hashlib.sha256()
        for arr in (self.X, self.y, self.lengths):
            h.update(str(arr.shape).encode())
            for i in range(0, len(arr), 4096):  # in chunks: windows of a recording are a view, not a copy
                h.update(np.ascontiguousarray(arr[i : i + 4096]).tobytes())
        return h.hexdigest()[:16]

    def summary(self) -> str:
        """A few readable lines: shapes, task, split, what each axis means."""
        n, c, length = self.X.shape
        lines = [f"Dataset {self.name!r} ({self.source or 'in memory'})"]
        lines.append(
            f"  X: {n} samples × {c} channel{'s' if c != 1 else ''} × length {length} "
            f"(N, C, L) float32, channels first as nn.Conv1d expects"
        )
        if self.variable_length:
            lo, med, hi = (int(v) for v in np.percentile(self.lengths, [0, 50, 100]))
            lines.append(f"  variable length: min {lo}, median {med}, max {hi} (padded; masks derived)")
        if self.order == "unknown":
            lines.append(
                f"  tabular: {length} features of unknown order, held as (N, 1, {length}); "
                "the profile tests whether their order matters"
            )
        task = self.task
        if self.classes is not None:
            counts = np.bincount(self.y[self.y != IGNORE_INDEX].ravel(), minlength=self.n_classes)
            balance = ", ".join(f"{k}: {v}" for k, v in zip(self.classes, counts, strict=True))
            lines.append(f"  task: {task}, {self.n_classes} classes ({balance})")
        else:
            lines.append(f"  task: {task}, y mean {self.y.mean():.4g}, std {self.y.std():.4g}")
        if self.task_inferred and not self.task_inferred.startswith(OBVIOUS_TASKS):
            lines.append(f"    inferred: {self.task_inferred} ({self._other_task()} reads them otherwise)")
        if self.has_official_split and self.is_test is not None:
            lines.append(f"  official split: {int((~self.is_test).sum())} train / {int(self.is_test.sum())} test")
        if self.static is not None:
            lines.append(f"  static features: {self.n_static} ({', '.join(self.static_names[:5])}…)")
        if self.windowed and self.groups is not None:
            recordings = len(np.unique(self.groups))
            lines.append(
                f"  windows of {length} steps, {self.window_step} apart, from {recordings} recording"
                f"{'s' if recordings != 1 else ''}: splits hold out later time, with a gap of one window"
            )
        elif self.groups is not None:
            lines.append(f"  groups: {len(np.unique(self.groups))} (splits keep each group whole)")
        lines.extend(f"  note: {note}" for note in self.notes)
        return "\n".join(lines)

    def task_text(self) -> str:
        """How the task was chosen, with the option that chooses the other reading: one line."""
        if not self.task_inferred:
            return f"task {self.task}, as named"
        return f"task {self.task}, inferred: {self.task_inferred} ({self._other_task()} reads them otherwise)"

    def _other_task(self) -> str:
        return option("task", "regression" if self.task != "regression" else "multiclass")

    def _repr_html_(self) -> str:
        from workbench.display import card

        lines = self.summary().splitlines()
        return card(lines[0], [line.strip() for line in lines[1:]])

    def __repr__(self) -> str:
        return (
            f"Dataset(name={self.name!r}, X={self.X.shape}, task={self.task!r}, "
            f"variable_length={self.variable_length}, order={self.order!r})"
        )


# --------------------------------------------------------------------------- building


def make_dataset(
    X: np.ndarray | list[np.ndarray],
    y: Any,
    *,
    task: str | None = None,
    lengths: Any = None,
    name: str = "dataset",
    order: Order = "ordered",
    channel_names: Sequence[str] | None = None,
    position_names: Sequence[str] | None = None,
    is_test: Any = None,
    groups: Any = None,
    static: Any = None,
    static_names: Sequence[str] | None = None,
    impute: str | None = None,
    source: str = "",
) -> Dataset:
    """Validate canonical data and build a :class:`Dataset`.

    ``X`` is either a canonical ``(N, C, L)`` array or a list of ``(C, L_i)``
    arrays. Sources convert the user's layout first; this checks the values.
    """
    if impute is not None and impute not in IMPUTE_CHOICES:
        raise DataError(f"impute must be one of {IMPUTE_CHOICES} or None, but got {impute!r}.")
    if task is not None and task not in TASKS:
        raise DataError(f"task must be one of {TASKS}, but got {task!r}.")
    check_float32_range(X, name, channel_names, position_names)
    padded, lens = _pad(X, lengths)
    n = padded.shape[0]
    if n == 0:
        raise DataError(f"Dataset {name!r} is empty: X has 0 samples. Check the file or the filter.")
    if padded.shape[1] == 0:
        raise DataError(f"Dataset {name!r} has 0 channels (shape {padded.shape}).")
    zero = np.flatnonzero(lens == 0)
    if zero.size:
        raise DataError(
            f"Dataset {name!r} has zero-length sequences at sample(s) {zero[:10].tolist()}; "
            "a model cannot read an empty sequence. Drop those samples before loading."
        )
    padded = check_values(padded, lens, impute=impute, name=name, position_names=position_names)
    y_arr, kind, classes = encode_labels(y, n_samples=n, task=task, name=name)
    if y_arr.ndim == 2:
        y_arr = align_per_step(y_arr, padded.shape, lens, name)
    channel_names = named(channel_names, padded.shape[1], "channel", "channel_names", prefix="ch")
    if position_names is not None:
        position_names = named(position_names, padded.shape[2], "position", "position_names", prefix="f")
    static_arr, static_names = _static(static, static_names, n, name)
    return Dataset(
        X=padded,
        y=y_arr,
        task=kind,
        lengths=lens,
        name=name,
        order=order,
        channel_names=tuple(channel_names),
        position_names=None if position_names is None else tuple(position_names),
        classes=classes,
        is_test=_per_sample(is_test, n, "is_test", bool),
        groups=_per_sample(groups, n, "groups", None),
        static=static_arr,
        static_names=static_names,
        source=source,
        notes=(f"missing values imputed with {impute!r}",) if impute else (),
        task_inferred="" if task is not None else infer_task(y)[1],
    )


def _pad(X: np.ndarray | list[np.ndarray], lengths: Any) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(X, list):
        if lengths is not None:
            raise DataError("Pass either a list of variable-length sequences or lengths=, not both.")
        lens = np.array([a.shape[1] for a in X], dtype=np.int64)
        n_ch = X[0].shape[0] if X else 0
        out = np.zeros((len(X), n_ch, int(lens.max()) if X else 0), dtype=np.float32)
        for i, a in enumerate(X):
            out[i, :, : a.shape[1]] = as_float(a, f"sequence {i}")
        return out, lens
    arr = as_float(X, "X")
    if arr.ndim != 3:
        raise LayoutError(f"Internal layout must be (N, C, L), got shape {arr.shape}.")
    if lengths is None:
        return np.ascontiguousarray(arr), np.full(arr.shape[0], arr.shape[2], dtype=np.int64)
    lens = np.asarray(lengths)
    if lens.shape != (arr.shape[0],):
        raise DataError(f"lengths must have shape ({arr.shape[0]},) (one per sample), got {lens.shape}.")
    if lens.min(initial=0) < 0 or lens.max(initial=0) > arr.shape[2]:
        raise DataError(
            f"lengths must lie in 0..{arr.shape[2]} (the padded length), got min {lens.min()} and max {lens.max()}."
        )
    out = np.array(arr, dtype=np.float32, copy=True)
    out[np.arange(out.shape[2])[None, None, :] >= lens[:, None, None]] = 0.0
    return out, lens.astype(np.int64)


def named(names: Sequence[str] | None, count: int, what: str, arg: str, prefix: str) -> list[str]:
    """The given names (one per item, else a LayoutError naming the likely swapped layout), or prefix0, prefix1, …."""
    if names is None:
        return [f"{prefix}{i}" for i in range(count)]
    names = [str(n) for n in names]
    if len(names) != count:
        raise LayoutError(
            f"{arg} has {len(names)} names but the data has {count} {what}s. If the names are "
            "right, the layout is probably wrong (channels and length swapped?)."
        )
    return names


def _static(static: Any, names: Sequence[str] | None, n: int, name: str) -> tuple[np.ndarray | None, tuple[str, ...]]:
    if static is None:
        return None, ()
    arr = as_float(static, "static")
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2 or arr.shape[0] != n:
        raise DataError(f"static must be (N, S) with N={n}, got shape {arr.shape}.")
    if not np.isfinite(arr).all():
        rows = np.unique(np.argwhere(~np.isfinite(arr))[:, 0])[:10].tolist()
        raise DataError(f"Dataset {name!r}: static features have NaN/inf at rows {rows}.")
    return np.ascontiguousarray(arr), tuple(named(names, arr.shape[1], "static feature", "static_names", "s"))


def _per_sample(values: Any, n: int, arg: str, dtype: type | None) -> np.ndarray | None:
    if values is None:
        return None
    arr = np.asarray(values, dtype=dtype)
    if arr.shape != (n,):
        raise DataError(f"{arg} must have one entry per sample, shape ({n},), got {arr.shape}.")
    return arr
