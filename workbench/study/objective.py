"""The trial objective: suggested values → one training run → the validation score.

Failures never kill the study: a diverging run is failed with its reason, an
exception is failed with its traceback (memory freed), a pruned run stays pruned.
"""

from __future__ import annotations

import gc
import os
import socket
import time
import traceback
from dataclasses import dataclass
from typing import Any

import optuna
import torch
from optuna.trial import FrozenTrial
from optuna_integration import PyTorchLightningPruningCallback

from workbench.config import DEEP_FAMILIES, ExperimentConfig
from workbench.data.dataset import Dataset
from workbench.models.system import VAL, metric_key
from workbench.models.train import fit
from workbench.study import attrs
from workbench.study.baselines import fit_baseline
from workbench.study.budget import may_run
from workbench.study.space import Space, suggest


class OverBudget(Exception):
    """Raised at the start of a trial that other workers' trials already paid for."""


class TrialFailed(Exception):
    """A trial that ran but whose result cannot be used (e.g. it diverged)."""


@dataclass(frozen=True)
class TrialData:
    """What every trial of an experiment trains and validates on: the same split for all."""

    fit: Dataset
    validation: Dataset


class Objective:
    """Suggested values → one training run → the validation score, for one family.

    It keeps the trials it read at the start of its last trial (``seen``): with that
    trial's result swapped in, the worker loop has the budget and progress without a
    second read of the storage.
    """

    def __init__(
        self,
        family: str,
        space: Space,
        data: TrialData,
        config: ExperimentConfig,
        metric: str,
        *,
        threads: int | None = None,
        accelerator: str = "auto",
    ) -> None:
        self.family, self.space, self.data, self.config = family, space, data, config
        self.threads, self.accelerator = threads, accelerator
        self.monitor = metric_key(VAL, metric)
        self.metric = metric
        self.seen: list[FrozenTrial] = []

    def trials_after(self, finished: FrozenTrial) -> list[FrozenTrial]:
        """The storage's trials as read at the start of ``finished``, with its final state."""
        return [finished if t.number == finished.number else t for t in self.seen]

    def __call__(self, trial: optuna.Trial) -> float:
        config = self.config
        self.seen = trial.study.get_trials(deepcopy=False)
        if not may_run(self.seen, trial.number, config.budget):
            trial.set_user_attr(attrs.OVERFLOW, True)
            raise OverBudget(f"trial {trial.number} asked after the budget was used up by other workers")
        trial.set_user_attr(attrs.WORKER, {"host": socket.gethostname(), "pid": os.getpid()})
        params = suggest(trial, self.space)
        record: dict[str, Any] = {}
        started = time.perf_counter()
        try:
            if self.family in DEEP_FAMILIES:
                prune = config.pruner.name != "none"
                result = fit(
                    self.data.fit,
                    self.family,
                    params,
                    validation=self.data.validation,
                    max_epochs=config.max_epochs,
                    patience=config.patience,
                    metric=self.metric,
                    seed=config.seed,
                    threads=self.threads,
                    accelerator=self.accelerator,
                    # Per-epoch reports only when something prunes: each one is a storage write.
                    callbacks=[PyTorchLightningPruningCallback(trial, monitor=self.monitor)] if prune else [],
                )
                record["train_seconds"] = time.perf_counter() - started
                record.update(epochs=result.epochs_run, stop_reason=result.stop_reason, history=result.history)
                if result.stop_reason == "diverged":
                    raise TrialFailed(f"diverged: the training loss became NaN/inf at epoch {result.epochs_run}")
                metrics = result.metrics
            else:
                metrics = fit_baseline(self.family, params, self.data.fit, self.data.validation, seed=config.seed)[
                    "metrics"
                ]
                record.update(train_seconds=time.perf_counter() - started, epochs=0)
            record["metrics"] = metrics
            value = metrics.get(self.monitor)
            if value is None:
                raise TrialFailed(f"no {self.monitor} in the run's metrics {sorted(metrics)}")
            return float(value)
        except optuna.TrialPruned:
            raise
        except TrialFailed as exc:
            record["failure"] = str(exc)
            raise
        except Exception:
            record["failure"] = traceback.format_exc(limit=20)
            _free_memory()
            raise
        finally:
            record.setdefault("train_seconds", time.perf_counter() - started)
            trial.set_user_attr(attrs.OUTCOME, record)


def _free_memory() -> None:
    """After a failure (CUDA out-of-memory included), give memory back before the next trial."""
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
