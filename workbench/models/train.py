"""``fit``: train one configuration of one family and return a small record.

The fast path: the dataset is moved to the training device once, batches are
index slices (length-bucketed for evaluation when lengths vary), there are no DataLoader
workers, and Lightning runs with its per-step extras (progress bar, logger,
checkpointing, automatic optimisation closure) turned off.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import functools
import logging
import statistics
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import numpy as np
import torch
from lightning.pytorch.callbacks import Callback

from workbench.data.batching import EpochBatches, TensorBatches, training_steps_per_pass
from workbench.data.dataset import Dataset
from workbench.errors import ConfigError, DataError
from workbench.interrupt import interruptible, safe_point
from workbench.models.blocks import Standardize
from workbench.models.devices import auto_threads, choose_accelerator, eval_batch_size
from workbench.models.metrics import SELECT_ON, TEST, VAL, check_metric, metric_key
from workbench.models.params import TrainParams
from workbench.models.registry import build_model, split_params
from workbench.models.run_plan import plan_run
from workbench.models.spec import DataSpec
from workbench.models.system import WorkbenchModule
from workbench.models.trained import TrainedModel

STOP_REASONS = ("completed", "early_stopped", "converged", "diverged", "time_limit")
CONVERGED_LOSS = 1e-5  # a training loss this small leaves nothing to learn


@dataclass
class FitResult:
    """What one training run produced."""

    family: str
    params: dict[str, Any]
    metrics: dict[str, float]  # validation metrics at the best epoch (lowest val loss), test metrics if given
    metric: str  # the selection metric, e.g. "bal_acc"
    best_epoch: int
    epochs_run: int
    stop_reason: str
    wall_time_s: float
    epoch_times_s: list[float]
    checkpoint: Path | None
    history: list[dict[str, float]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    model: TrainedModel | None = field(default=None, repr=False)

    @property
    def score(self) -> float:
        """The best validation value of the selection metric."""
        return self.metrics[metric_key(VAL, self.metric)]

    @property
    def median_epoch_s(self) -> float:
        return statistics.median(self.epoch_times_s) if self.epoch_times_s else float("nan")


class _Watch(Callback):
    """Keeps the best weights in memory (lowest validation loss), stops early when the loss
    has not improved for ``patience`` epochs, times epochs, and detects convergence.

    With ``keep_last`` it neither stops early nor rolls back: the run follows its whole
    learning-rate schedule and the final weights are the model."""

    def __init__(self, patience: int | None, keep_last: bool = False) -> None:
        self.patience = None if keep_last else patience
        self.keep_last = keep_last
        self.best: float | None = None
        self.best_epoch = -1
        self.best_state: dict[str, torch.Tensor] | None = None
        self.epoch_times: list[float] = []
        self.converged = False
        self.early_stopped = False
        self._t0 = 0.0

    def on_train_epoch_start(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        self._t0 = time.perf_counter()

    def on_validation_end(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        # on_validation_end runs after the module's epoch-end hook has written this epoch's values.
        history = getattr(module, "history", [])
        if not history:
            return
        v = history[-1][SELECT_ON]
        if self.keep_last:
            self.best, self.best_epoch = v, len(history) - 1
        elif np.isfinite(v) and (self.best is None or v < self.best):
            self.best, self.best_epoch = v, len(history) - 1
            self.best_state = {k: t.detach().clone() for k, t in module.state_dict().items()}
        elif self.patience is not None and len(history) - 1 - self.best_epoch >= self.patience:
            self.early_stopped = True
            trainer.should_stop = True

    def on_train_epoch_end(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        self.epoch_times.append(time.perf_counter() - self._t0)
        if getattr(module, "last_train_loss", float("nan")) < CONVERGED_LOSS:
            self.converged = True
            trainer.should_stop = True


class _SafePoint(Callback):
    """Ctrl-C stops training between batches (``workbench.interrupt``), never inside Lightning's
    own handling of a KeyboardInterrupt, which exits the process and ignores later signals."""

    def on_train_batch_end(self, *_: Any) -> None:
        safe_point()

    def on_validation_batch_end(self, *_: Any) -> None:
        safe_point()


@contextlib.contextmanager
def _quiet_lightning() -> Iterator[None]:
    """Lightning logs device banners at INFO for every Trainer; a study builds hundreds."""
    loggers = [logging.getLogger(n) for n in ("lightning.pytorch", "lightning.fabric")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.WARNING)
    try:
        with warnings.catch_warnings():
            # Lightning's own call of a torch API that torch deprecated; nothing a user can act on.
            warnings.filterwarnings("ignore", message=r"`isinstance\(treespec, LeafSpec\)` is deprecated")
            # fit(validation=None) trains without a validation loop on purpose.
            warnings.filterwarnings("ignore", message=r"You defined a `validation_step` but have no `val_dataloader`")
            yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


def _split_for_fit(
    dataset: Dataset, validation: Dataset | float | None, test: Dataset | None, seed: int
) -> tuple[Dataset, Dataset | None, Dataset | None]:
    train = dataset
    if test is None and dataset.has_official_split:
        train, test = dataset.official_split()  # the source's test split is only ever used for test metrics
    if validation is None or isinstance(validation, Dataset):
        return train, validation, test
    fit_part, val = train.split(float(validation), seed=seed)
    return fit_part, val, test


STATISTICS_SAMPLES = 4096  # standardisation statistics read at most this many training sequences


def _fit_statistics(module: WorkbenchModule, train: Dataset) -> None:
    """Standardisation statistics from the training split only (from a random 4,096 of its
    sequences on large data: the means and spreads are settled long before, and a masked copy
    of the whole split would double its memory), written into the model's buffers."""
    if train.n_samples > STATISTICS_SAMPLES:
        picked = np.random.default_rng(0).choice(train.n_samples, STATISTICS_SAMPLES, replace=False)
        train = train.subset(np.sort(picked))
    x = np.where(train.mask()[:, None, :], train.X, np.nan)  # padding excluded
    for name, layer in module.net.named_modules():
        if not isinstance(layer, Standardize):
            continue
        if name == "standardize_static":
            if train.static is not None:
                layer.fit_(train.static, axes=(0,))
        else:  # per position for tabular features, per channel for sequences
            layer.fit_(x, axes=(0,) if layer.mean.shape[-1] > 1 else (0, 2))
    if train.task == "regression":
        module.y_mean.fill_(float(train.y.mean(dtype=np.float64)))
        module.y_std.fill_(float(train.y.std(dtype=np.float64)) or 1.0)


