"""A trained model with everything needed to use it on new data, and its checkpoint format.

A checkpoint holds tensors and plain values only, so it loads with
``torch.load(weights_only=True)``: a file from elsewhere is never unpickled.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from workbench.data.batching import pad_sequences
from workbench.data.layout import check_layout_name, is_ragged, sequences_to_canonical, to_canonical
from workbench.errors import DataError, WorkbenchError
from workbench.files import write_atomically
from workbench.models.registry import build_model, get_family
from workbench.models.spec import DataSpec

CHECKPOINT_FORMAT = "workbench-checkpoint-1"


class CheckpointError(WorkbenchError, ValueError):
    """A checkpoint is not one the workbench wrote, or is damaged."""


@dataclass
class TrainedModel:
    """A family's network (eval mode, CPU) plus what it was trained on."""

    net: nn.Module
    family: str
    params: Any
    spec: DataSpec
    classes: tuple[str, ...] | None
    y_mean: float = 0.0
    y_std: float = 1.0

    # ------------------------------------------------------------- predict
    def logits(
        self, x: torch.Tensor, lengths: torch.Tensor | None = None, static: torch.Tensor | None = None
    ) -> torch.Tensor:
        self.net.eval()
        with torch.inference_mode():
            return self.net(x, lengths, static)

    def predict(
        self, X: Any, *, layout: str = "NCL", static: Any = None, proba: bool = False, batch_size: int = 1024
    ) -> np.ndarray:
        """Predict new data given in any supported layout.

        Returns original class labels (or probabilities with ``proba=True``) for
        classification, values for regression, ``(N, L)`` for per-step labels.
        """
        x, lengths = self._canonical(X, layout)
        static_t = None if static is None else torch.as_tensor(np.asarray(static, dtype=np.float32))
        outs = []
        for start in range(0, x.shape[0], batch_size):
            sl = slice(start, start + batch_size)
            out = self.logits(
                x[sl], None if lengths is None else lengths[sl], None if static_t is None else static_t[sl]
            )
            outs.append(out.float())
        out = torch.cat(outs)
        task = self.spec.task
        if task == "regression":
            return (out.squeeze(1) * self.y_std + self.y_mean).numpy()
        if task == "binary":
            p1 = torch.sigmoid(out.squeeze(1))
            probs = torch.stack([1 - p1, p1], dim=1)
        else:
            probs = torch.softmax(out, dim=1)  # (N, K) or (N, K, L)
        if proba:
            return probs.numpy()
        idx = probs.argmax(dim=1).numpy()
        labels = np.asarray(self.classes if self.classes is not None else range(probs.shape[1]), dtype=object)
        pred = labels[idx]
        if task == "per_step" and lengths is not None:
            pred[np.arange(pred.shape[1])[None, :] >= lengths.numpy()[:, None]] = None
        return pred

    def _canonical(self, X: Any, layout: str) -> tuple[torch.Tensor, torch.Tensor | None]:
        name = check_layout_name(layout)
        if not is_ragged(X) and (dtype := np.asarray(X).dtype).kind not in "biuf":
            raise DataError(
                f"predict reads numbers, but this input holds {dtype} values: convert it to a float array first, "
                "laid out as when the model was trained."
            )
        if is_ragged(X):
            arr, lens = pad_sequences(sequences_to_canonical(X, name))
            lengths: torch.Tensor | None = torch.from_numpy(lens)
        else:
            arr = np.asarray(to_canonical(X, name), dtype=np.float32)
            lengths = None
        if arr.shape[1] != self.spec.n_channels:
            raise DataError(
                f"The model was trained on {self.spec.n_channels} channel(s) but this input has {arr.shape[1]} "
                f"(after reading it as layout={name!r}, shape {arr.shape} in (N, C, L)). Check the layout."
            )
        if self.family == "mlp" and not self.spec.per_step and arr.shape[2] > self.spec.length:
            raise DataError(
                f"This MLP was trained on sequences of length {self.spec.length} and cannot read length "
                f"{arr.shape[2]}: it sees every position as its own feature. Crop the input, or use a "
                "conv1d model, which accepts any length."
            )
        if not np.isfinite(arr).all():
            raise DataError("Input contains NaN/inf values; clean them before predicting.")
        if arr.shape[0] == 0:
            raise DataError(
                f"predict got 0 samples (shape {arr.shape} in (N, C, L)): pass at least one, e.g. "
                "X[:1] for the first sample of a batch."
            )
        return torch.from_numpy(np.ascontiguousarray(arr)), lengths

    # ---------------------------------------------------------- checkpoint
    def save(self, path: str | Path) -> Path:
        """Write a checkpoint of tensors and plain values (safe to load)."""
        p = Path(path)
        payload = {
            "format": CHECKPOINT_FORMAT,
            "family": self.family,
            "params": dataclasses.asdict(self.params),
            "spec": self.spec.to_dict(),
            "classes": list(self.classes) if self.classes is not None else None,
            "y_mean": self.y_mean,
            "y_std": self.y_std,
            "state_dict": {k: v.detach().cpu() for k, v in self.net.state_dict().items()},
        }
        # atomic: a crash never leaves half a checkpoint under the real name
        return write_atomically(p, lambda file: torch.save(payload, file))


