"""Splitting a dataset: seeded, stratified and group-aware held-out splits, and for windowed
data time-ordered splits and purged folds (no held-out window shares a step with a kept one)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from workbench.errors import DataError

if TYPE_CHECKING:  # Dataset.split calls into this module
    from workbench.data.dataset import Dataset


def split_indices(ds: Dataset, fraction: float, *, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded ``(rest, held_out)`` indices: stratified, group-aware when needed;
    time-ordered for windowed data (:func:`time_split_indices`)."""
    if ds.windowed:
        return time_split_indices(ds, fraction)
    from sklearn.model_selection import GroupShuffleSplit, StratifiedGroupKFold, train_test_split

    index = np.arange(ds.n_samples)
    stratify = ds.y if ds.task in ("binary", "multiclass") else None
    if stratify is not None and np.bincount(stratify).min(initial=0) < 2:
        stratify = None  # a class with one sample cannot be on both sides
    if ds.groups is not None:
        n_groups = len(np.unique(ds.groups))
        if n_groups < 2:
            raise DataError(f"Dataset {ds.name!r} has a single group; a group-aware split needs at least 2.")
        if stratify is not None:
            n_splits = max(2, min(n_groups, round(1 / fraction)))
            try:
                folds = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
                rest, held = next(folds.split(index, stratify, ds.groups))
                return rest, held
            except ValueError:
                pass  # fewer groups per class than folds: fall back to plain group shuffling
        gss = GroupShuffleSplit(n_splits=1, test_size=fraction, random_state=seed)
        rest, held = next(gss.split(index, groups=ds.groups))
        return rest, held
    rest, held = train_test_split(index, test_size=fraction, random_state=seed, stratify=stratify)
    return np.sort(rest), np.sort(held)


def time_split_indices(ds: Dataset, fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """``(rest, held_out)`` of windowed data: in each recording, the last ``fraction`` of its
    windows is held out, and the windows of the rest that come within one window of a
    held-out one are dropped. No held-out window shares a step with a kept one, and a gap
    of at least one window's length separates them.

    A recording too short to give both sides goes whole to the rest.
    """
    assert ds.starts is not None
    rest: list[np.ndarray] = []
    held: list[np.ndarray] = []
    for idx in _windows_by_recording(ds):
        n_held = max(1, round(len(idx) * fraction))
        cut = ds.starts[idx[-n_held]]
        before = idx[: len(idx) - n_held]
        before = before[ds.starts[before] + 2 * ds.max_length <= cut]  # a window's length of gap
        if before.size == 0:
            rest.append(idx)
            continue
        rest.append(before)
        held.append(idx[len(idx) - n_held :])
    if not held or sum(map(len, rest)) < 2:
        raise DataError(too_few_windows(ds, fraction))
    return np.sort(np.concatenate(rest)), np.sort(np.concatenate(held))


def time_block_folds(ds: Dataset, k: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """``k`` folds of windowed data: each recording's windows in ``k`` consecutive blocks;
    fold ``j`` validates on the ``j``-th blocks and fits on the windows more than one window
    away from them (purged), so no fit window overlaps or neighbours a validation one."""
    assert ds.starts is not None
    gap = 2 * ds.max_length
    per_recording = _windows_by_recording(ds)
    folds = []
    for j in range(k):
        fit, val = [], []
        for idx in per_recording:
            blocks = np.array_split(idx, k)
            if blocks[j].size == 0:
                fit.append(idx)
                continue
            first, last = ds.starts[blocks[j][0]], ds.starts[blocks[j][-1]]
            s = ds.starts[idx]
            fit.append(idx[(s + gap <= first) | (s >= last + gap)])
            val.append(blocks[j])
        fit_idx = np.sort(np.concatenate(fit))
        val_idx = np.sort(np.concatenate(val)) if val else np.array([], dtype=np.int64)
        if fit_idx.size < 2 or val_idx.size == 0:
            raise DataError(too_few_windows(ds, 1 / k))
        folds.append((fit_idx, val_idx))
    return folds


def _windows_by_recording(ds: Dataset) -> list[np.ndarray]:
    """Each recording's window indices, in time order."""
    assert ds.starts is not None
    recordings = ds.groups if ds.groups is not None else np.zeros(ds.n_samples, dtype=np.int64)
    ordered = []
    for r in np.unique(recordings):
        idx = np.flatnonzero(recordings == r)
        ordered.append(idx[np.argsort(ds.starts[idx], kind="stable")])
    return ordered


def too_few_windows(ds: Dataset, fraction: float) -> str:
    return (
        f"{ds.name!r} has {ds.n_samples} windows: too few for a time-ordered split holding out {fraction:.0%} of "
        f"each recording with a gap of one window ({ds.max_length} steps) before it. Use a smaller step (more, "
        "overlapping windows), a smaller window, or a longer recording."
    )