def fit(
    dataset: Dataset,
    family: str,
    params: dict[str, Any] | None = None,
    *,
    validation: Dataset | float | None = 0.25,
    test: Dataset | None = None,
    max_epochs: int | None = 100,
    patience: int | None = 20,
    metric: str | None = None,
    seed: int = 0,
    accelerator: str = "auto",
    threads: int | None = None,
    max_time_s: float | None = None,
    min_steps: int = 0,
    max_steps: int | None = None,
    run_dir: str | Path | None = None,
    callbacks: Sequence[Callback] = (),
) -> FitResult:
    """Train one configuration and return its :class:`FitResult`.

    ``dataset`` is the training data; when it carries an official train/test
    split (UCR/UEA datasets do), training uses its train part and the test
    part gives the test metrics. ``validation`` is a dataset or the fraction of
    the training data held out (seeded, stratified), or None to train on all of
    it for the whole schedule (no early stopping, the last weights kept). ``params`` is one flat dict
    of the family's and the optimiser's values (see ``workbench.models.params``).
    ``max_epochs`` bounds the run; None trains DEFAULT_EPOCHS, lengthened to at least
    ``min_steps`` optimiser steps (a study passes ``MIN_TRAIN_STEPS``: tiny data needs more
    epochs than a fixed count gives). ``max_steps`` bounds the optimiser steps (a time limit's).
    On large data (:func:`is_large`) a run sees a bounded number of samples and is validated
    every few hundred steps on a bounded subset (:func:`plan_run`, whose notes say what it chose).

    >>> result = fit(workbench.synthetic.ordered_motifs(), "conv1d", {"depth": 2}, max_epochs=5)  # doctest: +SKIP
    >>> result.metrics["val_bal_acc"], result.stop_reason  # doctest: +SKIP
    """
    model_params, train_params = split_params(family, params)
    if max_epochs is not None and max_epochs < 1:
        raise ConfigError(f"max_epochs must be at least 1, but got {max_epochs}.")
    chosen = check_metric(dataset.task, metric)
    train, val, test_ds = _split_for_fit(dataset, validation, test, seed)
    if train.n_samples < 2:
        raise DataError(f"Training needs at least 2 samples, but the training split has {train.n_samples}.")
    device = choose_accelerator(accelerator)
    pl.seed_everything(seed, workers=False, verbose=False)

    # plan: the model sized for the data, the run's length and batches
    spec = _spec_for(train, val, test_ds)
    net = build_model(family, model_params, spec)
    plan = plan_run(
        n_train=train.n_samples,
        n_val=None if val is None else val.n_samples,
        batch_size=train_params.batch_size,
        steps_per_pass=lambda batch: training_steps_per_pass(train, batch, seed=seed),
        batchnorm=any(isinstance(m, torch.nn.BatchNorm1d) for m in net.modules()),
        max_epochs=max_epochs,
        min_steps=min_steps,
        patience=patience,
        length=train.max_length,
        max_steps=max_steps,
    )
    if val is not None and plan.validation_cap is not None and val.n_samples > plan.validation_cap:
        val = val.subset(np.arange(plan.validation_cap))  # the split is random: its first samples are a random subset
    width = getattr(model_params, "channels", None) or getattr(model_params, "width", None) or 64
    torch.set_num_threads(threads or auto_threads(plan.batch_size * spec.length * width))
    eval_batches = functools.partial(eval_batch_size, model_params, spec, device=device)
    train_batches = TensorBatches(train, plan.batch_size, device=device, shuffle=True, seed=seed, pin_memory=True)
    if plan.streamed:
        train_batches.steps_per_epoch = plan.steps_per_epoch
    else:
        train_batches.passes = plan.passes
    val_batches = None if val is None else TensorBatches(val, eval_batches(val.n_samples), device=device, shuffle=False)

    # train (and test the weights kept)
    module = WorkbenchModule(
        net,
        spec,
        train_params,
        monitor=metric_key(VAL, chosen),
        max_epochs=plan.max_epochs,
        steps_per_epoch=plan.steps_per_epoch,
        check_every_step=device == "cpu",  # on CUDA the check waits for the GPU; the epoch-end check suffices
    )
    _fit_statistics(module, train)
    watch = _Watch(plan.patience, plan.keep_last)
    test_batches = None
    if test_ds is not None:
        test_batches = functools.partial(
            TensorBatches, test_ds, eval_batches(test_ds.n_samples), device=device, shuffle=False
        )
    t0 = time.perf_counter()
    with interruptible("training stopped; nothing was saved."), _quiet_lightning():
        trainer = _lightning_trainer(
            device,
            plan.max_epochs,
            [watch, _SafePoint(), *callbacks],
            validate=val_batches is not None,
            max_time_s=max_time_s,
        )
        metrics, kept = _train_and_test(
            trainer, module, watch, train_batches, val_batches, test_batches, plan.keep_last
        )
    wall = time.perf_counter() - t0

    # package: the trained model, its checkpoint and the record
    epochs_run = len(watch.epoch_times)
    trained = TrainedModel(
        copy.deepcopy(module.net).cpu().eval(),
        family,
        model_params,
        spec,
        dataset.classes,
        float(module.y_mean),
        float(module.y_std),
    )
    checkpoint = None
    if run_dir is not None and kept:
        checkpoint = trained.save(Path(run_dir) / "checkpoints" / f"{family}-seed{seed}.pt")
    return FitResult(
        family=family,
        params={**_asdict(model_params), **_asdict(train_params)},
        metrics=metrics,
        metric=chosen,
        best_epoch=watch.best_epoch,
        epochs_run=epochs_run,
        stop_reason=_stop_reason(module, watch, ran_short=epochs_run < plan.max_epochs and max_time_s is not None),
        wall_time_s=wall,
        epoch_times_s=watch.epoch_times,
        checkpoint=checkpoint,
        history=module.history,
        notes=list(plan.notes),
        model=trained,
    )


