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
from collections.abc import Callable
from dataclasses import dataclass

import optuna
import torch
from optuna_integration import PyTorchLightningPruningCallback

from workbench.config import DEEP_FAMILIES, ExperimentConfig
from workbench.data.dataset import Dataset
from workbench.models.system import VAL, metric_key
from workbench.models.train import fit
from workbench.study.baselines import fit_baseline
from workbench.study.budget import may_run
from workbench.study.space import Space, suggest

# User attributes every finished trial carries (read by budgets, status, results and reports).
ATTR_EPOCHS = "epochs"
ATTR_STOP = "stop_reason"
ATTR_METRICS = "metrics"
ATTR_HISTORY = "history"
ATTR_FAILURE = "failure"  # why a trial failed: divergence or the traceback
ATTR_OVERFLOW = "overflow"  # asked for after the budget was taken by other workers
ATTR_WORKER = "worker"
ATTR_TRAIN_SECONDS = "train_seconds"  # time inside training: the rest of a trial is study overhead


class OverBudget(Exception):
    """Raised at the start of a trial that other workers' trials already paid for."""


class TrialFailed(Exception):
    """A trial that ran but whose result cannot be used (e.g. it diverged)."""


@dataclass(frozen=True)
class TrialData:
    """What every trial of an experiment trains and validates on: the same split for all."""

    fit: Dataset
    validation: Dataset


def make_objective(
    family: str,
    space: Space,
    data: TrialData,
    config: ExperimentConfig,
    metric: str,
    *,
    threads: int | None = None,
    accelerator: str = "auto",
) -> Callable[[optuna.Trial], float]:
    monitor = metric_key(VAL, metric)
    prune = config.pruner.name != "none"

    def objective(trial: optuna.Trial) -> float:
        if not may_run(trial.study, trial.number, config.budget):
            trial.set_user_attr(ATTR_OVERFLOW, True)
            raise OverBudget(f"trial {trial.number} asked after the budget was used up by other workers")
        trial.set_user_attr(ATTR_WORKER, {"host": socket.gethostname(), "pid": os.getpid()})
        params = suggest(trial, space)
        started = time.perf_counter()
        try:
            if family in DEEP_FAMILIES:
                result = fit(
                    data.fit,
                    family,
                    params,
                    validation=data.validation,
                    max_epochs=config.max_epochs,
                    patience=config.patience,
                    metric=metric,
                    seed=config.seed,
                    threads=threads,
                    accelerator=accelerator,
                    # Per-epoch reports only when something prunes: each one is a storage write.
                    callbacks=[PyTorchLightningPruningCallback(trial, monitor=monitor)] if prune else [],
                )
                trial.set_user_attr(ATTR_EPOCHS, result.epochs_run)
                trial.set_user_attr(ATTR_STOP, result.stop_reason)
                trial.set_user_attr(ATTR_HISTORY, result.history)
                if result.stop_reason == "diverged":
                    raise TrialFailed(f"diverged: the training loss became NaN/inf at epoch {result.epochs_run}")
                metrics = result.metrics
            else:
                outcome = fit_baseline(family, params, data.fit, data.validation, seed=config.seed)
                metrics = outcome["metrics"]
                trial.set_user_attr(ATTR_EPOCHS, 0)
            trial.set_user_attr(ATTR_METRICS, metrics)
            value = metrics.get(monitor)
            if value is None:
                raise TrialFailed(f"no {monitor} in the run's metrics {sorted(metrics)}")
            return float(value)
        except optuna.TrialPruned:
            raise
        except TrialFailed as exc:
            trial.set_user_attr(ATTR_FAILURE, str(exc))
            raise
        except Exception:
            trial.set_user_attr(ATTR_FAILURE, traceback.format_exc(limit=20))
            _free_memory()
            raise
        finally:
            trial.set_user_attr(ATTR_TRAIN_SECONDS, time.perf_counter() - started)

    return objective


def _free_memory() -> None:
    """After a failure (CUDA out-of-memory included), give memory back before the next trial."""
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
