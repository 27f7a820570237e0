"""What a trial costs on this data and machine, measured before it runs.

A deep trial is its folds × the run plan's optimiser steps (``models.run_plan.plan_run``, the plan
the trial will follow) × the seconds of one step, timed on this data through the recipe's own
training step (``WorkbenchModule.train_on``: the same loss, optimiser and clipping), with the
threads and device a trial would use. A baseline's fit is timed on a part of the data and scaled
to the trial's size. The time limit (``time_limit.py``) spreads the experiment's time from these,
and ``trial_cost_cap`` bounds a sampled configuration by its family's first proven default.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from optuna.trial import FrozenTrial

from workbench.candidates import CANDIDATES
from workbench.study import attrs
from workbench.study.budget import trial_seconds

if TYPE_CHECKING:
    from workbench.config import ExperimentConfig
    from workbench.data.dataset import Dataset
    from workbench.study.experiment import Experiment
    from workbench.study.experiment_data import ExperimentData
    from workbench.study.space import Space
    from workbench.study.validation import TrialData

# A run's validation passes and Lightning's loop around the steps: about a sixth more than the
# steps alone (measured on the built-in datasets' defaults).
LOOP_OVERHEAD = 1.15
TIMED_STEPS = 12
MIN_SHORT_STEPS = 50  # a shortened run takes at least this many steps (and one pass over the data)


@dataclass(frozen=True)
class TrialCost:
    """A deep trial's cost as planned: ``folds`` runs of ``steps`` optimiser steps of
    ``step_s`` seconds; ``per_pass`` steps make one pass over a fold's ``n_fit`` samples."""

    folds: int
    steps: int
    step_s: float
    per_pass: int
    n_fit: int

    @property
    def seconds(self) -> float:
        return self.folds * self.steps * self.step_s * LOOP_OVERHEAD

    @property
    def shortest(self) -> int:
        """The fewest steps a shortened run takes: a pass over the data, and MIN_SHORT_STEPS."""
        return min(self.steps, max(MIN_SHORT_STEPS, self.per_pass))

    def within(self, seconds: float) -> TrialCost | None:
        """This trial shortened to fit in ``seconds`` (itself if it does); None below :attr:`shortest`."""
        if self.seconds <= seconds:
            return self
        steps = math.floor(seconds / (self.folds * self.step_s * LOOP_OVERHEAD))
        return dataclasses.replace(self, steps=steps) if steps >= self.shortest else None

    def text(self) -> str:
        """``"26 epochs on 11,250 samples"`` (or ``"5 folds × 1000 steps"`` on small data)."""
        if self.folds > 1:
            return f"{self.folds} folds × {self.steps} steps × {self.step_s * 1000:.0f} ms"
        epochs = self.steps / self.per_pass
        return f"{epochs:.3g} epoch{'s' if epochs != 1 else ''} on {self.n_fit:,} samples ({self.steps} steps)"


def measured_cost(trials: list[FrozenTrial]) -> float | None:
    """The mean seconds of the trials that trained (a skipped default took none, a configuration
    too costly to train a moment); None before any."""
    times = [
        trial_seconds(t) for t in trials if t.state.is_finished() and trial_seconds(t) > 0 and not attrs.too_costly(t)
    ]
    return sum(times) / len(times) if times else None


