"""A test split of the user's own: a second dataset, a mask, a split column, or a ``_TRAIN`` /
``_TEST`` pair of files. Whatever form it takes, it becomes the dataset's ``is_test`` mask, which
every later stage respects (the study never sees those samples, the verdict scores them).

People with UCR/UEA data, with competition data, or with a test set collected separately (other
subjects, a later month) need their split kept: a random cut would mix the months and overstate
the score.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from workbench.data.dataset import Dataset, make_dataset
from workbench.data.labels import IGNORE_INDEX
from workbench.errors import DataError

# A split column's values that name the test side (any other value is training).
TEST_NAMES = {"test", "testing", "holdout", "held-out", "heldout", "true", "1", "yes"}
TRAIN_NAMES = {"train", "training", "false", "0", "no", "fit"}


def with_test(train: Dataset, test: Dataset) -> Dataset:
    """One dataset of ``train`` and ``test``, with ``is_test`` marking the second: the classes are
    the union of both (by their names), sequences padded to the longest of either."""
    if train.n_channels != test.n_channels:
        raise DataError(
            f"The test data has {test.n_channels} channel(s) but the training data {train.n_channels}: "
            "both must be read with the same layout (check layout= for each)."
        )
    if (train.task == "regression") != (test.task == "regression"):
        raise DataError(
            f"The training labels make a {train.task} task but the test labels a {test.task} one: give both "
            "the same kind of labels (or name the task, e.g. task='multiclass')."
        )
    if train.order != test.order or (train.static is None) != (test.static is None):
        raise DataError("The test data must hold the same kind of features as the training data (order, static).")
    seqs = [train.X[i, :, : train.lengths[i]] for i in range(train.n_samples)]
    seqs += [test.X[i, :, : test.lengths[i]] for i in range(test.n_samples)]
    labels = np.concatenate([_labels(train), _labels(test)])
    groups = None
    if train.groups is not None and test.groups is not None:
        groups = np.concatenate([train.groups.astype(str), test.groups.astype(str)])
    fixed = len({s.shape[1] for s in seqs}) == 1
    return make_dataset(
        np.stack(seqs) if fixed else seqs,
        labels,
        task=None if train.task in ("binary", "multiclass") else train.task,
        name=train.name,
        order=train.order,
        channel_names=list(train.channel_names),
        position_names=list(train.position_names) if train.position_names is not None else None,
        is_test=np.r_[np.zeros(train.n_samples, bool), np.ones(test.n_samples, bool)],
        groups=groups,
        static=None if train.static is None or test.static is None else np.concatenate([train.static, test.static]),
        static_names=list(train.static_names) or None,
        source=train.source,
    )


def _labels(ds: Dataset) -> np.ndarray:
    """The labels as the source gave them (class names, or values), for a re-encoding of both."""
    if ds.classes is None:
        return ds.y
    names = np.asarray(ds.classes, dtype=object)
    if ds.y.ndim == 2:
        out = names[np.where(ds.y == IGNORE_INDEX, 0, ds.y)]
        return out
    return names[ds.y]


def with_mask(ds: Dataset, mask: Any) -> Dataset:
    """``ds`` with the boolean ``mask`` (one per sample) as its test split."""
    is_test = np.asarray(mask)
    if is_test.dtype != bool or is_test.shape != (ds.n_samples,):
        raise DataError(
            f"test= as a mask must be booleans, one per sample ({ds.n_samples}), but got {is_test.dtype} of "
            f"shape {is_test.shape}. Pass a boolean array (e.g. month == 12), or the test data itself."
        )
    from dataclasses import replace

    return replace(ds, is_test=is_test)


def split_from_column(values: Any, column: str) -> np.ndarray:
    """A split column's test mask: 'train'/'test' (any case), booleans, or 0/1 (1 is test)."""
    text = np.array([str(v).strip().lower() for v in np.asarray(values)], dtype=object)
    unknown = sorted(set(text) - TEST_NAMES - TRAIN_NAMES)
    if unknown:
        raise DataError(
            f"Split column {column!r} holds {unknown[:5]}: it must say train or test for each row (or hold "
            "booleans, or 0/1 with 1 the test). Fix those rows, or name another column."
        )
    return np.isin(text, list(TEST_NAMES))


PAIR = re.compile(r"^(?P<stem>.+)_TRAIN(?P<suffix>\.[A-Za-z0-9]+)$")


def test_file_beside(path: Path) -> Path | None:
    """For ``Coffee_TRAIN.ts``, the ``Coffee_TEST.ts`` beside it (any case of TEST), if there is one."""
    found = PAIR.match(path.name)
    if not found:
        return None
    for name in (f"{found['stem']}_TEST{found['suffix']}", f"{found['stem']}_test{found['suffix']}"):
        if (path.parent / name).is_file():
            return path.parent / name
    return None