def _spec_for(train: Dataset, val: Dataset | None, test: Dataset | None) -> DataSpec:
    """The data's shape as the model is built for it: sized for every split it will see (an MLP
    reads each position as a feature, so the test split's longest sequence must fit too; its
    length only, no test values or labels are used)."""
    parts = [p for p in (train, val, test) if p is not None]
    longest, shortest = max(p.max_length for p in parts), min(int(p.lengths.min()) for p in parts)
    return dataclasses.replace(
        DataSpec.from_dataset(train),
        length=longest,
        min_length=shortest,
        variable_length=train.task != "per_step" and shortest < longest,
    )


def _train_and_test(
    trainer: pl.Trainer,
    module: WorkbenchModule,
    watch: _Watch,
    train_batches: TensorBatches,
    val_batches: TensorBatches | None,
    test_batches: Callable[[], TensorBatches] | None,
    keep_last: bool,
) -> tuple[dict[str, float], bool]:
    """Train; keep the best validated weights (or, without validation, the last ones unless the
    run diverged) and test those (the test split moved to the device only then). Returns the kept
    epoch's metrics and whether weights were kept."""
    trainer.fit(
        module,
        train_dataloaders=EpochBatches(train_batches),
        val_dataloaders=None if val_batches is None else EpochBatches(val_batches),
    )
    if watch.best_state is not None and not keep_last:
        module.load_state_dict(watch.best_state)
    metrics = dict(module.history[watch.best_epoch]) if watch.best_epoch >= 0 else {}
    metrics.pop("epoch", None)
    kept = watch.best_state is not None or (keep_last and module.diverged_at is None)
    if test_batches is not None and kept:
        trainer.test(module, dataloaders=EpochBatches(test_batches()), verbose=False)
        metrics.update(module.test_metrics)
    return metrics, kept


