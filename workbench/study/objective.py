"""The trial objective: suggested values → training on each validation fold → the mean score.

Failures never kill the study: a diverging run is failed with its reason, an
exception is failed with its traceback (memory freed), a pruned run stays pruned.
"""

from __future__ import annotations

import gc
import time
import traceback
from typing import Any

import lightning.pytorch as pl
import numpy as np
import optuna
import torch
from lightning.pytorch.callbacks import Callback
from optuna.trial import FrozenTrial, TrialState
from optuna_integration import PyTorchLightningPruningCallback

from workbench.candidates import CANDIDATES
from workbench.config import ExperimentConfig
from workbench.models.devices import choose_accelerator
from workbench.models.metrics import MAXIMIZE, VAL, metric_key
from workbench.models.trained import TrainedModel
from workbench.study import attrs
from workbench.study.costs import fold_cost
from workbench.study.fold_models import keep_if_best
from workbench.study.space import Space, suggest
from workbench.study.storage import StorageFailure, storage_cause
from workbench.study.time_limit import TimeLimit
from workbench.study.training import Recipe
from workbench.study.validation import TrialData


class TrialFailed(Exception):
    """A trial that ran but whose result cannot be used (e.g. it diverged)."""


class Objective:
    """Suggested values → training on every validation fold → the mean validation score.

    Holdout (one fold): every epoch is reported to Optuna through the Lightning pruning
    callback, for the median or Hyperband pruner. k-fold: each fold's score is reported
    as it finishes (step = fold id) for the study's Wilcoxon pruner, which stops a trial
    clearly worse than the best on the folds seen so far; within a fold, epochs are
    pruned by the median rule against earlier trials on the same fold.

    A sampled configuration whose training would cost more than ``trial_cost_cap`` times the
    family's first proven default (``reference``; on a CPU, timed here) is pruned before it trains: on two
    cores one such trial (a 4-block, 128-wide hybrid: 4–10× the FCN's step) took longer than
    the rest of its family's search.

    The worker asks for the trial, checks that it fits the budget, and tells its result
    (``worker.py``): here a trial is only trained and recorded.
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
        callbacks: list[Callback] | None = None,
        reference: dict[str, Any] | None = None,
        limit: TimeLimit | None = None,
    ) -> None:
        """``callbacks``: Lightning callbacks added to every fold's training (the worker's
        Ctrl-C check). ``reference``: the family's first proven default, whose cost bounds a
        sampled configuration's (``trial_cost_cap``); None: no bound. ``limit``: the experiment's
        time limit, which bounds each run's optimiser steps (``TimeLimit.run_steps``)."""
        self.family, self.space, self.data, self.config, self.limit = family, space, data, config, limit
        self.large = data.large
        self.recipe = Recipe(family, config, metric, threads=threads, accelerator=accelerator, large=self.large)
        self.metric = metric
        self.monitor = metric_key(VAL, metric)
        self.maximize = MAXIMIZE[metric]
        self.prune = config.pruner.name != "none"
        self.seen: list[FrozenTrial] = []
        self.callbacks = list(callbacks or [])
        self.reference = reference
        self.device = choose_accelerator(accelerator)
        self._reference_cost: float | None = None  # seconds of the reference's fold, timed once
        self.models: dict[int, TrainedModel] = {}  # the running trial's fold models (deep families)

    def __call__(self, trial: optuna.Trial, seen: list[FrozenTrial]) -> float:
        """``seen``: the storage's trials when this one started (the fold pruner's earlier curves)."""
        self.seen = seen
        params = suggest(trial, self.space)
        record: dict[str, Any] = {"train_seconds": 0.0, "folds": []}
        self.models = {}
        storage_failed = False
        try:
            if (ratio := self._too_costly(trial, params)) is not None:
                record["too_costly"] = round(ratio, 1)
                cap = f"{self.config.trial_cost_cap:g}"
                record["pruned"] = f"not trained: it would cost more than {cap}× the proven default (trial_cost_cap)"
                raise optuna.TrialPruned(record["pruned"])
            if self.data.plan.n_folds == 1:
                self._run_fold(0, params, record, self._holdout_pruning(trial))
            else:
                # A per-trial order, as the Wilcoxon pruner advises: no fold is always seen first.
                order = np.random.default_rng(trial.number).permutation(self.data.plan.n_folds)
                for done, i in enumerate(order, start=1):
                    score = self._run_fold(int(i), params, record, self._fold_epoch_pruner(int(i)))
                    trial.report(score, step=int(i))
                    if self.prune and done < len(order) and trial.should_prune():
                        record["pruned"] = f"worse than the best trial after {done} of {len(order)} folds"
                        raise optuna.TrialPruned(record["pruned"])
            record["metrics"] = _mean_metrics([f["metrics"] for f in record["folds"]])
            record["stop_reason"] = ",".join(sorted({f["stop_reason"] for f in record["folds"]}))
            value = float(np.mean([f["score"] for f in record["folds"]]))
            self._keep_fold_models(trial, value)
            return value
        except optuna.TrialPruned:
            raise
        except TrialFailed as exc:
            record["failure"] = str(exc)
            raise
        except Exception as exc:
            if storage_cause(exc) is not None:  # the storage failed under the trial: not the trial's failure
                storage_failed = True
                raise StorageFailure(exc, trial.number) from exc
            record["failure"] = traceback.format_exc(limit=20)
            _free_memory()
            raise
        finally:
            if not storage_failed:
                self._store_outcome(trial, record)

    @staticmethod
    def _store_outcome(trial: optuna.Trial, record: dict[str, Any]) -> None:
        try:
            trial.set_user_attr(attrs.OUTCOME, record)
        except Exception as exc:
            if storage_cause(exc) is None:
                raise
            raise StorageFailure(exc, trial.number) from exc

    def _holdout_pruning(self, trial: optuna.Trial) -> list[Callback]:
        """Each validation reported to the study's pruner, which may stop the run; on large data
        a proven default only reports, and runs to the end (``scale.py``)."""
        if not self.prune or not CANDIDATES[self.family].deep:
            return []
        if self.large and attrs.DEFAULT in trial.user_attrs:
            return [ReportsOnly(trial, monitor=self.monitor)]
        return [PyTorchLightningPruningCallback(trial, monitor=self.monitor)]

    def _too_costly(self, trial: optuna.Trial, params: dict[str, Any]) -> float | None:
        """A sampled configuration's training cost (a fold's steps × a timed step) as a multiple of
        the reference's, when it exceeds ``trial_cost_cap``; else None. No cap applies to a proven
        default, without a reference (baselines) or on a GPU (where a small model's step costs
        about the same at any width)."""
        cap = self.config.trial_cost_cap
        if cap is None or self.reference is None or self.device != "cpu" or attrs.DEFAULT in trial.user_attrs:
            return None
        if self._reference_cost is None:
            self._reference_cost = fold_cost(self.family, self.reference, self.data, self.config).seconds
        ratio = fold_cost(self.family, params, self.data, self.config).seconds / self._reference_cost
        return ratio if ratio > cap else None

    def _keep_fold_models(self, trial: optuna.Trial, value: float) -> None:
        """The fold models of a trial better than every completed one, for an evaluation by folds
        (``evaluation.replicates: folds``, also chosen after the study; ``fold_models.py``)."""
        if (self.data.plan.n_folds == 1 and not self.large) or len(self.models) < self.data.plan.n_folds:
            return  # a small holdout study re-trains over seeds; large data's verdict scores this model
        completed = trial.study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        keep_if_best(self.config.run_dir, self.family, trial.number, value, self.maximize, self.models, completed)

    def _run_fold(self, i: int, params: dict[str, Any], record: dict[str, Any], callbacks: list[Any]) -> float:
        """Train on fold ``i`` and add its result to ``record``; return its validation score."""
        config = self.config
        fit_ds, val_ds = self.data.fold(i)
        started = time.perf_counter()
        folds_left = self.data.plan.n_folds - len(record["folds"])
        max_steps = None if self.limit is None else self.limit.run_steps(self.family, folds_left)
        try:
            run = self.recipe.fit(
                fit_ds, val_ds, None, params, config.seed, callbacks=[*callbacks, *self.callbacks], max_steps=max_steps
            )
            metrics, epochs, stop, history = run.metrics, run.epochs, run.stop_reason, run.history
            if stop == "diverged":
                raise TrialFailed(f"diverged: the training loss became NaN/inf at epoch {epochs} (fold {i})")
        except optuna.TrialPruned:
            rule = next((c for c in callbacks if isinstance(c, MedianEpochRule)), None)
            if rule is not None:  # k-fold: count the pruned fold's epochs (holdout counts its reports)
                record["epochs"] = record.get("epochs", 0) + len(rule.values)
            raise
        finally:
            record["train_seconds"] += time.perf_counter() - started
        score = metrics.get(self.monitor)
        if score is None:
            raise TrialFailed(f"no {self.monitor} in the run's metrics {sorted(metrics)}")
        record["epochs"] = record.get("epochs", 0) + epochs
        if run.model is not None:
            self.models[i] = run.model
        if not record["folds"] and run.notes:
            record["notes"] = list(run.notes)  # what the run plan chose, and why (the first fold's)
        record["folds"].append(
            {
                "fold": i,
                "score": float(score),
                "epochs": epochs,
                "stop_reason": stop,
                "metrics": metrics,
                "history": history,
            }
        )
        return float(score)

    def _fold_epoch_pruner(self, fold: int) -> list[Any]:
        if not self.prune or not CANDIDATES[self.family].deep:
            return []
        curves = [
            [epoch[self.monitor] for epoch in f["history"] if self.monitor in epoch]
            for t in self.seen
            if t.state == TrialState.COMPLETE
            for f in attrs.outcome(t).get("folds", [])
            if f["fold"] == fold
        ]
        pruner = self.config.pruner
        return [MedianEpochRule(curves, self.monitor, self.maximize, pruner.n_startup_trials, pruner.n_warmup_steps)]


