"""Batches for training: padding, masks, length buckets, on-device slicing.

In-memory data does not need ``DataLoader`` worker processes or a per-sample
collate: the whole dataset is moved to the training device once and each batch
is an index selection. Variable-length data is bucketed by length so that each
batch is trimmed to its own longest sequence and wastes little on padding.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Sequence
from typing import NamedTuple

import numpy as np
import torch

from workbench.data.dataset import Dataset


def pad_sequences(seqs: Sequence[np.ndarray], pad_value: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Stack ``(C, L_i)`` arrays into ``(N, C, L_max)`` plus ``lengths (N,)``.

    >>> X, lengths = pad_sequences([np.ones((2, 3)), np.ones((2, 5))])
    >>> X.shape, lengths.tolist()
    ((2, 2, 5), [3, 5])
    """
    lengths = np.array([s.shape[-1] for s in seqs], dtype=np.int64)
    channels = seqs[0].shape[0]
    out = np.full((len(seqs), channels, int(lengths.max())), pad_value, dtype=np.float32)
    for i, s in enumerate(seqs):
        out[i, :, : s.shape[-1]] = s
    return out, lengths


def lengths_to_mask(lengths: torch.Tensor, max_length: int | None = None) -> torch.Tensor:
    """``(N,)`` lengths → ``(N, L)`` bool mask, True on real positions."""
    length = int(lengths.max()) if max_length is None else max_length
    return torch.arange(length, device=lengths.device)[None, :] < lengths[:, None]


class LengthBucketSampler:
    """Yields batches of indices whose sequences have similar lengths.

    Sequences are sorted by length (ties broken at random each epoch), cut into
    batches, and the batch order is shuffled, so every batch is short on padding
    while the model still sees batches in random order.
    """

    def __init__(
        self,
        lengths: Sequence[int] | np.ndarray,
        batch_size: int,
        *,
        shuffle: bool = True,
        seed: int = 0,
        drop_last: bool = False,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, but got {batch_size}.")
        self.lengths = np.asarray(lengths)
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.drop_last = drop_last
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        n = len(self.lengths)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self) -> Iterator[np.ndarray]:
        rng = np.random.default_rng((self.seed, self.epoch))
        ties = rng.random(len(self.lengths)) if self.shuffle else np.arange(len(self.lengths))
        order = np.lexsort((ties, self.lengths))
        batches = [order[i : i + self.batch_size] for i in range(0, len(order), self.batch_size)]
        if self.drop_last and batches and len(batches[-1]) < self.batch_size:
            batches.pop()
        if self.shuffle:
            batches = [batches[i] for i in rng.permutation(len(batches))]
        yield from batches


class Batch(NamedTuple):
    """One training batch, already on the target device."""

    x: torch.Tensor  # (B, C, L) float32
    y: torch.Tensor  # (B,) or (B, L)
    lengths: torch.Tensor | None  # (B,) int64; None when every sequence has full length
    static: torch.Tensor | None  # (B, S)

    @property
    def mask(self) -> torch.Tensor | None:
        """``(B, L)`` bool, True on real positions; None for fixed-length data."""
        return None if self.lengths is None else lengths_to_mask(self.lengths, self.x.shape[-1])


def batches_per_pass(n: int, batch_size: int, buckets: LengthBucketSampler | None = None) -> int:
    """Batches in one pass over ``n`` samples (a last batch of one is merged into the one before)."""
    if buckets is not None:
        return len(_merge_singleton(list(buckets)))
    full, rest = divmod(n, batch_size)
    return full + (rest > 1) if full else 1


def training_steps_per_pass(dataset: Dataset, batch_size: int, *, seed: int = 0) -> int:
    """Optimiser steps in one shuffled training pass, as :class:`TensorBatches` will make them,
    without copying any data."""
    return batches_per_pass(dataset.n_samples, batch_size)  # training batches are never length-bucketed


def host_tensor(array: np.ndarray) -> torch.Tensor:
    """A CPU tensor over ``array`` without a copy where it is contiguous: a memory-mapped, read-only
    split of large data stays the pages every worker shares (batches are gathered from it, never
    written). A strided view (windows of a recording) is made contiguous here, once."""
    contiguous = np.ascontiguousarray(array)
    if contiguous.flags.writeable:
        return torch.from_numpy(contiguous)
    with warnings.catch_warnings():  # read-only on purpose: nothing writes into a dataset's arrays
        warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
        return torch.from_numpy(contiguous)


