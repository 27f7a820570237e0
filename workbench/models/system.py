"""One LightningModule for every family: loss, metrics (``metrics.py``), optimiser, logging."""

from __future__ import annotations

import math
from typing import Any, cast

import lightning.pytorch as pl
import torch
import torch.nn.functional as F
from torch import nn
from torchmetrics import MetricCollection

from workbench.data.batching import Batch, TensorBatches
from workbench.data.labels import IGNORE_INDEX
from workbench.models.metrics import TEST, TRAIN, VAL, metric_collection, metric_key
from workbench.models.params import TrainParams
from workbench.models.spec import DataSpec


def _cat_padded(parts: list[torch.Tensor]) -> torch.Tensor:
    """Concatenate per-chunk outputs; per-step chunks of different lengths are padded
    with IGNORE_INDEX, which the metrics skip."""
    if parts[0].ndim == 2 and len({p.shape[1] for p in parts}) > 1:
        length = max(p.shape[1] for p in parts)
        parts = [F.pad(p, (0, length - p.shape[1]), value=IGNORE_INDEX) for p in parts]
    return torch.cat(parts)


WARMUP_FRACTION = 0.05


def warmup_cosine(opt: torch.optim.Optimizer, total: int) -> torch.optim.lr_scheduler.LambdaLR:
    """Linear warm-up over the first 5% of steps, then cosine decay to zero: the warm-up keeps
    the first large steps from throwing BatchNorm statistics and Adam's moments off on tiny data."""
    warmup = max(1, int(WARMUP_FRACTION * total))

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = min(1.0, (step - warmup) / max(1, total - warmup))
        return 0.5 * (1.0 + math.cos(math.pi * progress))

    return torch.optim.lr_scheduler.LambdaLR(opt, factor)


