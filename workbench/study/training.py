"""One way to train any candidate: ``Recipe(family, ...).fit(train, validation, test, params,
seed)``. Trials (``objective.py``) and the final evaluation (``evaluate.py``) both call it, so
deep families and baselines take the same path everywhere else."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from workbench.candidates import CANDIDATES
from workbench.config import ExperimentConfig
from workbench.data.dataset import Dataset
from workbench.models.baselines import fit_baseline
from workbench.models.run_plan import VALIDATION_CAP
from workbench.models.train import fit
from workbench.models.trained import TrainedModel

# Large data: a baseline fits on at most this many training sequences (scale.py). MiniRocket turns each
# into 10,000 float64 features: 10,000 of them are 0.8 GB in the worker that fits it.
BASELINE_SAMPLES = 10_000


@dataclass(frozen=True)
class Run:
    metrics: dict[str, float]  # val_* and test_* for the parts given
    epochs: int  # 0 for baselines
    stop_reason: str  # completed / early_stopped / converged / diverged / ...
    history: list[dict[str, float]] = field(default_factory=list)  # per epoch (deep families)
    seconds: float = 0.0
    model: TrainedModel | None = field(default=None, repr=False)  # deep families
    notes: tuple[str, ...] = ()  # what the run plan chose and why (deep families)


@dataclass(frozen=True)
class Recipe:
    """A candidate's training recipe: the family with the experiment's training settings bound
    (epochs, minimum steps, patience, metric, threads, device). Not Lightning's ``pl.Trainer``,
    which ``models.train.fit`` drives for one run."""

    family: str
    config: ExperimentConfig
    metric: str
    threads: int | None = None
    accelerator: str = "auto"
    large: bool = False  # large data: baselines fit on a bounded subset (scale.py)

    def baseline_part(self, train: Dataset, seed: int) -> Dataset:
        """What a baseline fits on: on large data a seeded, stratified BASELINE_SAMPLES of ``train``."""
        if self.large and train.n_samples > BASELINE_SAMPLES:
            return train.split(1 - BASELINE_SAMPLES / train.n_samples, seed=seed)[0]
        return train

    def validation_part(self, validation: Dataset) -> Dataset:
        """What a baseline validates on: on large data the first VALIDATION_CAP (a random subset:
        the split is random), as a deep run does (``models.run_plan.plan_run``)."""
        if self.large and validation.n_samples > VALIDATION_CAP:
            return validation.subset(np.arange(VALIDATION_CAP))
        return validation

    def fit(
        self,
        train: Dataset,
        validation: Dataset | None,
        test: Dataset | None,
        params: dict[str, Any],
        seed: int,
        *,
        callbacks: list[Any] | None = None,
        max_steps: int | None = None,
    ) -> Run:
        """Train one configuration; ``callbacks`` (pruning) apply to deep families, and so does
        ``max_steps``, the optimiser steps a run may take (a time limit's; None: as planned)."""
        started = time.perf_counter()
        if not CANDIDATES[self.family].deep:
            train = self.baseline_part(train, seed)
            validation = None if validation is None else self.validation_part(validation)
            out = fit_baseline(self.family, params, train, validation, test=test, seed=seed, threads=self.threads)
            return Run(out["metrics"], 0, "completed", [], time.perf_counter() - started)
        result = fit(  # raises TrialPruned from a pruning callback
            train,
            self.family,
            params,
            validation=validation,
            test=test,
            max_epochs=self.config.max_epochs,
            min_steps=self.config.min_steps,
            max_steps=max_steps,
            patience=self.config.patience,
            metric=self.metric,
            seed=seed,
            threads=self.threads,
            accelerator=self.accelerator,
            callbacks=callbacks or [],
        )
        return Run(
            result.metrics,
            result.epochs_run,
            result.stop_reason,
            result.history,
            result.wall_time_s,
            result.model,
            tuple(result.notes),
        )