class TensorBatches:
    """Iterate over a dataset in batches sliced from tensors on ``device``.

    The dataset is copied to the device once. A final batch of a single sample
    is merged into the one before it, so BatchNorm never sees a batch of one.
    ``passes`` > 1 makes one iteration several shuffled passes over the data
    (one training "epoch" of a tiny dataset, see ``fit``); ``steps_per_epoch`` makes it that
    many batches of a stream of shuffled passes that goes on from one iteration to the next
    (an "epoch" of large data is a stretch between two validations).
    """

    def __init__(
        self,
        dataset: Dataset,
        batch_size: int,
        *,
        device: torch.device | str = "cpu",
        shuffle: bool = True,
        seed: int = 0,
        pin_memory: bool = False,
        passes: int = 1,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, but got {batch_size}.")
        self.passes = passes
        self.steps_per_epoch: int | None = None
        self._stream: Iterator[Batch] | None = None
        self.device = torch.device(device)
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.epoch = 0
        self.n = dataset.n_samples
        self.variable = dataset.variable_length
        y_dtype = torch.float32 if dataset.task == "regression" else torch.int64
        self.x = self._to_device(host_tensor(dataset.X), pin_memory)
        self.y = self._to_device(host_tensor(dataset.y).to(y_dtype), pin_memory)
        self.lengths = self._to_device(host_tensor(dataset.lengths), pin_memory)
        self.host_lengths = dataset.lengths  # trims batches without a device sync
        self.static = None if dataset.static is None else self._to_device(host_tensor(dataset.static), pin_memory)
        # Length buckets only for unshuffled passes (evaluation, prediction), where they save
        # the padding's compute. Training batches stay a random sample: wherever length carries
        # the label, length-sorted batches are nearly one class each, which skews BatchNorm's
        # statistics and every step's gradient (PickupGestureWiimoteZ: 0.27 test accuracy with
        # buckets, 0.7 without).
        self.buckets = (
            LengthBucketSampler(dataset.lengths, batch_size, shuffle=False) if self.variable and not shuffle else None
        )

    def _to_device(self, t: torch.Tensor, pin: bool) -> torch.Tensor:
        if self.device.type == "cuda" and pin:
            t = t.pin_memory()
        return t.to(self.device, non_blocking=True)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        if self.buckets is not None:
            self.buckets.set_epoch(epoch)

    def __len__(self) -> int:
        if self.steps_per_epoch is not None:
            return self.steps_per_epoch
        return self.passes * batches_per_pass(self.n, self.batch_size, self.buckets)

    def _index_batches_on_cpu(self) -> list[np.ndarray]:
        if self.buckets is not None:
            batches = list(self.buckets)
        else:
            rng = np.random.default_rng((self.seed, self.epoch))
            order = rng.permutation(self.n) if self.shuffle else np.arange(self.n)
            batches = [order[i : i + self.batch_size] for i in range(0, self.n, self.batch_size)]
        return _merge_singleton(batches)

    def __iter__(self) -> Iterator[Batch]:
        if self.steps_per_epoch is not None:
            if self._stream is None:
                self._stream = self._passes_forever()
            for _ in range(self.steps_per_epoch):
                yield next(self._stream)
            return
        for _ in range(self.passes):
            yield from self._one_pass()

    def _passes_forever(self) -> Iterator[Batch]:
        while True:
            yield from self._one_pass()

    def _one_pass(self) -> Iterator[Batch]:
        batches = self._index_batches_on_cpu()
        self.set_epoch(self.epoch + 1)  # the next pass over the data is shuffled anew
        for idx_np in batches:
            if self.buckets is None and not self.shuffle:
                # Unshuffled fixed-length batches are contiguous ranges: views, no copy.
                sl = slice(int(idx_np[0]), int(idx_np[-1]) + 1)
                static = None if self.static is None else self.static[sl]
                yield Batch(self.x[sl], self.y[sl], None, static)
                continue
            idx = torch.from_numpy(idx_np).to(self.device, non_blocking=True)
            x = self.x.index_select(0, idx)
            y = self.y.index_select(0, idx)
            lengths = None
            if self.variable:
                lengths = self.lengths.index_select(0, idx)
                keep = int(self.host_lengths[idx_np].max())
                x = x[:, :, :keep]
                if y.ndim == 2:
                    y = y[:, :keep]
            static = None if self.static is None else self.static.index_select(0, idx)
            yield Batch(x, y, lengths, static)


class EpochBatches:
    """An iterable with one item per epoch: that epoch's :class:`TensorBatches`.

    Handed to Lightning as a "dataloader", it makes one Lightning step a whole
    pass over the data, so Lightning's per-step bookkeeping is paid once per
    epoch (or evaluation pass) instead of once per mini-batch.
    """

    def __init__(self, batches: TensorBatches) -> None:
        self.batches = batches

    def __len__(self) -> int:
        return 1

    def __iter__(self) -> Iterator[TensorBatches]:
        yield self.batches


def _merge_singleton(batches: list[np.ndarray]) -> list[np.ndarray]:
    if len(batches) >= 2 and len(batches[-1]) == 1:
        batches[-2] = np.concatenate([batches[-2], batches[-1]])
        batches.pop()
    return batches