def load_model(path: str | Path) -> TrainedModel:
    """Load a workbench checkpoint with ``weights_only=True``; anything else is refused."""
    p = Path(path)
    if not p.is_file():
        raise CheckpointError(f"Checkpoint {str(p)!r} does not exist.")
    try:
        payload = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:  # UnpicklingError for pickled objects, RuntimeError for damaged zips
        raise CheckpointError(
            f"Refusing to load {str(p)!r}: it is not a plain-tensor workbench checkpoint "
            f"({type(exc).__name__}). The workbench never unpickles files it did not write."
        ) from exc
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{str(p)!r} is not a workbench checkpoint (format {CHECKPOINT_FORMAT!r} expected).")
    try:
        family = get_family(payload["family"])
        params = family.params(**payload["params"])
        spec = DataSpec(**payload["spec"])
        state = payload["state_dict"]
        # The layers' shapes, checked on the meta device: a crafted file claiming a huge model
        # allocates nothing, and wrong or missing tensors are named instead of a traceback.
        with torch.device("meta"):
            expected = {k: tuple(v.shape) for k, v in build_model(family.name, params, spec).state_dict().items()}
        got = {k: tuple(v.shape) for k, v in state.items() if isinstance(v, torch.Tensor)}
        if got != expected or len(got) != len(state):
            raise CheckpointError(
                f"{str(p)!r} holds a {family.name} model whose layers differ from what this version builds "
                f"({_layer_difference(expected, got)}). Re-train it with the same parameters: {payload['params']}."
            )
        net = build_model(family.name, params, spec)
        net.load_state_dict(state)
        classes = tuple(payload["classes"]) if payload["classes"] is not None else None
        y_mean, y_std = float(payload["y_mean"]), float(payload["y_std"])
    except CheckpointError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError, RuntimeError) as exc:  # a damaged or crafted payload
        raise CheckpointError(
            f"{str(p)!r} is a damaged workbench checkpoint ({type(exc).__name__}: {exc}). Save the model again "
            "with TrainedModel.save, or re-train it."
        ) from exc
    net.eval()
    return TrainedModel(net, family.name, params, spec, classes, y_mean, y_std)


def _layer_difference(expected: dict[str, tuple[int, ...]], got: dict[str, tuple[int, ...]]) -> str:
    missing = sorted(set(expected) - set(got))
    extra = sorted(set(got) - set(expected))
    common = sorted(set(got) & set(expected))
    shapes = [f"{k}: {got[k]} instead of {expected[k]}" for k in common if got[k] != expected[k]]
    parts = [f"missing {missing[:3]}" if missing else "", f"unexpected {extra[:3]}" if extra else ""]
    return "; ".join([part for part in parts if part] + shapes[:3]) or "entries that are not tensors"


def predict(model: TrainedModel | str | Path, X: Any, *, layout: str = "NCL", **kwargs: Any) -> np.ndarray:
    """Predict new data in any layout with a trained model or a checkpoint path.

    >>> result = workbench.fit(workbench.load("GunPoint"), "conv1d", max_epochs=2)  # doctest: +SKIP
    >>> workbench.predict(result.model, X_new, layout="NLC")  # doctest: +SKIP
    """
    if not isinstance(model, TrainedModel):
        model = load_model(model)
    return model.predict(X, layout=layout, **kwargs)
