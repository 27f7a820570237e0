"""``workbench.profile(dataset)``: describe the data, test its order, recommend a family."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from workbench.data.dataset import Dataset
from workbench.data.labels import IGNORE_INDEX
from workbench.files import write_text_atomically
from workbench.interrupt import interruptible, safe_point
from workbench.profiling.order import (
    MAX_VALUES,
    AutocorrelationTest,
    OrderTest,
    autocorrelation_test,
    order_test,
)
from workbench.profiling.probe import ModelOrderTest, model_order_test
from workbench.profiling.recommendation import Descriptive, Recommendation, recommend
from workbench.profiling.samples import SampleOrderCheck, sample_order_check

T = TypeVar("T")


def _known(cls: type[T], values: dict[str, Any]) -> T:
    """``cls(**values)`` with fields it no longer has left out, so that stored profiles stay readable."""
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    return cls(**{k: v for k, v in values.items() if k in names})


@dataclass
class DataProfile:
    """Everything the profiler measured, and what it recommends. Serialisable to JSON."""

    descriptive: Descriptive
    order: OrderTest  # across samples
    model_order: ModelOrderTest
    samples: SampleOrderCheck
    recommendation: Recommendation
    seconds: float
    autocorrelation: AutocorrelationTest | None = None  # within sequences; None in profiles stored before it

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def __repr__(self) -> str:
        r = self.recommendation
        return f"DataProfile(recommends {r.family!r}, {r.confidence_label} confidence; .summary() says why)"

    def _repr_html_(self) -> str:
        from workbench.display import card

        r = self.recommendation
        lines = [*r.reasons, *(f"⚠ {w}" for w in r.warnings), f"profiled in {self.seconds:.1f} s"]
        return card(f"Profile: recommends {r.family} ({r.confidence_label} confidence)", lines)

    def to_json(self, path: str | Path | None = None) -> str:
        text = json.dumps(self.to_dict(), indent=2)
        if path is not None:
            write_text_atomically(path, text)
        return text

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DataProfile:
        autocorrelation = data.get("autocorrelation")
        return cls(
            descriptive=_known(Descriptive, data["descriptive"]),
            order=_known(OrderTest, data["order"]),
            model_order=_known(ModelOrderTest, data["model_order"]),
            samples=_known(SampleOrderCheck, data["samples"]),
            recommendation=_known(Recommendation, data["recommendation"]),
            seconds=float(data["seconds"]),
            autocorrelation=None if autocorrelation is None else _known(AutocorrelationTest, autocorrelation),
        )

    @classmethod
    def from_json(cls, text_or_path: str | Path) -> DataProfile:
        text = str(text_or_path)
        if not text.lstrip().startswith("{"):
            text = Path(text_or_path).read_text()
        return cls.from_dict(json.loads(text))

    def summary(self) -> str:
        d, r = self.descriptive, self.recommendation
        length = (
            f"length {d.max_length}"
            if not d.variable_length
            else (f"lengths {d.min_length}–{d.max_length} (median {d.median_length})")
        )
        lines = [
            f"Profile of {d.name!r}: {d.n_samples} samples × {d.n_channels} channel(s), {length}, task {d.task}",
        ]
        if d.classes and d.class_counts:
            lines.append("  classes: " + ", ".join(f"{c}: {n}" for c, n in zip(d.classes, d.class_counts, strict=True)))
        lines.append(
            f"  split: {d.n_train} train / {d.n_test} test"
            if d.n_test
            else f"  samples: {d.n_train} (no official split)"
        )
        lines.append(f"\nRecommendation: {r.family}  (confidence {r.confidence_label}, {r.confidence:.2f})")
        lines += [f"  - {reason}" for reason in r.reasons]
        if r.hints:
            lines.append("  search hints: " + "; ".join(f"{k} {v}" for k, v in r.hints.items()))
        lines += [f"  caveat: {c}" for c in r.caveats]
        lines += [f"  WARNING: {w}" for w in r.warnings]
        lines.append(f"\n(profiled in {self.seconds:.1f} s)")
        return "\n".join(lines)


def count_duplicates(rows: np.ndarray, prefix: int = 4096) -> int:
    """Rows that repeat an earlier row exactly: rows are grouped by a hash of their first
    ``prefix`` values, and only rows that share one are hashed in full. Linear in the data read
    (distinct rows rarely share their start), where ``np.unique(axis=0)`` sorts whole rows
    (1.4 s on 20 rows of 200,000)."""

    def digest(values: np.ndarray) -> bytes:
        return hashlib.blake2b(np.ascontiguousarray(values).tobytes(), digest_size=16).digest()

    groups: dict[bytes, list[int]] = {}
    for i, row in enumerate(rows):
        groups.setdefault(digest(row[:prefix]), []).append(i)
    shared = [members for members in groups.values() if len(members) > 1]
    return sum(len(members) - len({digest(rows[i]) for i in members}) for members in shared)


def describe(ds: Dataset) -> Descriptive:
    n_test = int(ds.is_test.sum()) if ds.has_official_split and ds.is_test is not None else 0
    counts = None
    if ds.classes is not None:
        labels = ds.y[ds.y != IGNORE_INDEX].ravel()
        counts = np.bincount(labels, minlength=ds.n_classes).tolist()
    if ds.variable_length:
        masked = np.where(ds.mask()[:, None, :], ds.X, np.nan)
        channel_mean, channel_std = np.nanmean(masked, axis=(0, 2)), np.nanstd(masked, axis=(0, 2))
        constant = 0
    else:  # one pass each, no copy: the profile's budget holds on long, wide data too
        channel_mean = ds.X.mean(axis=(0, 2), dtype=np.float64)
        channel_std = ds.X.std(axis=(0, 2), dtype=np.float64)
        constant = int((ds.X.max(axis=0) == ds.X.min(axis=0)).sum())
    duplicates = count_duplicates(ds.flat())
    return Descriptive(
        name=ds.name,
        source=ds.source,
        n_samples=ds.n_samples,
        n_train=ds.n_samples - n_test,
        n_test=n_test,
        n_channels=ds.n_channels,
        min_length=int(ds.lengths.min()),
        median_length=int(np.median(ds.lengths)),
        max_length=int(ds.lengths.max()),
        variable_length=ds.variable_length,
        task=ds.task,
        classes=list(ds.classes) if ds.classes is not None else None,
        class_counts=counts,
        n_static=ds.n_static,
        declared_order=ds.order,
        channel_mean=channel_mean.round(6).tolist(),
        channel_std=channel_std.round(6).tolist(),
        duplicates=duplicates,
        constant_positions=constant,
        notes=list(ds.notes),
    )


MODEL_FREE_SECONDS = 10.0  # a budget this large lets the model-free tests read all MAX_VALUES values


def model_free_values(budget_s: float) -> int:
    """How many values the model-free tests read: MAX_VALUES (about a second on two cores) from a
    budget of MODEL_FREE_SECONDS up, proportionally fewer below, and never under 1/8 of it."""
    share = min(1.0, max(0.125, budget_s / MODEL_FREE_SECONDS))
    return int(MAX_VALUES * share)


def profile(
    dataset: Dataset,
    *,
    model_test: bool = True,
    budget_s: float = 30.0,
    permutations: int = 3,
    n_permutations: int = 999,
    seed: int = 0,
) -> DataProfile:
    """Profile a dataset and recommend ``mlp``, ``conv1d`` or ``hybrid``, with evidence.

    The model-free tests take well under a second; the model-based probe is sized to
    what is left of ``budget_s`` before it starts (``model_test=False`` skips it).

    >>> p = workbench.profile(workbench.load("GunPoint"))  # doctest: +SKIP
    >>> p.recommendation.family  # doctest: +SKIP
    'conv1d'
    """
    with interruptible("the profile stopped; nothing was written."):
        start = time.perf_counter()
        descriptive = describe(dataset)
        safe_point()  # safe points: between the steps (and inside the long ones)
        values = model_free_values(budget_s if model_test else MODEL_FREE_SECONDS)
        autocorrelation = autocorrelation_test(dataset, n_permutations=n_permutations, seed=seed, max_values=values)
        safe_point()
        order = order_test(dataset, n_permutations=n_permutations, seed=seed, max_values=values)
        safe_point()
        samples = sample_order_check(dataset, seed=seed)
        safe_point()
        if model_test:
            left = budget_s - (time.perf_counter() - start)
            model = model_order_test(dataset, budget_s=left, permutations=permutations, seed=seed)
        else:
            model = ModelOrderTest(skipped="turned off by the caller (model_test=False)")
        rec = recommend(descriptive, order, model, samples, autocorrelation)
    return DataProfile(
        descriptive, order, model, samples, rec, seconds=time.perf_counter() - start, autocorrelation=autocorrelation
    )