def step_seconds(
    family: str,
    params: dict[str, Any],
    data: Dataset,
    batch_size: int,
    *,
    steps: int = TIMED_STEPS,
    threads: int | None = None,
) -> float:
    """Seconds of one optimiser step of ``family`` with ``params`` on batches of ``data``, through
    the recipe's own training step, after a warm-up, on the device a trial would use and with its
    ``threads`` (None: as a run chooses them, ``models.devices.auto_threads``)."""
    import torch

    from workbench.data.batching import TensorBatches
    from workbench.models.devices import auto_threads, choose_accelerator
    from workbench.models.metrics import VAL, metric_key
    from workbench.models.registry import build_model, split_params
    from workbench.models.spec import DataSpec
    from workbench.models.system import WorkbenchModule

    model_params, train_params = split_params(family, params)
    spec = DataSpec.from_dataset(data)
    net = build_model(family, model_params, spec)
    module = WorkbenchModule(
        net, spec, train_params, monitor=metric_key(VAL, "loss"), max_epochs=1, steps_per_epoch=steps + 3
    )
    device = choose_accelerator("auto")
    module.to(device)
    configured = module.configure_optimizers()
    opt = configured["optimizer"] if isinstance(configured, dict) else configured
    sched = configured.get("lr_scheduler") if isinstance(configured, dict) else None
    sample = data.subset(np.arange(min(data.n_samples, batch_size * 4)))
    batches = TensorBatches(sample, min(batch_size, sample.n_samples), device=device, shuffle=True)
    batches.steps_per_epoch = steps + 3
    width = getattr(model_params, "channels", None) or getattr(model_params, "width", None) or 64
    previous = torch.get_num_threads()
    torch.set_num_threads(threads or auto_threads(batch_size * spec.length * width))
    try:
        stream = iter(batches)
        for _ in range(3):
            module.train_on(next(stream), opt, sched)
        # The median step: a moment of the machine's other work (a notebook, a test run) is not
        # taken for the step's cost, which a whole trial's thousands of steps would pay each time.
        seconds = []
        for _ in range(steps):
            start = time.perf_counter()
            module.train_on(next(stream), opt, sched)
            if device == "cuda":
                torch.cuda.synchronize()
            seconds.append(time.perf_counter() - start)
        return float(np.median(seconds))
    finally:
        torch.set_num_threads(previous)


def fold_cost(
    family: str,
    params: dict[str, Any],
    data: TrialData,
    config: ExperimentConfig,
    *,
    threads: int | None = None,
) -> TrialCost:
    """One fold's training of ``params`` as planned on this data, with the seconds of one step
    timed here with a worker's ``threads``."""
    from workbench.data.batching import training_steps_per_pass
    from workbench.models.run_plan import plan_run

    fit_part, val_part = data.fold(0)
    batch = int(params.get("batch_size", 32))
    plan = plan_run(
        n_train=fit_part.n_samples,
        n_val=val_part.n_samples,
        batch_size=batch,
        steps_per_pass=lambda b: training_steps_per_pass(fit_part, b),
        batchnorm=True,
        max_epochs=config.max_epochs,
        min_steps=config.min_steps,
        patience=config.patience,
        length=fit_part.max_length,
    )
    return TrialCost(
        folds=data.plan.n_folds,
        steps=plan.max_steps,
        step_s=step_seconds(family, params, fit_part, plan.batch_size, threads=threads),
        per_pass=training_steps_per_pass(fit_part, plan.batch_size),
        n_fit=fit_part.n_samples,
    )


def reference_config(data: ExperimentData, family: str, space: Space | None = None) -> dict[str, Any] | None:
    """The family's first proven default on this data (as enqueued into ``space``), whose cost the
    time limit estimates from and ``trial_cost_cap`` bounds sampled configurations by; None for
    baselines."""
    from workbench.study.defaults import default_configs, fit_to_space

    if not CANDIDATES[family].deep:
        return None
    defaults = default_configs(family, **data.default_sizes)
    if not defaults:
        return None
    return defaults[0] if space is None else fit_to_space(defaults[0], space)


def estimate_costs(exp: Experiment, families: list[str], threads: int | None = None) -> dict[str, TrialCost]:
    """A trial's cost per deep family, from timed steps of its first proven default (with a
    worker's ``threads``)."""
    return {
        family: fold_cost(family, params, exp.data.trial, exp.config, threads=threads)
        for family in families
        if (params := reference_config(exp.data, family)) is not None
    }