def score(model: TrainedModel, data: Dataset, stage: str = TEST) -> dict[str, float]:
    """The metrics of a trained model on ``data`` (``test_bal_acc``, …), by the pass that ``fit``
    scores its test split with (on the CPU, in float32): the final evaluation scores the fold
    models a study kept this way. ``data``'s sequences must fit the model (``spec.length``)."""
    if data.max_length > model.spec.length:
        raise DataError(
            f"The model was sized for sequences of {model.spec.length} steps, but the data has "
            f"{data.max_length}; train it on data that includes the longest sequence."
        )
    monitor = metric_key(stage, "loss")
    module = WorkbenchModule(model.net, model.spec, TrainParams(), monitor=monitor, max_epochs=1, steps_per_epoch=1)
    module.y_mean.fill_(model.y_mean)
    module.y_std.fill_(model.y_std)
    batches = TensorBatches(data, eval_batch_size(model.params, model.spec, data.n_samples, "cpu"), shuffle=False)
    return module.score(batches, stage)


def _lightning_trainer(
    device: str, max_epochs: int, callbacks: list[Callback], *, validate: bool, max_time_s: float | None
) -> pl.Trainer:
    """Lightning's loop, quiet and without its own checkpoints or logs: the run's callbacks
    (``_Watch``) keep the best weights and the history."""
    kwargs: dict[str, Any] = {
        "max_epochs": max_epochs,
        "accelerator": device,
        "devices": 1,
        "precision": "bf16-mixed" if device == "cuda" else "32-true",
        "logger": False,
        "enable_checkpointing": False,
        "enable_progress_bar": False,
        "enable_model_summary": False,
        "num_sanity_val_steps": 0,
        "callbacks": callbacks,
    }
    if not validate:
        kwargs["limit_val_batches"] = 0
    if max_time_s is not None:
        kwargs["max_time"] = {"seconds": max_time_s}
    return pl.Trainer(**kwargs)


def _stop_reason(module: WorkbenchModule, watch: _Watch, *, ran_short: bool) -> str:
    """Why the run ended: diverged / converged / early_stopped / time_limit / completed."""
    if module.diverged_at is not None:
        return "diverged"
    if watch.converged:
        return "converged"
    if watch.early_stopped:
        return "early_stopped"
    return "time_limit" if ran_short else "completed"


def _asdict(params: Any) -> dict[str, Any]:
    return dataclasses.asdict(params)


__all__ = [
    "STOP_REASONS",
    "FitResult",
    "fit",
]
