"""From measured evidence to a family, a confidence, plain-word reasons and search hints."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from workbench.profiling.order import ModelOrderTest, OrderTest
from workbench.profiling.samples import SampleOrderCheck

SMALL_TRAINING_SET = 100
CONFIDENCE = {"high": 0.9, "medium": 0.7, "low": 0.5}


@dataclass
class Descriptive:
    """What the data is, before any test."""

    name: str
    source: str
    n_samples: int
    n_train: int
    n_test: int
    n_channels: int
    min_length: int
    median_length: int
    max_length: int
    variable_length: bool
    task: str
    classes: list[str] | None
    class_counts: list[int] | None
    n_static: int
    declared_order: str  # "ordered" or "unknown" (layout NF)
    channel_mean: list[float]
    channel_std: list[float]
    duplicates: int
    constant_positions: int
    notes: list[str] = field(default_factory=list)


@dataclass
class Recommendation:
    family: str
    confidence: float
    confidence_label: str
    reasons: list[str]
    caveats: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    hints: dict[str, Any] = field(default_factory=dict)


def _p(p: float | None) -> str:
    return "n/a" if p is None else ("< 0.001" if p < 0.001 else f"= {p:.3f}")


def _order_reason(t: OrderTest) -> str:
    if t.inconclusive:
        return f"The model-free order test is inconclusive: {t.inconclusive}."
    assert t.statistic is not None and t.null_level is not None
    null_mean = sum(t.null) / len(t.null)
    if t.significant:
        reach = f"; dependence reaches about {t.correlation_length} positions" if t.decays else ""
        shape = (
            "" if t.decays else " (but it does not fall off with distance, as in a grouped table rather than a series)"
        )
        return (
            f"Neighbouring positions are more alike than random pairs: mean |correlation| {t.statistic:.2f} vs "
            f"{null_mean:.2f} over {t.n_permutations} random orders (p {_p(t.p_value)}, effect size "
            f"{t.effect_size:.1f} σ){reach}{shape}."
        )
    return (
        f"Neighbouring positions are no more alike than random pairs (mean |correlation| {t.statistic:.2f} vs "
        f"{null_mean:.2f}, p {_p(t.p_value)}): their order carries no structure a convolution could use."
    )


def _model_reason(m: ModelOrderTest) -> str | None:
    if m.skipped:
        return None
    if m.inconclusive:
        return f"The model-based order test is inconclusive: {m.inconclusive}."
    orig = sum(m.original) / len(m.original)
    perm = sum(sum(p) / len(p) for p in m.permuted) / len(m.permuted)
    n = len(m.original)
    if m.significant:
        return (
            f"A small Conv1d scored {orig:.3f} {m.metric} on the original order vs {perm:.3f} on shuffled orders "
            f"(gain {m.gain:+.3f} over {n} seeds, paired p {_p(m.p_value)}): convolution exploits the order."
        )
    return (
        f"A small Conv1d gained nothing real from the original order: {orig:.3f} {m.metric} vs {perm:.3f} on "
        f"shuffled orders (gain {m.gain:+.3f} over {n} seeds, paired p {_p(m.p_value)})."
    )


def _conv_hints(d: Descriptive, t: OrderTest) -> dict[str, Any]:
    reach = t.correlation_length if t.correlation_length and t.decays else 7
    largest = max(3, min(d.min_length, 2 * reach + 1, 25))
    kernels = [k for k in (3, 5, 7, 9, 11, 15, 19, 25) if k <= largest] or [1]
    hints: dict[str, Any] = {
        "kernel_size": kernels,
        "receptive_field": int(min(d.max_length, 4 * reach + 1)),
        "dilation_growth": [1, 2] if reach > 16 else [1],
        "pooling": ["avgmax", "max"] if d.variable_length else ["avg", "max", "avgmax"],
    }
    if d.task == "per_step":
        hints["head"] = "per_step: 'same' padding and a 1×1 classifier at every position, no pooling"
    return hints


def recommend(d: Descriptive, order: OrderTest, model: ModelOrderTest, samples: SampleOrderCheck) -> Recommendation:
    """Weigh the evidence; each branch says in words why it chose what it chose."""
    reasons: list[str] = []
    caveats: list[str] = []
    if d.declared_order == "unknown":
        reasons.append("The data was loaded as a table (layout 'NF'): the order of its features is not known.")
    reasons.append(_order_reason(order))
    model_reason = _model_reason(model)
    if model_reason:
        reasons.append(model_reason)
    if model.skipped:
        caveats.append(f"The model-based order test was skipped: {model.skipped}.")

    model_ran = model.p_value is not None
    ordered_by_data = order.significant and bool(order.decays)
    strong_gain = model.significant and model.p_value is not None and model.p_value < 0.01
    unsupported = model.significant and not order.significant and (d.declared_order == "unknown" or not strong_gain)
    if unsupported:
        # A gain with no neighbour structure behind it: for a table, an accident of how the columns
        # happen to be listed; for a sequence, a weak result the model-free test does not back.
        family, label = "mlp", "medium"
        reasons.append(
            "The convolution's gain has no neighbour structure behind it, so it rests on how the positions "
            "happen to be listed (or on chance): a Linear/MLP model over all features is the safer choice."
        )
    elif model.significant:
        family, label = "conv1d", "high" if ordered_by_data else "medium"
    elif model_ran and ordered_by_data and (model.gain or 0.0) > 0:
        family, label = "conv1d", "low"
        reasons.append(
            "The data behaves like a real series and the convolution's gain is positive, though not significant "
            f"over {len(model.original)} seeds: conv1d, with low confidence; let the study settle it."
        )
    elif model_ran:
        family, label = "mlp", "medium" if order.significant else "high"
        if order.significant:
            reasons.append(
                "Neighbouring features are correlated, but a convolution gains nothing from their order: "
                "a Linear/MLP model over all features fits."
            )
    elif not order.inconclusive:
        family, label = ("conv1d", "medium") if ordered_by_data else ("mlp", "medium")
    else:
        family = "conv1d" if d.declared_order == "ordered" else "mlp"
        label = "low"
        reasons.append(f"Without conclusive tests, the declared layout decides: {family}.")

    if d.task == "per_step" and family == "mlp" and not model_ran:
        family = "conv1d"
        reasons.append("Per-step labels need a model that keeps the length: a 'same'-padded Conv1d.")
    if d.n_static > 0:
        reasons.append(
            f"The data has {d.n_static} static feature(s) beside the sequences: only the hybrid family reads "
            "both (a Conv1d backbone for the sequence, an MLP branch for the static features)."
        )
        family = "hybrid"
        if label == "high" and not model.significant:
            label = "medium"

    if d.n_train < SMALL_TRAINING_SET:
        caveats.append(
            f"Only {d.n_train} training samples: validation scores are noisy and the tests have little power; "
            "prefer repeated k-fold validation and confidence intervals over a single split."
        )
        label = {"high": "medium", "medium": "low", "low": "low"}[label]
    if order.inconclusive:
        caveats.append(f"Order test: {order.inconclusive}.")

    warnings: list[str] = []
    if samples.dependent and samples.statistic is not None:
        null_mean = sum(samples.null) / len(samples.null)
        warnings.append(
            f"Consecutive rows depend on each other (lag-1 correlation {samples.statistic:.2f} vs {null_mean:.2f} "
            f"when shuffled, p {_p(samples.p_value)}): they look like time steps of one process, not independent "
            "samples. A random train/test split would put neighbours on both sides and leak; reshape the rows into "
            "sequences (windows of consecutive rows) or split by time."
        )
    if d.duplicates:
        warnings.append(
            f"{d.duplicates} sample(s) are exact duplicates of another; they can sit on both sides of a split."
        )
    if d.constant_positions:
        warnings.append(f"{d.constant_positions} position(s) are constant across all samples and carry no information.")

    hints: dict[str, Any] = {}
    if family in ("conv1d", "hybrid"):
        hints = _conv_hints(d, order)
    else:
        hints = {"depth": [0, 1, 2, 3], "note": "depth 0 is a single Linear layer; start there"}
    return Recommendation(
        family=family,
        confidence=CONFIDENCE[label],
        confidence_label=label,
        reasons=reasons,
        caveats=caveats,
        warnings=warnings,
        hints=hints,
    )
