"""Proven starting points: every deep family's study begins with configurations known
to work on 1D data, enqueued before the sampler draws anything.

A study of five random configurations depends on luck: GunPoint's demo drew
``norm: none`` for three of five hybrid trials and they scored 0.56–0.62 where
the same family with batch norm scored 0.98. The defaults below are the published
recipes (Wang et al. 2017, "Time series classification from scratch with deep
neural networks: a strong baseline"), scaled to what a CPU trains in seconds:

- conv1d: the FCN (three blocks, kernels 8/5/3 — here 7/5/3, odd so that 'same'
  padding needs no copy —, widths c/2c/c, batch norm, ReLU, global average pooling)
  and a ResNet-like variant with a skip connection around every block (width c
  throughout: half the FCN's cost);
- mlp: one ``nn.Linear`` (depth 0, the "just use a Linear layer" answer) and the
  classic three hidden layers of 500 with dropout;
- hybrid: the FCN backbone with a small branch (its fused head starts at zero, so
  it starts as the conv1d model);
- conv1d, where a GPU trains it: LITE (Ismail-Fawaz et al. 2023, ``models/lite.py``) at its
  published settings (32 filters, head kernel 41, dilations 2 and 4, Adam at 1e-3). It is
  left to the sampler on a CPU, where it costs more than it gives: PyTorch's depthwise
  convolutions are slow there (a LITE step took 23 ms against the FCN's 5.5 ms at width 32,
  batch 16, length 150, one thread) and at the same 1000 steps it scored below the FCN
  (ArrowHead 81.7 against 83.4, OSULeaf 92.8 against 94.8, ACSF1 78.0 against 87.0 in 3× the
  time; test accuracy, mean of 2–3 seeds).

The published FCN is 128/256/128 wide; ``base_channels`` scales that down for
small or long data, where the narrower model reaches the same accuracy in a
fraction of the time (ArrowHead: 0.81 test accuracy at width 32 and at 64).

A long, smooth series is averaged over 2 or 4 steps before the first block
(``downsample``, :func:`default_downsample`): the FCN's blocks see 13 steps, a small
part of a leaf outline of 427, and every step costs. Measured (the FCN default, 1000
steps on the whole training split, test accuracy, mean of 3 seeds, 2 CPU threads):
OSULeaf 0.937 in 32 s at full length, 0.949 in 15 s averaged over 2, 0.948 in 10 s
over 4; ArrowHead 0.842 in 10 s, 0.879 in 7 s over 2 (above the published FCN's
0.843), 0.834 over 4 (62 steps left); GunPoint 1.000 in 8 s and 1.000 in 4 s over 2.
Where the series is not smooth, averaging destroys it: ACSF1's power readings keep 29%
of their energy in 2-step means, and the FCN fell from 0.867 to 0.66, so such data
keeps every step.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import optuna

from workbench.config import ExperimentConfig
from workbench.data.dataset import Dataset
from workbench.study import attrs
from workbench.study.space import Space

# A series is smooth enough to average over k steps when the k-step means keep this share of its
# energy (each sequence standardised): GunPoint, ArrowHead and OSULeaf keep 99.1–99.9% over 2 or 4
# steps, ACSF1 29%, BasicMotions 78%, ItalyPowerDemand 94% over 2.
SMOOTH_SHARE = 0.99
# The fewest steps left after averaging: ArrowHead's FCN scored 0.879 at 125 steps, 0.834 at 62.
MIN_DOWNSAMPLED_LENGTH = 64
DOWNSAMPLE_FACTORS = (4, 2)  # the largest that passes both tests is chosen


def base_channels(n_train: int, length: int) -> int:
    """The FCN's first-block width for this data: 32 on small or long data, 64 otherwise."""
    return 32 if n_train < 200 or length > 1000 else 64