class WorkbenchModule(pl.LightningModule):
    """Wraps a family's ``nn.Module``; ``forward`` is inference, ``net`` stays plain."""

    y_mean: torch.Tensor
    y_std: torch.Tensor

    def __init__(
        self,
        net: nn.Module,
        spec: DataSpec,
        train: TrainParams,
        *,
        monitor: str,
        max_epochs: int,
        steps_per_epoch: int,
        check_every_step: bool = True,
    ) -> None:
        super().__init__()
        self.net = net
        self.spec = spec
        self.train_params = train
        self.max_epochs = max_epochs
        self.steps_per_epoch = steps_per_epoch
        self.check_every_step = check_every_step
        self.automatic_optimization = False  # the epoch step below drives the optimiser itself
        self.register_buffer("y_mean", torch.zeros(()))
        self.register_buffer("y_std", torch.ones(()))
        self.stage_metrics = nn.ModuleDict({s: metric_collection(spec.task, spec.n_outputs) for s in (VAL, TEST)})
        self.monitor = monitor  # the one metric logged through Lightning, for its callbacks
        self.diverged_at: int | None = None
        self.last_train_loss = float("nan")
        self.test_metrics: dict[str, float] = {}
        self.history: list[dict[str, float]] = []
        self._sums: dict[str, list[torch.Tensor]] = {}

    # ------------------------------------------------------------ inference
    def forward(
        self, x: torch.Tensor, lengths: torch.Tensor | None = None, static: torch.Tensor | None = None
    ) -> torch.Tensor:
        return self.net(x, lengths, static)

    def transfer_batch_to_device(self, batch: Any, device: torch.device, dataloader_idx: int) -> Any:
        return batch  # TensorBatches already live on the training device

    # ----------------------------------------------------------------- loss
    def loss(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        task = self.spec.task
        if task == "binary":
            return F.binary_cross_entropy_with_logits(out.squeeze(1), y.float())
        if task == "regression":
            return F.mse_loss(out.squeeze(1), (y - self.y_mean) / self.y_std)
        return F.cross_entropy(out, y, ignore_index=IGNORE_INDEX)  # multiclass (N, K); per-step (N, K, L)

    def predictions(self, out: torch.Tensor) -> torch.Tensor:
        """Class indices, or values in the original units for regression."""
        task = self.spec.task
        if task == "binary":
            return (out.squeeze(1) > 0).long()
        if task == "regression":
            return out.squeeze(1).float() * self.y_std + self.y_mean
        return out.argmax(dim=1)

    # ------------------------------------------------------------- training
    def training_step(self, epoch: TensorBatches, batch_idx: int) -> None:
        """One Lightning step is one pass over the epoch's on-device mini-batches."""
        opt = cast(torch.optim.Optimizer, self.optimizers(use_pl_optimizer=False))
        sched = self.lr_schedulers()
        for batch in epoch:
            loss = self.train_on(batch, opt, sched)
            if loss is None:
                self._diverge()
                return
            self._accumulate(TRAIN, loss, batch.y.shape[0])

    def train_on(self, batch: Batch, opt: torch.optim.Optimizer, sched: Any) -> torch.Tensor | None:
        """One optimiser step on ``batch`` (the one training path: a run's epochs, and the cost
        measurement that times them); its loss, detached, or None when the loss is not finite."""
        opt.zero_grad(set_to_none=True)
        loss = self.loss(self.net(batch.x, batch.lengths, batch.static), batch.y)
        if self.check_every_step and not bool(torch.isfinite(loss)):
            return None
        # Single device, fp32 or bf16 autocast (which Lightning wraps around this
        # step): no loss scaling, so a plain backward is what the plugin would do.
        loss.backward()  # type: ignore[no-untyped-call]
        if self.train_params.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self.net.parameters(), self.train_params.grad_clip, foreach=True)
        opt.step()
        if sched is not None:
            sched.step()
        return loss.detach()

    def _diverge(self) -> None:
        self.diverged_at = self.current_epoch
        self.trainer.should_stop = True

    def _accumulate(self, stage: str, loss: torch.Tensor, n: int) -> None:
        acc = self._sums.setdefault(stage, [torch.zeros((), device=loss.device), torch.zeros((), device=loss.device)])
        acc[0] += loss.float() * n
        acc[1] += n

    def _mean_loss(self, stage: str) -> float:
        total, count = self._sums.pop(stage, [torch.zeros(()), torch.zeros(())])
        return float(total / count.clamp_min(1))

    def on_train_epoch_end(self) -> None:
        train_loss = self._mean_loss(TRAIN)
        if not math.isfinite(train_loss) and self.diverged_at is None:
            self._diverge()
        self.last_train_loss = train_loss
        if self.history:
            self.history[-1][metric_key(TRAIN, "loss")] = train_loss

    # ----------------------------------------------------------- evaluation
    def _eval_pass(self, batches: TensorBatches, stage: str) -> None:
        """One Lightning step evaluates every chunk; metrics update once per pass."""
        predictions, targets = [], []
        for batch in batches:
            out = self.net(batch.x, batch.lengths, batch.static)
            self._accumulate(stage, self.loss(out, batch.y), batch.y.shape[0])
            predictions.append(self.predictions(out))
            targets.append(batch.y)
        self._metrics_for(stage).update(_cat_padded(predictions), _cat_padded(targets))

    def _metrics_for(self, stage: str) -> MetricCollection:
        return cast(MetricCollection, self.stage_metrics[stage])

    def validation_step(self, batches: TensorBatches, batch_idx: int) -> None:
        self._eval_pass(batches, VAL)

    def test_step(self, batches: TensorBatches, batch_idx: int) -> None:
        self._eval_pass(batches, TEST)

    def _eval_epoch_end(self, stage: str) -> dict[str, float]:
        values = {metric_key(stage, "loss"): self._mean_loss(stage)}
        for name, value in self._metrics_for(stage).compute().items():
            values[metric_key(stage, name)] = float(value)
        self._metrics_for(stage).reset()
        return values

    def score(self, batches: TensorBatches, stage: str) -> dict[str, float]:
        """One evaluation pass outside a Lightning loop (a trained model scored later)."""
        self.eval()
        with torch.inference_mode():
            self._eval_pass(batches, stage)
            return self._eval_epoch_end(stage)

    def on_validation_epoch_end(self) -> None:
        values = self._eval_epoch_end(VAL)
        self.history.append({"epoch": float(self.current_epoch), **values})
        # Only the study's metric goes through self.log, for Optuna's pruning callback, which reads
        # trainer.callback_metrics; every other value (the loss that early stopping uses) is in `history`.
        self.log(self.monitor, values[self.monitor])

    def on_test_epoch_end(self) -> None:
        self.test_metrics = self._eval_epoch_end(TEST)

    # ------------------------------------------------------------ optimiser
    def configure_optimizers(self) -> Any:
        p = self.train_params
        params = self.net.parameters()
        # Fused kernels update every parameter in one call (CPU and CUDA, float32/bf16).
        opt: torch.optim.Optimizer
        if p.optimizer == "sgd":
            opt = torch.optim.SGD(params, lr=p.lr, momentum=0.9, weight_decay=p.weight_decay, nesterov=True, fused=True)
        elif p.optimizer == "adam":
            opt = torch.optim.Adam(params, lr=p.lr, weight_decay=p.weight_decay, fused=True)
        else:
            opt = torch.optim.AdamW(params, lr=p.lr, weight_decay=p.weight_decay, fused=True)
        total = max(1, self.max_epochs * self.steps_per_epoch)
        if p.schedule == "cosine":
            return {"optimizer": opt, "lr_scheduler": warmup_cosine(opt, total)}
        if p.schedule == "onecycle":
            return {
                "optimizer": opt,
                "lr_scheduler": torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=p.lr, total_steps=total),
            }
        return opt
