"""How a trial is validated: one holdout split, stratified k-fold (repeated when
asked), group k-fold, or time-ordered splits of windowed data; ``auto`` picks from
the training data and says why.

On a tiny dataset a single validation split holds a handful of samples, and a
study that maximises its score selects noise (best validation 1.000, test 0.709 in
the case that motivated this). Averaging over folds makes the selection score an
estimate worth optimising. Only the training split is ever divided here: the test
split stays out of every trial.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.model_selection import (
    GroupKFold,
    RepeatedKFold,
    RepeatedStratifiedKFold,
    StratifiedGroupKFold,
)

from workbench.config import Validation
from workbench.data.dataset import Dataset
from workbench.data.splits import split_indices, time_block_folds, time_split_indices
from workbench.errors import ConfigError, current_interface, option_name
from workbench.models.run_plan import is_large

SMALL_REGRESSION = 200  # regression: training samples below which ``auto`` chooses k-fold


@dataclass(frozen=True)
class ValidationPlan:
    """The folds every trial of an experiment uses: ``(fit, validation)`` indices into the
    training split. A holdout plan has one fold."""

    strategy: str  # holdout / kfold / group / time (one forward split) / blocked (time blocks)
    reason: str
    folds: tuple[tuple[np.ndarray, np.ndarray], ...]
    repeats: int = 1

    @property
    def n_folds(self) -> int:
        return len(self.folds)

    def describe(self) -> str:
        sizes = sorted({len(val) for _, val in self.folds})
        size = f"{sizes[0]}" if len(sizes) == 1 else f"{sizes[0]}–{sizes[-1]}"
        if self.n_folds == 1:
            shape = f"{self.strategy}: {len(self.folds[0][0])} fit / {size} validation samples"
        else:
            per = self.n_folds // self.repeats
            shape = f"{self.strategy}: {per} folds" + (f" × {self.repeats} repeats" if self.repeats > 1 else "")
            shape += f", {size} validation samples per fold"
        return f"{shape} — {self.reason}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "strategy": self.strategy,
            "reason": self.reason,
            "folds": self.n_folds,
            "repeats": self.repeats,
            "validation_sizes": [len(val) for _, val in self.folds],
            "description": self.describe(),
        }


def plan_validation(train: Dataset, cfg: Validation, *, seed: int) -> ValidationPlan:
    strategy, reason = _choose(train, cfg)
    classes = train.task in ("binary", "multiclass")
    if strategy == "time":
        return ValidationPlan("time", reason, (time_split_indices(train, cfg.fraction),))
    if strategy == "blocked":
        return ValidationPlan("blocked", reason, tuple(time_block_folds(train, cfg.folds)))
    if strategy == "holdout":
        fit_idx, val_idx = split_indices(train, cfg.fraction, seed=seed)
        return ValidationPlan("holdout", reason, ((fit_idx, val_idx),))
    index = np.arange(train.n_samples)
    if strategy == "group":
        n_groups = len(np.unique(train.groups))  # type: ignore[arg-type]
        k = min(cfg.folds, n_groups)
        if k < cfg.folds:
            reason += f"; {k} folds, not the {cfg.folds} asked: the data has {n_groups} groups, one per fold at most"
        if classes:
            try:
                splitter: Any = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
                folds = list(splitter.split(index, train.y, train.groups))
            except ValueError:  # fewer groups per class than folds
                folds = list(GroupKFold(n_splits=k).split(index, groups=train.groups))
        else:
            folds = list(GroupKFold(n_splits=k).split(index, groups=train.groups))
        return ValidationPlan("group", reason, tuple(folds))
    rarest = int(np.bincount(train.y).min()) if classes else train.n_samples
    k = min(cfg.folds, rarest)
    if k < 2:
        raise ConfigError(
            f"k-fold validation needs at least 2 training samples of every class; the rarest has {rarest}. "
            "Drop or merge that class, or use validation.strategy: holdout."
        )
    if k < cfg.folds:
        reason += (
            f"; {k} folds, not the {cfg.folds} asked: the rarest class has {rarest} training samples, and every "
            "fold validates on at least one of each class"
            if classes
            else f"; {k} folds, not the {cfg.folds} asked: one per training sample at most"
        )
    # One repeat unless asked: every fold of a small-data study trains its whole schedule (at
    # least ``min_steps`` updates), and a second repeat doubled the study for a steadier score
    # that the final re-training over seeds checks anyway.
    repeats = cfg.repeats or 1
    if classes:
        splitter = RepeatedStratifiedKFold(n_splits=k, n_repeats=repeats, random_state=seed)
        folds = list(splitter.split(index, train.y))
    else:
        folds = list(RepeatedKFold(n_splits=k, n_repeats=repeats, random_state=seed).split(index))
    return ValidationPlan("kfold", reason, tuple(folds), repeats)


def _choose(train: Dataset, cfg: Validation) -> tuple[str, str]:
    """The strategy and the sentence that explains it."""
    if cfg.strategy == "group" and train.groups is None:
        raise ConfigError(
            "validation.strategy 'group' needs group ids (e.g. the id column of a long-format frame, or "
            "groups= in from_array). This dataset has none: use 'kfold' or 'holdout'."
        )
    if cfg.strategy == "time" and not train.windowed:
        build = "build it with workbench.windows" if current_interface() == "python" else f"set {option_name('window')}"
        raise ConfigError(
            "validation.strategy 'time' splits windows of long recordings by time; this dataset is not windowed "
            f"({build}). Use 'auto'."
        )
    if train.windowed and cfg.strategy != "group":
        # Shuffled splits of overlapping windows put neighbours on both sides: never used for windows.
        if cfg.strategy in ("auto", "time"):
            strategy, why = _choose_size(train, cfg)
        else:
            strategy, why = cfg.strategy, f"{cfg.strategy} chosen in the config, kept in time order"
        if strategy == "holdout":
            return "time", (
                f"windows of long recordings: the last {cfg.fraction:.0%} of each recording validates, after a gap "
                f"of one window ({train.max_length} steps), so no validation window overlaps a fitted one; {why}"
            )
        return "blocked", (
            f"windows of long recordings: {cfg.folds} consecutive time blocks, each validated while the windows "
            f"within one window ({train.max_length} steps) of it are left out of fitting; {why}"
        )
    if cfg.strategy != "auto":
        return cfg.strategy, "chosen in the config"
    return _choose_size(train, cfg)


def _choose_size(train: Dataset, cfg: Validation) -> tuple[str, str]:
    """``auto`` for samples that are not windows: group, holdout or k-fold."""
    if train.groups is not None and not train.windowed:
        n = len(np.unique(train.groups))
        return "group", f"the data has {n} groups (e.g. subjects): folds keep each group whole, so no group leaks"
    if train.task in ("binary", "multiclass"):
        rarest = int(np.bincount(train.y).min())
        in_holdout = int(rarest * cfg.fraction)
        if in_holdout >= cfg.min_per_class:
            return "holdout", (
                f"the rarest class has {rarest} training samples, so a {cfg.fraction:.0%} holdout validates on "
                f"{in_holdout} of them (at least {cfg.min_per_class}): one split is a stable estimate"
            )
        return "kfold", (
            f"the rarest class has only {rarest} training samples, so a {cfg.fraction:.0%} holdout would validate "
            f"on {in_holdout} of them (fewer than {cfg.min_per_class}): one split's score is mostly noise, and a "
            "study maximising it selects noise"
        )
    n_val = int(train.n_samples * cfg.fraction)
    if train.n_samples >= SMALL_REGRESSION:
        return "holdout", f"{train.n_samples} training samples: a {cfg.fraction:.0%} holdout holds {n_val}"
    return "kfold", (
        f"only {train.n_samples} training samples: a {cfg.fraction:.0%} holdout would hold {n_val}, "
        "too few for a stable score"
    )


@dataclass(frozen=True)
class TrialData:
    """What every trial of an experiment sees: the training split and its validation folds.
    The test split is not here, so no trial can touch it."""

    train: Dataset
    plan: ValidationPlan

    @property
    def large(self) -> bool:
        """Whether its runs follow the large-data recipe (``models.run_plan.is_large``)."""
        return is_large(len(self.plan.folds[0][0]), self.train.max_length)

    def fold(self, i: int) -> tuple[Dataset, Dataset]:
        fit_idx, val_idx = self.plan.folds[i]
        return self.train.subset(fit_idx), self.train.subset(val_idx)