def default_downsample(train: Dataset, *, sequences: int = 256, steps: int = 8192) -> int:
    """How many steps the conv defaults average into one on this training data: the largest
    factor of DOWNSAMPLE_FACTORS whose step means keep SMOOTH_SHARE of the series' energy and
    leave MIN_DOWNSAMPLED_LENGTH steps of the median sequence; 1 when none does, and for
    per-step labels (they need every step). Read from at most ``sequences`` sequences'
    first ``steps`` steps."""
    if train.task == "per_step" or train.order != "ordered":
        return 1
    median = int(np.median(train.lengths))
    factors = [k for k in DOWNSAMPLE_FACTORS if median // k >= MIN_DOWNSAMPLED_LENGTH]
    if not factors:
        return 1
    rng = np.random.default_rng(0)
    picked = rng.choice(train.n_samples, size=min(sequences, train.n_samples), replace=False)
    kept = {k: [0.0, 0.0] for k in factors}  # k: [energy of the step means, energy]
    for i in picked:
        x = train.X[i, :, : min(int(train.lengths[i]), steps)].astype(np.float64)
        x = (x - x.mean(axis=1, keepdims=True)) / (x.std(axis=1, keepdims=True) + 1e-12)
        for k in factors:
            blocks = x[:, : x.shape[1] // k * k].reshape(x.shape[0], -1, k)
            kept[k][0] += float((blocks.mean(axis=2) ** 2).sum()) * k
            kept[k][1] += float((blocks**2).sum())
    return next((k for k in factors if kept[k][1] > 0 and kept[k][0] / kept[k][1] >= SMOOTH_SHARE), 1)


def default_configs(
    family: str,
    *,
    n_train: int,
    length: int,
    gpu: bool = False,
    downsample: int = 1,
    batch: int | None = None,
    lr_factor: float = 1.0,
) -> list[dict[str, Any]]:
    """The family's proven configurations, best-known first (empty for baselines); ``gpu``: the
    experiment's trials train on a GPU, which adds LITE to conv1d's; ``downsample``: the
    conv defaults' (:func:`default_downsample`); ``batch`` and ``lr_factor``: large data's batch
    and learning-rate scale (``scale.py``), None and 1 for the small-data recipes."""
    configs = _defaults(family, n_train=n_train, length=length, gpu=gpu, downsample=downsample)
    if batch is None:
        return configs
    return [{**c, "batch_size": batch, "lr": float(f"{c['lr'] * lr_factor:.3g}")} for c in configs]


def _defaults(family: str, *, n_train: int, length: int, gpu: bool, downsample: int) -> list[dict[str, Any]]:
    c = base_channels(n_train, length)
    fcn = {
        "arch": "stack",
        "downsample": downsample,
        "channels": c,
        "depth": 3,
        "kernel_size": 7,
        "kernels": "shrinking",
        "widths": "fcn",
        "dilation_growth": 1,
        "residual": False,
        "norm": "batch",
        "activation": "relu",
        "dropout": 0.0,
        "pooling": "avg",
        "lr": 3e-3,
        "weight_decay": 1e-4,
        "batch_size": 16,
    }
    if family == "conv1d":
        resnet = {**fcn, "widths": "flat", "residual": True}
        lite = {
            **fcn,
            "arch": "lite",
            "channels": 32,
            "kernel_size": 41,  # the space's nearest on shorter data (no kernel beyond the shortest sequence)
            "dilation_growth": 2,
            "lr": 1e-3,
        }
        return [fcn, resnet, lite] if gpu else [fcn, resnet]
    if family == "hybrid":
        return [{**fcn, "branch_width": 16, "head_width": 32, "head_depth": 0}]
    if family == "mlp":
        train = {"weight_decay": 1e-4, "batch_size": 16}
        linear = {"depth": 0, "width": 128, "activation": "relu", "norm": "none", "dropout": 0.0, "lr": 3e-3, **train}
        classic = {"depth": 3, "width": 500, "activation": "relu", "norm": "none", "dropout": 0.2, "lr": 1e-3, **train}
        return [classic, linear]
    return []


def fit_to_space(config: dict[str, Any], space: Space) -> dict[str, Any]:
    """The configuration as the space can express it: only the space's parameters, each value
    kept if allowed, else the nearest allowed one (a user's own space may differ)."""
    fitted: dict[str, Any] = {}
    for name, param in space.items():
        if name not in config:
            continue
        value = config[name]
        if param.choices is not None:
            if value in param.choices:
                fitted[name] = value
            elif all(isinstance(c, int | float) and not isinstance(c, bool) for c in param.choices) and isinstance(
                value, int | float
            ):
                fitted[name] = min(param.choices, key=lambda c: (abs(c - value), c))
            else:
                fitted[name] = param.choices[0]
        else:
            low, high = param.low, param.high
            clipped = min(max(value, low), high)
            fitted[name] = int(clipped) if param.is_int else float(clipped)
    return fitted


def required_values(family: str, **sizes: Any) -> dict[str, list[Any]]:
    """Per categorical parameter, the values the defaults use (``sizes``: as :func:`default_configs`
    takes them): hints may narrow a space, never below these."""
    values: dict[str, list[Any]] = {}
    for config in default_configs(family, **sizes):
        for name, value in config.items():
            if value not in values.setdefault(name, []):
                values[name].append(value)
    return values


def enqueue_defaults(study: optuna.Study, family: str, space: Space, config: ExperimentConfig, **sizes: Any) -> None:
    """Queue the family's proven configurations (:func:`default_configs` for ``sizes``) as its
    first trials (within a trial budget). Defaults that a narrow space maps to the same values are
    queued once."""
    if not config.start_from_defaults:
        return
    fitted: list[dict[str, Any]] = []
    for params in default_configs(family, **sizes):
        if (values := fit_to_space(params, space)) not in fitted:
            fitted.append(values)
    if config.budget.trials is not None:
        fitted = fitted[: config.budget.trials]
    for k, values in enumerate(fitted, start=1):
        study.enqueue_trial(values, user_attrs={attrs.DEFAULT: k}, skip_if_exists=True)
