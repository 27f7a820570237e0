"""Synthetic datasets with a known answer, for tests and walkthroughs.

Each generator says in its docstring which family *should* win and why, so the
profiler and the studies can be checked against ground truth.
"""

from __future__ import annotations

import numpy as np

from workbench.data.dataset import Dataset, make_dataset
from workbench.data.layout import to_canonical


def _background(rng: np.random.Generator, n: int, channels: int, length: int, phi: float = 0.8) -> np.ndarray:
    """AR(1) noise ``(N, C, L)``: neighbouring steps correlate, as in real series."""
    eps = rng.normal(0.0, np.sqrt(1 - phi**2), size=(n, channels, length))
    x = np.empty_like(eps)
    x[..., 0] = rng.normal(size=(n, channels))
    for t in range(1, length):
        x[..., t] = phi * x[..., t - 1] + eps[..., t]
    return x


def _motif(label: int, n_classes: int, width: int) -> np.ndarray:
    """One period of a sine with a class-specific phase.

    Every class's motif holds the same values in a different order, so summary
    statistics (mean, variance, max) cannot tell the classes apart: only the
    local order can.
    """
    t = np.arange(width)
    return np.sin(2 * np.pi * t / width + 2 * np.pi * label / n_classes)


def _insert(
    rng: np.random.Generator,
    x: np.ndarray,
    labels: np.ndarray,
    n_classes: int,
    width: int,
    amplitude: float,
    lengths: np.ndarray,
) -> np.ndarray:
    starts = np.empty(len(labels), dtype=np.int64)
    for i, label in enumerate(labels):
        starts[i] = rng.integers(0, lengths[i] - width + 1)
        x[i, :, starts[i] : starts[i] + width] += amplitude * _motif(int(label), n_classes, width)
    return starts


def ordered_motifs(
    n: int = 300,
    length: int = 64,
    *,
    n_classes: int = 2,
    channels: int = 1,
    width: int = 12,
    amplitude: float = 2.5,
    seed: int = 0,
) -> Dataset:
    """Sequences whose class is a local motif at a random position → **conv1d**.

    A convolution finds the motif wherever it is; a flattened MLP must learn it
    at every position separately.
    """
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % n_classes
    rng.shuffle(labels)
    x = _background(rng, n, channels, length)
    _insert(rng, x, labels, n_classes, width, amplitude, np.full(n, length))
    return make_dataset(x, labels, name="ordered_motifs", source="synthetic: local motifs (conv1d should win)")


def shuffled_motifs(
    n: int = 300, length: int = 64, *, seed: int = 0, permutation_seed: int = 1234, **kwargs: int | float
) -> Dataset:
    """:func:`ordered_motifs` with its positions shuffled by one fixed permutation → **mlp**.

    The information is all still there (an MLP on the flat view loses nothing),
    but neighbouring positions no longer belong together, so convolution has no
    local structure to exploit.
    """
    ds = ordered_motifs(n, length, seed=seed, **kwargs)  # type: ignore[arg-type]
    perm = np.random.default_rng(permutation_seed).permutation(length)
    shuffled = ds.permute_positions(perm)
    return make_dataset(
        shuffled.X,
        shuffled.y,
        name="shuffled_motifs",
        source="synthetic: motifs with positions permuted once (mlp should win)",
    )


def tabular_interactions(n: int = 400, n_features: int = 16, *, seed: int = 0) -> Dataset:
    """Independent features with a non-linear label → **mlp** (layout ``NF``).

    ``y = [x0·x1 + x2² − 1 + 0.5·x3 > 0]``: interactions a Linear model cannot
    fit, and no order among the features. ``tabular_interactions(128, 64)`` is
    the "(128, 64) table" of the walkthroughs.
    """
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, n_features))
    y = (x[:, 0] * x[:, 1] + x[:, 2] ** 2 - 1 + 0.5 * x[:, 3] > 0).astype(np.int64)
    return make_dataset(
        to_canonical(x, "NF"),
        y,
        name="tabular_interactions",
        order="unknown",
        position_names=[f"x{i}" for i in range(n_features)],
        source="synthetic: unordered features with interactions (mlp should win)",
    )


def sequences_with_static(n: int = 400, length: int = 64, *, n_static: int = 4, seed: int = 0) -> Dataset:
    """Motif sequences plus per-sequence static features → **hybrid**.

    The label is (motif class) XOR (static feature 0 > 0): neither the sequence
    nor the static features alone can predict it.
    """
    rng = np.random.default_rng(seed)
    motif = rng.integers(0, 2, size=n)
    x = _background(rng, n, 1, length)
    _insert(rng, x, motif, 2, 12, 2.5, np.full(n, length))
    static = rng.normal(size=(n, n_static))
    y = motif ^ (static[:, 0] > 0).astype(np.int64)
    return make_dataset(
        x,
        y,
        name="sequences_with_static",
        static=static,
        static_names=[f"static{i}" for i in range(n_static)],
        source="synthetic: motif XOR static feature (hybrid should win)",
    )


