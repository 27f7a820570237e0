"""How long a run trains and how it is validated: epochs, passes and optimiser steps from the
data's size, patience, and the large-data recipe (a bounded number of samples seen, validated
``CHECKS`` times on a bounded subset). A pure plan: nothing here trains."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

# Early stopping judges the validation loss after `patience` epochs without improvement. On small
# data an epoch is one or two optimiser steps, and 10 epochs are too few updates to judge: a run
# whose loss rises before it falls (BatchNorm on tiny batches) is stopped at its untrained first
# epoch. Patience therefore always spans at least this many steps.
MIN_PATIENCE_STEPS = 150
# The budget counts epochs, but learning counts optimiser steps: 60 epochs of ArrowHead's 29
# fold samples at batch 16 are 120 steps, and its FCN-like default ends at 0.47 test accuracy
# where 1000 steps reach 0.81. A study's runs (``min_steps``) are therefore lengthened to at
# least this many steps; on data that small an epoch costs milliseconds.
MIN_TRAIN_STEPS = 1000
# An epoch of a tiny dataset is a step or two, and each epoch pays Lightning's loop and a
# validation pass. In a run lengthened to ``min_steps`` an epoch is therefore several passes
# over the data, at least this many optimiser steps (a run given only max_epochs keeps 1 pass).
MIN_STEPS_PER_EPOCH = 10
# Below this many validation samples the validation loss is too coarse to pick an epoch or to
# stop on: on ArrowHead's 9-sample holdout the lowest-loss epoch scored 0.52 test accuracy where
# the schedule's last epoch scored 0.77. Such runs train their whole schedule and keep the end.
SMALL_VALIDATION = 50
# A study's run length when ``max_epochs`` is not set: this many epochs, lengthened on tiny data
# to ``min_steps`` optimiser steps. A ``max_epochs`` that is set is an upper bound.
DEFAULT_EPOCHS = 60

# Large data: from this many sample-steps in the training part (samples × sequence length, the
# work of one epoch; 5,000 sequences of 256 steps), a run follows the large-data recipe. Every
# built-in dataset is below it (the largest, digits, holds 1,348 × 64); the scale benchmark's
# 20,000 × 256 (11,250 to fit) and 2,000 × 10,000 are above it.
LARGE_SAMPLE_STEPS = 5_000 * 256
# A large-data run's epochs, when max_epochs is not set: as many as see this many sample-steps
# (300,000 sequences of 256 steps), 1 to DEFAULT_EPOCHS. The FCN default on 11,250 × 3 × 256 (one
# thread, 12 s an epoch) reached 0.54 test accuracy after 5 epochs; at 26 a trial is about 5
# minutes there, and 200,000 sequences get 2 epochs.
SEEN_SAMPLE_STEPS = 300_000 * 256
# A large-data run is validated this many times (every max_steps / CHECKS optimiser steps, not at
# the end of each pass): early stopping and the pruner's rungs count these checks.
CHECKS = 20
# ... on at most this many validation samples (a random subset: the validation split is random).
VALIDATION_CAP = 4096
# ... and stopped early after this many checks without a better validation loss.
PATIENCE_CHECKS = 5


def is_large(n_train: int, length: int) -> bool:
    """Whether a run on ``n_train`` sequences of ``length`` steps follows the large-data recipe."""
    return n_train * length >= LARGE_SAMPLE_STEPS


@dataclass(frozen=True)
class RunPlan:
    """What one training run will do and why, decided from the data's size and the settings
    before anything is trained (:func:`plan_run`)."""

    batch_size: int
    passes: int  # passes over the training data in one (Lightning) epoch
    steps_per_epoch: int  # optimiser steps in one epoch
    max_epochs: int
    patience: int | None  # None: no early stopping
    keep_last: bool  # train the whole schedule and keep the last weights (no validation, or too little)
    notes: tuple[str, ...] = ()
    validation_cap: int | None = None  # validate on at most this many samples (large data)
    streamed: bool = False  # an epoch is steps_per_epoch steps of a continuing stream of passes (large data)

    @property
    def max_steps(self) -> int:
        return self.max_epochs * self.steps_per_epoch


def plan_run(
    *,
    n_train: int,
    n_val: int | None,
    batch_size: int,
    steps_per_pass: Callable[[int], int],
    batchnorm: bool,
    max_epochs: int | None,
    min_steps: int,
    patience: int | None,
    length: int = 0,
    max_steps: int | None = None,
) -> RunPlan:
    """The run's batch size, epochs, passes per epoch and patience, with a note for each
    setting it changed. ``steps_per_pass(batch_size)``: optimiser steps in one pass over the
    training data (length buckets can add steps). ``max_epochs`` None: DEFAULT_EPOCHS, lengthened
    to at least ``min_steps`` steps; a number is an upper bound, which ``min_steps`` never exceeds.
    Large data (:func:`is_large`, from ``length``, the sequences' steps): :func:`_plan_large`.
    ``max_steps``: an upper bound on the optimiser steps (a time limit's)."""
    notes: list[str] = []
    batch = min(batch_size, n_train)
    if batch < 2 and batchnorm:  # BatchNorm cannot compute batch statistics from one sample (PyTorch raises)
        batch = 2
        notes.append("batch_size raised from 1 to 2: BatchNorm needs at least two samples per batch")
    per_pass = steps_per_pass(batch)
    if is_large(n_train, length) and n_val is not None:
        return _plan_large(n_train, n_val, batch, per_pass, length, max_epochs, patience, max_steps, notes)
    keep_last = n_val is None or n_val < SMALL_VALIDATION
    if keep_last and n_val is not None:
        notes.append(
            f"the whole schedule is trained and its last epoch kept: {n_val} validation samples are "
            f"too few (< {SMALL_VALIDATION}) to choose an epoch or stop early on"
        )
    passes, epochs = 1, max_epochs if max_epochs is not None else DEFAULT_EPOCHS
    if max_epochs is not None:
        if min_steps and max_epochs * per_pass < min_steps:
            notes.append(
                f"max_epochs {max_epochs} bounds this run to {max_epochs * per_pass} optimiser steps, fewer than "
                f"min_steps ({min_steps}): leave max_epochs unset to let small data train longer"
            )
    elif min_steps and DEFAULT_EPOCHS * per_pass < min_steps:
        # Lengthened: min_steps updates, in epochs of several passes (Lightning's loop and the
        # validation pass then run once per MIN_STEPS_PER_EPOCH steps or more, not every step or two).
        passes = math.ceil(MIN_STEPS_PER_EPOCH / per_pass) if per_pass < MIN_STEPS_PER_EPOCH else 1
        epochs = math.ceil(min_steps / (per_pass * passes))
        notes.append(
            f"{epochs} epochs of {passes} pass(es) over the {n_train} training samples ({per_pass * passes} optimiser "
            f"steps each): {DEFAULT_EPOCHS} passes are {DEFAULT_EPOCHS * per_pass} steps, too few updates to train "
            f"(at least {min_steps}, min_steps)"
        )
    steps = per_pass * passes
    if patience is not None and not keep_last and patience * steps < MIN_PATIENCE_STEPS:
        raised = math.ceil(MIN_PATIENCE_STEPS / steps)
        notes.append(
            f"patience raised from {patience} to {raised} epochs: with {steps} optimiser step(s) per epoch, "
            f"{patience} epochs are too few updates to judge the validation loss"
        )
        patience = raised
    if max_steps is not None and epochs * steps > max_steps:
        epochs = max(1, max_steps // steps)
        notes.append(f"{epochs} epochs of {steps} optimiser steps: the time limit holds {max_steps} steps")
    return RunPlan(batch, passes, steps, epochs, None if keep_last else patience, keep_last, tuple(notes))


def _plan_large(
    n_train: int,
    n_val: int,
    batch: int,
    per_pass: int,
    length: int,
    max_epochs: int | None,
    patience: int | None,
    max_steps: int | None,
    notes: list[str],
) -> RunPlan:
    """Large data: the epochs bounded by the sample-steps seen (SEEN_SAMPLE_STEPS) and by the time
    limit's steps, CHECKS validations on at most VALIDATION_CAP samples, patience in checks."""
    work = n_train * max(1, length)
    if max_epochs is None:
        passes = max(1, min(DEFAULT_EPOCHS, SEEN_SAMPLE_STEPS // work))
        notes.append(
            f"large data ({n_train} × {length} steps to fit): {passes} epoch(s), as many as see "
            f"{SEEN_SAMPLE_STEPS // 256:,} sequences of 256 steps (not {DEFAULT_EPOCHS}); no min_steps"
        )
    else:
        passes = max_epochs
    total = passes * per_pass
    if max_steps is not None and total > max_steps:
        total = max(1, max_steps)
        notes.append(f"{total} optimiser steps ({total / per_pass:.2g} epochs): what the time limit holds")
    checks = max(1, min(CHECKS, total))
    steps = math.ceil(total / checks)
    cap = min(n_val, VALIDATION_CAP)
    notes.append(
        f"validated every {steps} optimiser steps ({checks} checks) on {cap} of the {n_val} validation samples"
        + (", a random subset" if cap < n_val else "")
    )
    if patience is not None:
        patience = min(patience, PATIENCE_CHECKS)
        notes.append(f"stopped early after {patience} checks without a better validation loss")
    return RunPlan(batch, 1, steps, checks, patience, False, tuple(notes), validation_cap=cap, streamed=True)