class ReportsOnly(PyTorchLightningPruningCallback):  # type: ignore[misc]
    """Optuna's Lightning pruning callback that reports every validation but never prunes: a proven
    default on large data runs to the end, and its reports set the rungs sampled configurations
    are judged at."""

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        current = trainer.callback_metrics.get(self.monitor)
        if not trainer.sanity_checking and current is not None:
            self._trial.report(float(current), step=pl_module.current_epoch)


class MedianEpochRule(Callback):
    """Optuna's median rule within one fold: stop when this run's best value so far is worse
    than the median of earlier trials' best values by the same epoch on the same fold.
    It reads the earlier curves from their outcome records, so it costs no storage write."""

    def __init__(
        self, curves: list[list[float]], monitor: str, maximize: bool, n_startup_trials: int, n_warmup_steps: int
    ) -> None:
        self.curves, self.monitor, self.maximize = curves, monitor, maximize
        self.n_startup_trials, self.n_warmup_steps = n_startup_trials, n_warmup_steps
        self.values: list[float] = []

    def on_validation_end(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        value = trainer.callback_metrics.get(self.monitor)
        if value is None:
            return
        self.values.append(float(value))
        epoch = len(self.values) - 1
        others = [_best_so_far(c[: epoch + 1], self.maximize) for c in self.curves if len(c) > epoch]
        if epoch < self.n_warmup_steps or len(others) < max(1, self.n_startup_trials):
            return
        mine, median = _best_so_far(self.values, self.maximize), float(np.median(others))
        if (mine < median) if self.maximize else (mine > median):
            raise optuna.TrialPruned(f"epoch {epoch}: {self.monitor} {mine:.4f} worse than the median {median:.4f}")


def _best_so_far(values: list[float], maximize: bool) -> float:
    finite = [v for v in values if np.isfinite(v)]
    if not finite:
        return -np.inf if maximize else np.inf
    return max(finite) if maximize else min(finite)


def _mean_metrics(per_fold: list[dict[str, float]]) -> dict[str, float]:
    keys = set.intersection(*(set(m) for m in per_fold)) if per_fold else set()
    return {k: float(np.mean([m[k] for m in per_fold])) for k in sorted(keys)}


def _free_memory() -> None:
    """After a failure (CUDA out-of-memory included), give memory back before the next trial."""
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