def per_step_labels(n: int = 200, length: int = 64, *, seed: int = 0) -> Dataset:
    """One label per time step: 1 inside an up-going motif, 0 elsewhere.

    Distractor motifs (the same values, reversed in time) are labelled 0, so a
    per-step model must read local order; a model that shrinks the length or
    pools cannot produce the labels.
    """
    rng = np.random.default_rng(seed)
    x = _background(rng, n, 1, length, phi=0.5)
    y = np.zeros((n, length), dtype=np.int64)
    width = 10
    for i in range(n):
        for kind in (0, 1):
            start = int(rng.integers(0, length - width + 1))
            x[i, 0, start : start + width] += 2.5 * _motif(kind, 2, width)
            if kind == 0:
                y[i, start : start + width] = 1
    return make_dataset(x, y, name="per_step_labels", source="synthetic: label per time step")


def variable_length_motifs(
    n: int = 300, *, min_length: int = 24, max_length: int = 96, n_classes: int = 2, seed: int = 0
) -> Dataset:
    """:func:`ordered_motifs` with lengths drawn between ``min_length`` and ``max_length``.

    The class does not depend on the length, so a model that reads padding
    (instead of masking it) gains nothing from it.
    """
    if min_length < 12:
        raise ValueError(f"min_length must be at least 12 (the motif width), but got {min_length}.")
    rng = np.random.default_rng(seed)
    lengths = rng.integers(min_length, max_length + 1, size=n)
    labels = np.arange(n) % n_classes
    rng.shuffle(labels)
    x = _background(rng, n, 1, max_length)
    _insert(rng, x, labels, n_classes, 12, 2.5, lengths)
    seqs = [x[i, :, : lengths[i]] for i in range(n)]
    return make_dataset(seqs, labels, name="variable_length_motifs", source="synthetic: variable-length motifs")


def time_steps_as_rows(n_rows: int = 500, n_features: int = 8, *, seed: int = 0) -> Dataset:
    """A table whose rows are consecutive time steps of one process (layout ``NF``).

    Each row depends on the previous one and the label follows a slowly
    switching regime, so a random train/test split leaks: neighbouring rows land
    on both sides. The profiler must warn about it.
    """
    rng = np.random.default_rng(seed)
    regime = np.zeros(n_rows, dtype=np.int64)
    for t in range(1, n_rows):
        regime[t] = regime[t - 1] if rng.random() > 0.02 else 1 - regime[t - 1]
    x = np.zeros((n_rows, n_features))
    for t in range(1, n_rows):
        x[t] = 0.9 * x[t - 1] + 0.3 * rng.normal(size=n_features) + 0.1 * regime[t]
    return make_dataset(
        to_canonical(x, "NF"),
        regime,
        name="time_steps_as_rows",
        order="unknown",
        source="synthetic: rows are time steps (random splits leak)",
    )


def recording(n_steps: int = 20_000, n_channels: int = 4, *, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """One long recording ``(T, C)`` float32 and a label per step ``(T,)``, for :func:`workbench.windows`.

    The label is a regime that switches about every 400 steps among three; each regime
    shifts the channels' means by half a standard deviation, under strongly
    autocorrelated noise (AR(1), φ = 0.97). Overlapping windows of neighbouring steps are
    near copies, so a random split of them leaks: a model that memorises scores far
    better on it than on later time (the time-ordered split), which is what it would
    face in use.
    """
    rng = np.random.default_rng(seed)
    switch = rng.random(n_steps) < 1 / 400
    steps = np.where(switch, rng.integers(1, 3, size=n_steps), 0)
    regime = np.cumsum(steps) % 3
    eps = rng.standard_normal((n_steps, n_channels))
    noise = np.empty_like(eps)
    noise[0] = eps[0]
    for t in range(1, n_steps):
        noise[t] = 0.97 * noise[t - 1] + eps[t]
    noise /= noise.std(axis=0)
    effect = 0.5 * rng.standard_normal((3, n_channels))
    return (noise + effect[regime]).astype(np.float32), regime.astype(np.int64)


def local_shapes(
    n: int = 20_000,
    length: int = 256,
    *,
    channels: int = 3,
    n_classes: int = 4,
    widths: tuple[int, int] = (16, 48),
    snr: float = 2.5,
    seed: int = 0,
) -> Dataset:
    """Data of the size people have, where order matters → **conv1d**: ``n`` sequences of
    ``channels`` × ``length`` AR(1) noise, each holding one local shape in one channel at a
    random position. The class is the shape's phase (:func:`_motif`: the same values in another
    order), and the signal varies from sequence to sequence: its width (``widths``), its
    amplitude (``snr`` ± 30% of the noise's standard deviation) and its channel. Built in chunks,
    float32: the whole dataset is the only full-size copy (200,000 × 3 × 256 is 0.6 GB).
    """
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % n_classes
    rng.shuffle(labels)
    x = np.empty((n, channels, length), dtype=np.float32)
    chunk = 8192
    for start in range(0, n, chunk):
        part = _background(rng, min(chunk, n - start), channels, length)
        for i in range(part.shape[0]):
            width = int(rng.integers(widths[0], widths[1] + 1))
            at, channel = int(rng.integers(0, length - width + 1)), int(rng.integers(0, channels))
            amplitude = snr * rng.uniform(0.7, 1.3)
            part[i, channel, at : at + width] += amplitude * _motif(int(labels[start + i]), n_classes, width)
        x[start : start + part.shape[0]] = part
    return make_dataset(
        x,
        labels,
        name="local_shapes",
        source=f"synthetic: {n_classes} local shapes of varying width, amplitude and channel (conv1d should win)",
    )
