"""The shape doctor: what will ``nn.Conv1d``, ``nn.Linear``, BatchNorm, pooling
and Flatten do with this input, and how to fix it when they can't.

The doctor runs a *copy* of the module (its BatchNorm statistics stay untouched)
with hooks that check each known layer's input before PyTorch does, so a failure
is explained in the user's terms (samples, channels, time steps) and comes with
the exact fix, instead of "expected input to have 64 channels, but got 128".
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from workbench.errors import ConfigError, ShapeError, short_repr

Shape = tuple[int, ...]
_POOLS = (nn.MaxPool1d, nn.AvgPool1d)
_GLOBAL_POOLS = (nn.AdaptiveAvgPool1d, nn.AdaptiveMaxPool1d)


@dataclass
class ShapeStep:
    """One leaf layer as the input passed through it."""

    name: str
    layer: str
    input_shape: Shape
    output_shape: Shape | None = None
    note: str = ""


@dataclass
class ShapeReport:
    """What happened to the input, layer by layer; ``problems`` would crash or mislead."""

    input_shape: Shape
    steps: list[ShapeStep] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    output_shape: Shape | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    def raise_for_problems(self) -> None:
        """Raise :class:`ShapeError` with the first problem and its fix."""
        if self.problems:
            raise ShapeError(self.problems[0])

    def __str__(self) -> str:
        lines = [f"input {self.input_shape}"]
        width = max([len(s.name) + len(s.layer) + 3 for s in self.steps] + [10])
        for s in self.steps:
            label = f"{s.name}: {s.layer}"
            out = "✗ fails" if s.output_shape is None else str(s.output_shape)
            lines.append(f"  {label:<{width}} {s.input_shape} → {out}" + (f"   {s.note}" if s.note else ""))
        if self.output_shape is not None:
            lines.append(f"output {self.output_shape}")
        lines += [f"PROBLEM: {p}" for p in self.problems]
        lines += [f"warning: {w}" for w in self.warnings]
        if self.ok and not self.warnings:
            lines.append("ok: every layer accepts this input.")
        return "\n".join(lines)

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:  # IPython shows the table, not a repr
        p.text(str(self))


class _Stop(Exception):
    """Aborts the copied forward pass once a problem is explained."""


def explain_shape(
    module: nn.Module,
    x: Any,
    *,
    y: Any = None,
    variable_length: bool = False,
) -> ShapeReport:
    """Predict what ``module`` does with ``x`` and explain any failure.

    Args:
        module: any ``nn.Module``; its training/eval mode is respected.
        x: the input as a tensor/array, or just its shape as a tuple.
        y: labels, if any; per-step labels ``(N, L)`` are checked against the
            output length.
        variable_length: also check that the model accepts other lengths
            (no Flatten/Linear tied to one length).

    >>> report = explain_shape(nn.Conv1d(64, 32, 3), (1, 128, 64))
    >>> report.ok
    False
    >>> print(report.problems[0])  # doctest: +ELLIPSIS
    Conv1d '...' expects 64 channels on axis 1 ... x.permute(0, 2, 1) ...
    """
    if not isinstance(module, nn.Module):
        raise ConfigError(
            f"explain_shape reads a torch.nn.Module (a layer or a model), but got {type(module).__name__} "
            f"{short_repr(module, 60)}. Pass the model itself, e.g. explain_shape(nn.Conv1d(64, 32, 3), x)."
        )
    tensor = _as_tensor(x)
    report = ShapeReport(input_shape=tuple(tensor.shape))
    output = _trace(module, tensor, report)
    if output is None:
        return report
    report.output_shape = tuple(output.shape)
    if tensor.ndim == 2 and any(isinstance(m, nn.Conv1d) for m in module.modules()):
        c, length = tensor.shape
        report.warnings.append(
            f"The input is 2-D, so Conv1d reads it as ONE unbatched sample with {c} channels and "
            f"length {length}, and slides its kernel along the {length} positions. If those "
            f"positions are your samples (rows of a table), the convolution mixes neighbouring "
            f"samples: use nn.Linear on (samples, features) instead (layout='NF'). For one "
            f"sequence, add the batch axis: x.unsqueeze(0) → (1, {c}, {length})."
        )
    if y is not None:
        _check_per_step(report, tensor, y)
    if variable_length and tensor.ndim == 3:
        _check_other_length(module, tensor, report)
    return report


def check_input(module: nn.Module, x: Any, **kwargs: Any) -> ShapeReport:
    """:func:`explain_shape`, raising :class:`ShapeError` if anything would fail."""
    report = explain_shape(module, x, **kwargs)
    report.raise_for_problems()
    return report


# --------------------------------------------------------------------------- tracing


def _as_tensor(x: Any) -> torch.Tensor:
    """The input, or for a shape alone a tensor on the meta device: shapes without memory, so
    that (100000, 3, 100000) is traced without allocating 120 GB."""
    if isinstance(x, tuple) and all(isinstance(v, int) for v in x):
        if not x or any(v < 1 for v in x):
            raise ShapeError(
                f"The shape {x} has {'no axes' if not x else 'an axis below 1'}: every axis of an input counts "
                "samples, channels or steps, at least 1 each, e.g. (8, 3, 128) for 8 samples of 3 channels × 128."
            )
        return torch.empty(x, device="meta")
    if isinstance(x, torch.Tensor):
        return x.detach().float()
    return torch.as_tensor(np.asarray(x), dtype=torch.float32)


def _trace(module: nn.Module, x: torch.Tensor, report: ShapeReport) -> torch.Tensor | None:
    model = copy.deepcopy(module).to(x.device if x.is_meta else "cpu")
    names = {m: name or "model" for name, m in model.named_modules()}
    state = {"layout": "ncl" if x.ndim == 3 else "flat"}
    handles = []

    def pre_hook(m: nn.Module, args: tuple[Any, ...]) -> None:
        if not args or not isinstance(args[0], torch.Tensor):
            return
        inp = args[0]
        step = ShapeStep(names[m], _describe(m), tuple(inp.shape))
        report.steps.append(step)
        problem = _check_layer(m, step, inp, state, report)
        if problem:
            report.problems.append(problem)
            raise _Stop

    def post_hook(m: nn.Module, args: tuple[Any, ...], out: Any) -> None:
        tensor = _first_tensor(out)
        if tensor is not None and report.steps and report.steps[-1].name == names[m]:
            report.steps[-1].output_shape = tuple(tensor.shape)
            _after_layer(m, report.steps[-1], state)

    for m in model.modules():
        if not list(m.children()):
            handles.append(m.register_forward_pre_hook(pre_hook))
            handles.append(m.register_forward_hook(post_hook))
    try:
        with torch.no_grad():
            out = model(x)
    except _Stop:
        return None
    except Exception as exc:  # an unknown layer's own error: name where it happened
        where = next((s for s in reversed(report.steps) if s.output_shape is None), None)
        place = f"at {where.name}: {where.layer} with input {where.input_shape}" if where else "in forward()"
        report.problems.append(f"The model fails {place}: {type(exc).__name__}: {exc}")
        return None
    finally:
        for h in handles:
            h.remove()
    return _first_tensor(out)


def _first_tensor(out: Any) -> torch.Tensor | None:
    """The tensor a layer returns, or the first one of a tuple (LSTM, attention)."""
    if isinstance(out, torch.Tensor):
        return out
    if isinstance(out, tuple | list) and out and isinstance(out[0], torch.Tensor):
        return out[0]
    return None


def _describe(m: nn.Module) -> str:
    if isinstance(m, nn.Conv1d):
        pad = m.padding if isinstance(m.padding, str) else m.padding[0]
        extra = f", dilation={m.dilation[0]}" if m.dilation[0] != 1 else ""
        extra += f", stride={m.stride[0]}" if m.stride[0] != 1 else ""
        return f"Conv1d({m.in_channels}→{m.out_channels}, kernel={m.kernel_size[0]}, padding={pad!r}{extra})"
    if isinstance(m, nn.Linear):
        return f"Linear({m.in_features}→{m.out_features})"
    if isinstance(m, nn.BatchNorm1d):
        return f"BatchNorm1d({m.num_features}, {'training' if m.training else 'eval'})"
    if isinstance(m, _POOLS):
        return f"{type(m).__name__}(kernel={m.kernel_size})"
    return type(m).__name__


def _check_layer(
    m: nn.Module, step: ShapeStep, x: torch.Tensor, state: dict[str, str], report: ShapeReport
) -> str | None:
    if isinstance(m, nn.Conv1d):
        return _check_conv(m, step.name, tuple(x.shape))
    if isinstance(getattr(m, "in_channels", None), int) and x.ndim in (2, 3):  # e.g. the input standardisation
        return _channel_problem(type(m).__name__, m.in_channels, step.name, tuple(x.shape))  # type: ignore[arg-type]
    if isinstance(m, nn.BatchNorm1d):
        return _check_batchnorm(m, step.name, tuple(x.shape), report)
    if isinstance(m, nn.Linear):
        return _check_linear(m, step.name, tuple(x.shape), state, report)
    if isinstance(m, _POOLS):
        k = _first(m.kernel_size)
        if x.ndim >= 2 and x.shape[-1] < k:
            return (
                f"{type(m).__name__} '{step.name}' has kernel {k} but the sequence is only "
                f"{x.shape[-1]} long here (input {tuple(x.shape)}): earlier layers shortened it. "
                "Pool less, use padding='same' in the convolutions, or use global pooling "
                "(nn.AdaptiveAvgPool1d(1)) at the end."
            )
    return None


def _channel_problem(kind: str, cin: int, name: str, shape: Shape) -> str | None:
    """The channel axis of ``shape`` against the ``cin`` channels a layer expects."""
    batched = len(shape) == 3
    c, length = (shape[1], shape[2]) if batched else (shape[0], shape[1])
    if c != cin:
        if batched and length == cin:
            return (
                f"{kind} '{name}' expects {cin} channels on axis 1 of (N, C, L), but the input "
                f"{shape} has {c} there and {cin} on the last axis: it looks channels-last "
                f"(N, L, C) = ({shape[0]} samples, {c} steps, {cin} channels), as Keras stores it. "
                f"Fix: x.permute(0, 2, 1) → ({shape[0]}, {cin}, {c}), or load it with layout='NLC'."
            )
        if not batched and length == cin:
            return (
                f"{kind} '{name}' reads a 2-D input {shape} as ONE unbatched sample with {c} "
                f"channels and length {length}, but it expects {cin} channels. Your last axis has "
                f"{cin}: if the array is {c} samples × {cin} features (a table), a convolution "
                f"would slide over the samples; use nn.Linear({cin}, ...) with layout='NF', or to "
                f"convolve along the {cin} features, x.unsqueeze(1) → ({c}, 1, {cin}) with "
                f"in_channels=1. If it is one sequence of {c} steps with {cin} channels, use "
                f"x.T.unsqueeze(0) → (1, {cin}, {c}) (layout='LC')."
            )
        axis = "axis 1 of (N, C, L)" if batched else "axis 0 of an unbatched (C, L)"
        return (
            f"{kind} '{name}' expects {cin} channels on {axis}, but the input {shape} has {c}. "
            f"Change in_channels to {c}, or check the previous layer's output channels."
        )
    return None


def _check_conv(m: nn.Conv1d, name: str, shape: Shape) -> str | None:
    cin = m.in_channels
    if len(shape) not in (2, 3):
        fix = "x.reshape(N, C, L)"
        if len(shape) == 1:
            fix = f"x.reshape(1, 1, -1) for one single-channel sequence of length {shape[0]}"
        elif len(shape) == 4 and 1 in shape:
            fix = f"x.squeeze({shape.index(1)}) to drop the extra axis of size 1"
        return (
            f"Conv1d '{name}' expects (N, C, L) or one unbatched (C, L), but got {len(shape)}-D "
            f"input {shape}. Use {fix}."
        )
    problem = _channel_problem("Conv1d", cin, name, shape)
    if problem:
        return problem
    length = shape[-1]
    span = m.dilation[0] * (m.kernel_size[0] - 1) + 1
    pad = 0 if isinstance(m.padding, str) else 2 * m.padding[0]
    if m.padding != "same" and length + pad < span:
        return (
            f"Conv1d '{name}' spans {span} positions (kernel {m.kernel_size[0]}, dilation "
            f"{m.dilation[0]}) but the sequence is only {length} long here (input {shape}). Use "
            f"padding='same', a smaller kernel or dilation, or fewer length-reducing layers before it."
        )
    return None


def _check_batchnorm(m: nn.BatchNorm1d, name: str, shape: Shape, report: ShapeReport) -> str | None:
    if len(shape) not in (2, 3):
        return f"BatchNorm1d '{name}' expects (N, C) or (N, C, L), but got {len(shape)}-D input {shape}."
    if shape[1] != m.num_features:
        hint = ""
        if len(shape) == 3 and shape[2] == m.num_features:
            hint = " The features sit on the last axis: the input looks channels-last; x.permute(0, 2, 1)."
        return (
            f"BatchNorm1d '{name}' normalises {m.num_features} channels on axis 1, but the input "
            f"{shape} has {shape[1]} there.{hint}"
        )
    values_per_channel = shape[0] * (shape[2] if len(shape) == 3 else 1)
    if m.training and values_per_channel == 1:
        return (
            f"BatchNorm1d '{name}' is in training mode and got a batch of one {shape}: it needs more "
            f"than one value per channel for batch statistics (PyTorch raises 'Expected more than 1 "
            f"value per channel when training'). For inference call model.eval(); for training use "
            f"batches of at least 2 (drop or merge a last batch of one; the workbench's batches do), "
            f"or use nn.GroupNorm / nn.LayerNorm, which do not depend on the batch."
        )
    if m.training and shape[0] == 1:
        report.warnings.append(
            f"BatchNorm1d '{name}' in training mode sees a batch of one sample: its statistics come "
            "from one sample's positions only. Use larger batches, or model.eval() for inference."
        )
    return None


def _check_linear(m: nn.Linear, name: str, shape: Shape, state: dict[str, str], report: ShapeReport) -> str | None:
    fin = m.in_features
    if shape[-1] == fin:
        if len(shape) == 3 and state["layout"] == "ncl":
            report.warnings.append(
                f"Linear '{name}' gets a 3-D input {shape} and acts on its last axis only, i.e. on "
                f"the {shape[-1]} positions of each channel separately. To mix channels, pool over "
                "the length first (x.mean(-1) or nn.AdaptiveAvgPool1d(1) + nn.Flatten())."
            )
        return None
    msg = f"Linear '{name}' expects {fin} features on the last axis, but the input {shape} has {shape[-1]}."
    flat = math.prod(shape[1:]) if len(shape) > 1 else shape[0]
    if len(shape) == 3 and flat == fin:
        return msg + (
            f" The input is still (N, C, L); flatten it first: nn.Flatten() or x.flatten(1) → ({shape[0]}, {fin})."
        )
    if len(shape) == 3:
        return msg + (
            " After convolutions the input is (N, C, L); reduce the length with global pooling "
            f"(nn.AdaptiveAvgPool1d(1) + nn.Flatten() gives ({shape[0]}, {shape[1]})), which also "
            "works for any sequence length."
        )
    if state.get("flattened_from"):
        return msg + (
            f" It follows a Flatten of {state['flattened_from']}: the feature count depends on the "
            "sequence length. Use global pooling (nn.AdaptiveAvgPool1d(1)) instead of Flatten so "
            "that any length works."
        )
    return msg + f" Set in_features={shape[-1]} or fix the layer before it."


def _after_layer(m: nn.Module, step: ShapeStep, state: dict[str, str]) -> None:
    inp, out = step.input_shape, step.output_shape
    if out is None:
        return
    if isinstance(m, nn.Conv1d | nn.MaxPool1d | nn.AvgPool1d) and inp[-1] != out[-1]:
        why = "pooling shortens by its stride" if isinstance(m, _POOLS) else "no 'same' padding"
        if isinstance(m, nn.Conv1d) and m.stride[0] != 1:
            why = f"stride {m.stride[0]}"
        step.note = f"length {inp[-1]} → {out[-1]} ({why})"
        state["layout"] = "ncl"
    elif isinstance(m, nn.Conv1d):
        state["layout"] = "ncl"
    elif isinstance(m, _GLOBAL_POOLS):
        step.note = f"global pooling: any length → {out[-1]}"
    elif isinstance(m, nn.Flatten):
        if len(inp) == 3 and inp[2] > 1:
            state["flattened_from"] = f"(N, C={inp[1]}, L={inp[2]})"
            step.note = f"flat size {out[-1]} = C·L depends on the length"
        state["layout"] = "flat"


def _first(v: int | tuple[int, ...]) -> int:
    return v if isinstance(v, int) else v[0]


# --------------------------------------------------------------------------- follow-up checks


def _check_per_step(report: ShapeReport, x: torch.Tensor, y: Any) -> None:
    y_shape = tuple(np.shape(y))
    if len(y_shape) != 2 or report.output_shape is None:
        return
    length = y_shape[1]
    out = report.output_shape
    shrinking = [f"{s.name}: {s.layer} ({s.note})" for s in report.steps if "→" in s.note and "length" in s.note]
    if len(out) == 2:
        pooled = [s.name for s in report.steps if s.note.startswith("global pooling") or "Flatten" in s.layer]
        where = f"it pools or flattens away the length at {', '.join(pooled)}" if pooled else "the length axis is gone"
        report.problems.append(
            f"The labels are per time step {y_shape} but the model returns one vector per sample {out}: {where}. "
            "A per-step model keeps (N, C, L) to the end: use padding='same' convolutions and a "
            "final Conv1d(C, n_classes, kernel_size=1) instead of pooling + Linear."
        )
    elif out[-1] != length:
        report.problems.append(
            f"The labels have {length} steps {y_shape} but the model outputs length {out[-1]} "
            f"{out}. Layers that change the length: {'; '.join(shrinking) or 'see the table'}. A "
            "kernel of k without padding removes k-1 steps (kernel 3: L-2); padding='same' keeps L."
        )


def _check_other_length(module: nn.Module, x: torch.Tensor, report: ShapeReport) -> None:
    length = x.shape[-1]
    other_length = length + max(1, length // 2)
    other = torch.zeros(*x.shape[:-1], other_length, device=x.device)
    probe = ShapeReport(input_shape=tuple(other.shape))
    out = _trace(module, other, probe)
    flatten = [s.name for s in report.steps if s.layer == "Flatten" and len(s.input_shape) == 3]
    if out is None:
        where = f" ({', '.join(repr(f) for f in flatten)} flattens (N, C, L))" if flatten else ""
        report.problems.append(
            f"The model accepts length {length} but fails on length {other_length}{where}: it is "
            f"tied to one length, so variable-length input breaks it. Replace Flatten + Linear "
            f"with global pooling (nn.AdaptiveMaxPool1d(1) or AdaptiveAvgPool1d(1), masked for "
            f"padding) before the Linear layer. On length {other_length}: {probe.problems[0]}"
        )
    elif report.output_shape is not None and out.shape[1:] != report.output_shape[1:] and out.ndim == 2:
        report.problems.append(
            f"The model's output size depends on the input length ({report.output_shape} for length "
            f"{length}, {tuple(out.shape)} for {other_length}); use global pooling before the head."
        )
