"""Export a trained model to TorchScript and ONNX with dynamic batch and length axes.

Both take the canonical ``(N, C, L)`` float32 input (plus ``lengths (N,)`` for
variable-length models, ``static (N, S)`` for hybrids with static features),
standardise it themselves, and return the network's logits.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn
from torch.export import Dim

from workbench.models.trained import TrainedModel


class _Exported(nn.Module):
    """A fixed signature for export: only the inputs this model really takes."""

    def __init__(self, net: nn.Module, with_lengths: bool, with_static: bool) -> None:
        super().__init__()
        self.net = net
        self.with_lengths = with_lengths
        self.with_static = with_static

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        x = inputs[0]
        lengths = inputs[1] if self.with_lengths else None
        static = inputs[-1] if self.with_static else None
        return self.net(x, lengths, static)


def example_inputs(model: TrainedModel, *, batch: int = 2, variable_length: bool = False) -> tuple[torch.Tensor, ...]:
    spec = model.spec
    x = torch.randn(batch, spec.n_channels, spec.length)
    inputs: list[torch.Tensor] = [x]
    if variable_length:
        inputs.append(torch.full((batch,), spec.length, dtype=torch.int64))
    if spec.n_static and model.family == "hybrid":
        inputs.append(torch.randn(batch, spec.n_static))
    return tuple(inputs)


def _wrap(model: TrainedModel, variable_length: bool) -> _Exported:
    with_static = bool(model.spec.n_static) and model.family == "hybrid"
    return _Exported(model.net.eval(), variable_length, with_static).eval()


def export_torchscript(model: TrainedModel, path: str | Path, *, variable_length: bool = False) -> Path:
    """Trace to TorchScript; batch and length stay dynamic (an MLP's length is fixed by design)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    wrapped = _wrap(model, variable_length)
    with torch.no_grad():
        traced = torch.jit.trace(wrapped, example_inputs(model, variable_length=variable_length), check_trace=False)
    traced.save(str(p))
    return p


def export_onnx(model: TrainedModel, path: str | Path, *, variable_length: bool = False) -> Path:
    """Export to ONNX with named, dynamic ``batch`` and ``length`` axes."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    wrapped = _wrap(model, variable_length)
    inputs = example_inputs(model, variable_length=variable_length)
    names = ["x"] + (["lengths"] if variable_length else []) + (["static"] if len(inputs) > 1 + variable_length else [])
    batch, length = Dim("batch"), Dim("length")
    # An MLP reads every position as its own feature: its length is fixed by design.
    x_axes = {0: batch, 2: length} if model.family != "mlp" or model.spec.per_step else {0: batch}
    shapes = (x_axes, *({0: batch} for _ in names[1:]))
    torch.onnx.export(
        wrapped,
        inputs,
        str(p),
        input_names=names,
        output_names=["logits"],
        dynamo=True,
        dynamic_shapes=(shapes,),
        verbose=False,
    )
    return p
