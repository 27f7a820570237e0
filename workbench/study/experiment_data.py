"""An experiment's data: the dataset, its fixed train/test split (the source's own, the user's,
or seeded; by time for windows) and the validation folds its trials see. Large data is written
once into the run folder and read back memory-mapped by every process."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from workbench.config import ExperimentConfig
from workbench.data.dataset import Dataset
from workbench.data.sources import load
from workbench.data.splits import split_indices
from workbench.data.store import is_stored_dataset, read_dataset, read_meta, write_dataset
from workbench.errors import interface
from workbench.models import devices
from workbench.study.defaults import default_downsample
from workbench.study.scale import Scale
from workbench.study.validation import TrialData, ValidationPlan, plan_validation


@dataclass(frozen=True)
class ExperimentData:
    """The dataset and its fixed split: the test part is never seen by a trial."""

    dataset: Dataset
    train: Dataset  # what studies see, divided into validation folds
    test: Dataset  # never passed to a trial
    trial: TrialData
    split: str
    fingerprint: str  # of the data as its source gave it
    indices: tuple[np.ndarray, np.ndarray] | None = None  # (train, test) rows of ``dataset``, as loaded

    @cached_property
    def scale(self) -> Scale:
        """The regime of the trials: small or large data, on a CPU or a GPU (``scale.py``)."""
        return Scale(len(self.trial.plan.folds[0][0]), self.dataset.max_length, devices.has_gpu())

    @cached_property
    def default_sizes(self) -> dict[str, Any]:
        """What the deep families' proven defaults are chosen from (``defaults.py``): read once per
        process, for the studies' defaults (:func:`prepare`) and the cost reference
        (``costs.reference_config``) alike."""
        return {
            "n_train": self.train.n_samples,
            "length": self.dataset.max_length,
            "downsample": default_downsample(self.train),
            "batch": self.scale.batch_size,
            "lr_factor": self.scale.lr_factor,
        }


DATA_FOLDER = "data"  # an experiment's own copy of its data, in its run folder (large data)


def experiment_data(config: ExperimentConfig, *, from_store: bool = False) -> ExperimentData:
    """The experiment's data and its split. ``from_store``: read the copy the experiment keeps in
    its run folder (:func:`keep_in_run_folder`) where it has one, memory-mapped, instead of
    loading its source again."""
    store = config.run_dir / DATA_FOLDER
    if from_store and is_stored_dataset(store):
        return _stored_split(store)
    with interface("config"):  # a fix to the data's options is a key of the config (unless the CLI said otherwise)
        ds = load(config.data, **config.load_options())
    if ds.has_official_split and ds.is_test is not None:
        train_idx, test_idx = np.flatnonzero(~ds.is_test), np.flatnonzero(ds.is_test)
        split = f"official split of the source: {len(train_idx)} train / {len(test_idx)} test"
    else:
        train_idx, test_idx = split_indices(ds, config.evaluation.test_fraction, seed=config.seed)
        if ds.windowed:
            dropped = ds.n_samples - len(train_idx) - len(test_idx)
            split = (
                f"time-ordered split: the last {config.evaluation.test_fraction:.0%} of each recording is the test, "
                f"after a gap of one window: {len(train_idx)} train / {len(test_idx)} test windows ({dropped} in the "
                "gaps, unused)"
            )
        else:
            split = (
                f"seeded split (seed {config.seed}): {len(train_idx)} train / {len(test_idx)} test "
                f"({config.evaluation.test_fraction:.0%} held out)"
            )
    train, test = ds.subset(train_idx), ds.subset(test_idx)
    plan = plan_validation(train, config.validation, seed=config.seed)
    return ExperimentData(ds, train, test, TrialData(train, plan), split, ds.fingerprint(), (train_idx, test_idx))


def keep_in_run_folder(config: ExperimentConfig, data: ExperimentData) -> ExperimentData:
    """Large data, validated on one holdout, written once into the run folder in split order
    (fitted part, validation part, test) and read back memory-mapped: every split is then a slice
    of one file whose pages every worker shares, not a copy per process (``data/store.py``). What
    is there already is kept while it holds the same data."""
    if not data.trial.large or data.trial.plan.n_folds != 1 or data.dataset.windowed or data.indices is None:
        return data
    store = config.run_dir / DATA_FOLDER
    if not (is_stored_dataset(store) and read_meta(store).get("fingerprint") == data.fingerprint):
        (fit_idx, val_idx), (train_idx, test_idx) = data.trial.plan.folds[0], data.indices
        order = np.concatenate([train_idx[fit_idx], train_idx[val_idx], test_idx])
        plan = data.trial.plan
        write_dataset(
            data.dataset.subset(order),  # the one gather: the copy is written, then dropped
            store,
            fingerprint=data.fingerprint,
            n_train=len(train_idx),
            n_fit=len(fit_idx),
            split=data.split,
            validation={"strategy": plan.strategy, "reason": plan.reason},
        )
    return _stored_split(store)


def _stored_split(store: Path) -> ExperimentData:
    meta = read_meta(store)
    ds = read_dataset(store)
    n_train, n_fit = int(meta["n_train"]), int(meta["n_fit"])
    train, test = ds.subset(np.arange(n_train)), ds.subset(np.arange(n_train, ds.n_samples))
    validation = meta["validation"]
    folds = ((np.arange(n_fit), np.arange(n_fit, n_train)),)
    plan = ValidationPlan(validation["strategy"], validation["reason"], folds)
    return ExperimentData(ds, train, test, TrialData(train, plan), meta["split"], meta["fingerprint"])
