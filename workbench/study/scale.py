"""How a study follows the data's size and the device: small data keeps the recipes the archive's
datasets were measured with, large data gets an engineer's.

Small data (tens to hundreds of sequences, every built-in dataset): batches of 16, runs of at
least 1,000 optimiser steps, k-fold validation where a holdout would be too small to trust,
the median (or Wilcoxon, by folds) pruner, and a verdict from the best configurations re-trained
over seeds.

Large data (from ``models.run_plan.LARGE_SAMPLE_STEPS`` sample-steps to fit, e.g. 5,000 sequences
of 256 steps), measured on the scale benchmark's 20,000 × 3 × 256 (``benchmarks/scale.py``):

- **batch** 64 on a CPU: the FCN default's epoch took 12–14 s at batches of 16 to 128 and 18 s at
  256 (the activations outgrow the caches), and after 5 epochs scored 0.54 at 16, 0.52 at 64,
  0.48 at 128: past 64 a CPU only loses updates. On a GPU the batch grows with the data, 128 to
  512 (:func:`batch_size`), to keep the device busy. The learning rate scales with the square
  root of the batch (:data:`REFERENCE_BATCH`: the defaults' 16), after a warm-up (5% of the run).
- **runs** bounded by the sample-steps they see and by the time limit, validated 20 times on at
  most 4,096 samples (``models.run_plan.plan_run``);
- **holdout** validation (``auto`` chooses it once a quarter of the rarest class holds 25
  samples: from 100 training samples per class);
- **multi-fidelity search**: sampled configurations are pruned by successive halving on those
  validation checks (rungs at 2, 6 and 18 of 20: a configuration stopped at the first rung cost a
  tenth of a run), while the proven defaults, which go first, run to the end;
- **baselines** fitted on at most :data:`BASELINE_SAMPLES` training sequences;
- **a verdict from the models the study trained**: each family's best trial keeps its model, and
  the replicates are disjoint parts of the test split, the same parts for every family (re-training
  five seeds would cost five trials a family).

Each choice is a line of the experiment's notes (:meth:`Scale.notes`), stored with it and shown by
``workbench status`` and the report.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import optuna

from workbench.models.run_plan import CHECKS, is_large
from workbench.study.training import BASELINE_SAMPLES

if TYPE_CHECKING:
    from workbench.study.experiment import Experiment
    from workbench.study.space import Space

REFERENCE_BATCH = 16  # the batch the proven defaults' learning rates were measured at
CPU_BATCH = 64
GPU_BATCHES = (128, 512)  # the smallest and largest batch on a GPU
FIRST_RUNG = 2  # validation checks a sampled configuration trains before its first judgement
REDUCTION = 3


@dataclass(frozen=True)
class Scale:
    """The regime of an experiment's trials: from the training part of a validation fold
    (``n_fit`` sequences of ``length`` steps) and the device that trains them."""

    n_fit: int
    length: int
    gpu: bool

    @property
    def large(self) -> bool:
        return is_large(self.n_fit, self.length)

    @property
    def batch_size(self) -> int | None:
        """The defaults' batch on large data (None: the defaults' own, small data)."""
        return batch_size(self.n_fit, self.gpu) if self.large else None

    @property
    def lr_factor(self) -> float:
        """The defaults' learning rates are multiplied by this (the square root of the batch's growth)."""
        return math.sqrt(self.batch_size / REFERENCE_BATCH) if self.batch_size else 1.0

    def notes(self) -> list[str]:
        """What the data's size changed, and why, one line each."""
        if not self.large:
            return []
        device = "a GPU" if self.gpu else "a CPU"
        return [
            f"large data ({self.n_fit:,} sequences of {self.length} steps to fit): the large-data recipe",
            f"batch {self.batch_size} on {device}, learning rates × {self.lr_factor:.2g} (the square root of "
            f"{self.batch_size}/{REFERENCE_BATCH}), warmed up over the first 5% of a run",
            f"each run sees a bounded number of samples and is validated {CHECKS} times on a bounded subset",
            f"sampled configurations pruned by successive halving at validation checks {FIRST_RUNG}, "
            f"{FIRST_RUNG * REDUCTION} and {FIRST_RUNG * REDUCTION**2}; the proven defaults run to the end",
            f"baselines fitted on at most {BASELINE_SAMPLES:,} training sequences",
            "the verdict scores the models the study trained on disjoint parts of the test split",
        ]


def replicates(exp: Experiment) -> str:
    """What the verdict's replicates are (``evaluation.replicates``): ``seeds`` re-trained, the
    study's ``folds`` (after a k-fold study), or ``parts`` of the test split scored by the models
    the study trained; ``auto`` is parts on large data and seeds otherwise."""
    how = exp.config.evaluation.replicates
    if how == "auto":
        return "parts" if exp.data.trial.large else "seeds"
    if how == "folds" and exp.data.trial.plan.n_folds == 1:
        return "seeds"  # a holdout study has no folds to score
    return how


# Large data: MiniRocket's features number its kernels, and its ridge over them costs samples ×
# features²: on 10,000 sequences of 20,000 × 3 × 256, a trial of 10,000 kernels took 209 s (and its
# evaluation as long again) where one of 2,000 took 40 s, for 0.495 against 0.480 validation.
LARGE_DATA_KERNELS = 5_000


def baseline_space(family: str, space: Space) -> tuple[Space, list[str]]:
    """A baseline's space on large data: MiniRocket's kernels at most LARGE_DATA_KERNELS."""
    param = space.get("n_kernels")
    if family != "minirocket" or param is None or param.choices is None:
        return space, []
    kept = [k for k in param.choices if k <= LARGE_DATA_KERNELS] or [min(param.choices)]
    if kept == list(param.choices):
        return space, []
    change = f"n_kernels: {list(param.choices)} → {kept} (large data: a ridge over more features costs minutes)"
    return {**space, "n_kernels": dataclasses.replace(param, choices=tuple(kept))}, [change]


def batch_size(n_fit: int, gpu: bool) -> int:
    """A large-data run's batch (see the module's docstring)."""
    if not gpu:
        return CPU_BATCH
    smallest, largest = GPU_BATCHES
    return int(min(largest, max(smallest, 2 ** round(math.log2(max(1, n_fit / 64))))))


def successive_halving() -> optuna.pruners.BasePruner:
    """The large-data pruner: successive halving on validation checks (see the module's docstring)."""
    return optuna.pruners.SuccessiveHalvingPruner(min_resource=FIRST_RUNG, reduction_factor=REDUCTION)
