"""What a model needs to know about the data: a small, serialisable record."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from workbench.data.dataset import Dataset


@dataclass(frozen=True)
class DataSpec:
    """Shapes and task of the data a model is built for."""

    n_channels: int
    length: int  # the longest sequence seen in training
    min_length: int
    task: str
    n_outputs: int  # logits (1 for binary and regression)
    n_static: int = 0
    ordered: bool = True
    # Whole sequences of different lengths: the conv families resample or mask them and see
    # each one's length (models stored before this field read False and keep their architecture).
    variable_length: bool = False
    # The length variable-length sequences are resampled to: the training set's median (0 in
    # models stored before it: the longest).
    median_length: int = 0

    @property
    def per_step(self) -> bool:
        return self.task == "per_step"

    @classmethod
    def from_dataset(cls, ds: Dataset) -> DataSpec:
        n_outputs = 1 if ds.task in ("binary", "regression") else ds.n_classes
        return cls(
            n_channels=ds.n_channels,
            length=ds.max_length,
            min_length=int(ds.lengths.min()),
            task=ds.task,
            n_outputs=n_outputs,
            n_static=ds.n_static,
            ordered=ds.order == "ordered",
            variable_length=ds.task != "per_step" and int(ds.lengths.min()) < ds.max_length,
            median_length=int(np.median(ds.lengths)),
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
