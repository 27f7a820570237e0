"""Layouts: the one place where user arrays become canonical ``(N, C, L)``.

A layout names the axes of the array the user holds:

======  ===========================================  ==========================
layout  axes                                         typical source
======  ===========================================  ==========================
NCL     (samples, channels, length)                  PyTorch ``nn.Conv1d``
NLC     (samples, length, channels)                  Keras ``(batch, steps, dim)``
NL      (samples, length), one channel               a univariate series per row
NF      (samples, features), feature order unknown   a table: height, weight, …
CL      (channels, length), one unbatched sample     one PyTorch sample
LC      (length, channels), one unbatched sample     one Keras sample
======  ===========================================  ==========================
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, get_args

import numpy as np

from workbench.errors import LayoutError, option

Layout = Literal["NCL", "NLC", "NL", "NF", "CL", "LC"]
LAYOUTS: tuple[str, ...] = get_args(Layout)

AXES: dict[str, str] = {
    "NCL": "(samples, channels, length)",
    "NLC": "(samples, length, channels)",
    "NL": "(samples, length)",
    "NF": "(samples, features)",
    "CL": "(channels, length)",
    "LC": "(length, channels)",
}

# Transpose that turns each layout into (N, C, L) after the missing axes are added.
_RANK = {"NCL": 3, "NLC": 3, "NL": 2, "NF": 2, "CL": 2, "LC": 2}

# A layout check flags "channels" that outnumber positions this much: the classic
# sign of channels-last data read as channels-first (or the reverse).
SUSPICIOUS_CHANNEL_RATIO = 4


def check_layout_name(layout: str) -> Layout:
    """Return ``layout`` if it is known, else raise listing the valid ones."""
    if layout not in LAYOUTS:
        valid = ", ".join(f"'{name}' {AXES[name]}" for name in LAYOUTS)
        raise LayoutError(f"Unknown layout {layout!r}. Valid layouts: {valid}.")
    return layout  # type: ignore[return-value]


def as_numpy(x: Any) -> np.ndarray:
    """Accept NumPy arrays, torch tensors, lists; never pickled objects."""
    if hasattr(x, "detach") and hasattr(x, "cpu"):  # a torch.Tensor, without importing torch
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def is_ragged(items: Any) -> bool:
    """True for a list/tuple of arrays whose shapes differ (variable-length sequences)."""
    return isinstance(items, list | tuple) and len({np.shape(as_numpy(a)) for a in items}) > 1


def to_canonical(x: Any, layout: str, *, check: bool = True) -> np.ndarray:
    """Convert one array in ``layout`` to ``(N, C, L)`` (a view when possible).

    >>> to_canonical(np.zeros((8, 100, 3)), "NLC").shape
    (8, 3, 100)
    """
    name = check_layout_name(layout)
    arr = as_numpy(x)
    expected_rank = _RANK[name]
    if arr.ndim != expected_rank:
        raise LayoutError(_rank_message(arr.shape, name))
    if name == "NCL":
        out = arr
    elif name == "NLC":
        out = arr.transpose(0, 2, 1)
    elif name in ("NL", "NF"):
        out = arr[:, None, :]
    elif name == "CL":
        out = arr[None, :, :]
    else:  # "LC"
        out = arr.T[None, :, :]
    if check:
        check_not_swapped(out.shape, name, arr.shape)
    return out


def sequences_to_canonical(seqs: Sequence[Any], layout: str) -> list[np.ndarray]:
    """Convert a list of variable-length samples to a list of ``(C, L_i)`` arrays.

    ``layout`` names the layout of the batch (``NCL``, ``NLC`` or ``NL``); each
    element holds one sample without the batch axis.
    """
    name = check_layout_name(layout)
    if name not in ("NCL", "NLC", "NL"):
        raise LayoutError(
            f"A list of variable-length sequences needs layout 'NCL' (each item (C, L_i)), "
            f"'NLC' (each item (L_i, C)) or 'NL' (each item (L_i,)), but got layout={name!r}."
        )
    per_sample_rank = 1 if name == "NL" else 2
    out: list[np.ndarray] = []
    for i, item in enumerate(seqs):
        arr = as_numpy(item)
        if arr.ndim != per_sample_rank:
            raise LayoutError(
                f"Sequence {i} has shape {arr.shape} ({arr.ndim}-D), but layout={name!r} needs "
                f"each item to be {per_sample_rank}-D: "
                + {"NCL": "(C, L_i)", "NLC": "(L_i, C)", "NL": "(L_i,)"}[name]
                + "."
            )
        if name == "NL":
            arr = arr[None, :]
        elif name == "NLC":
            arr = arr.T
        out.append(arr)
    channels = {a.shape[0] for a in out}
    if len(channels) > 1:
        first = out[0].shape[0]
        odd = next(i for i, a in enumerate(out) if a.shape[0] != first)
        raise LayoutError(
            f"Sequences disagree on the number of channels: sequence 0 has {first}, sequence "
            f"{odd} has {out[odd].shape[0]} (reading each item as layout {name!r}). Only the "
            f"length may vary between sequences; check the layout or the data."
        )
    return out


def check_not_swapped(canonical_shape: tuple[int, ...], layout: str, given: tuple[int, ...]) -> None:
    """Refuse a layout that reads many channels of a very short sequence.

    ``(N, 128, 3)`` named ``NCL`` means 128 channels of 3 steps: almost always a
    Keras-style ``(batch, steps, dim)`` array given the wrong name.
    """
    if layout in ("NL", "NF"):
        return
    _, channels, length = canonical_shape
    if channels > length and channels >= SUSPICIOUS_CHANNEL_RATIO * length:
        other = {"NCL": "NLC", "NLC": "NCL", "CL": "LC", "LC": "CL"}[layout]
        fix = {
            "NCL": "x.permute(0, 2, 1) (torch) or x.transpose(0, 2, 1) (NumPy)",
            "NLC": "x.permute(0, 2, 1) (torch) or x.transpose(0, 2, 1) (NumPy)",
            "CL": "x.T",
            "LC": "x.T",
        }[layout]
        raise LayoutError(
            f"layout={layout!r} reads shape {given} as {channels} channels of length {length}: "
            f"a convolution would slide over only {length} positions. That usually means the "
            f"axes are swapped. If your array is {AXES[other]}, pass {option('layout', other)} "
            f"(or convert it with {fix}). If you really have {channels} channels of length "
            f"{length}, pass {option('check_layout', False)}."
        )


def _rank_message(shape: tuple[int, ...], layout: Layout) -> str:
    rank = len(shape)
    msg = f"layout={layout!r} expects a {_RANK[layout]}-D array {AXES[layout]}, but got shape {shape} ({rank}-D)."
    if rank == 1:
        msg += (
            " A 1-D array is one sequence or one sample: use x.reshape(1, -1) with layout='NL' "
            "for one sequence, or x.reshape(-1, 1) with layout='NF' for one feature per sample."
        )
    elif rank == 2:
        msg += (
            f" If each of the {shape[0]} rows is a sample of {shape[1]} unordered features "
            f"(a table), use layout='NF'; if each row is one sequence of {shape[1]} time "
            f"steps, use layout='NL'; if the array is one unbatched sample, use 'CL' or 'LC'."
        )
    elif rank == 3:
        msg += (
            " A 3-D array is a batch of sequences: layout='NCL' for (samples, channels, length) "
            "as PyTorch's Conv1d expects, or 'NLC' for Keras-style (samples, steps, dim)."
        )
    else:
        msg += " Arrays of more than 3 axes are not 1D data; reshape to (N, C, L) first."
    return msg
