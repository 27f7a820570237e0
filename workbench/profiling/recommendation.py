"""From measured evidence to a family, a confidence, plain-word reasons and search hints."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from workbench.errors import options
from workbench.profiling.order import AutocorrelationTest, OrderTest
from workbench.profiling.probe import ModelOrderTest
from workbench.profiling.samples import SampleOrderCheck

SMALL_TRAINING_SET = 100
SHORT_SEQUENCES = 32  # median steps below which the probe's pooled kernel features say little
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


def _shape_words(t: AutocorrelationTest) -> str:
    """The dependence's shape in words a user recognises."""
    first = t.acf[0] if t.acf else 0.0
    if t.shape == "periodic":
        return (
            f"neighbours are alike (lag-1 autocorrelation {first:.2f}) and the pattern comes back every "
            f"{t.period} positions, a cycle"
        )
    if t.shape == "oscillating":
        repeat = f" and repeats every {t.period} positions" if t.period else ""
        return (
            "the sequence oscillates: neighbours move in opposite directions "
            f"(lag-1 autocorrelation {first:.2f}){repeat}"
        )
    reach = "the whole window shown" if t.reach is None or t.reach >= len(t.acf) else f"about {t.reach} positions"
    return f"neighbours are alike (lag-1 autocorrelation {first:.2f}) and the dependence fades over {reach}"


def _autocorrelation_reason(t: AutocorrelationTest) -> str:
    if t.inconclusive:
        return f"The within-sequence order test is inconclusive: {t.inconclusive}."
    assert t.statistic is not None
    null_mean = sum(t.null) / len(t.null)
    windows = f" (in contiguous windows of {t.positions_used} positions)" if t.windows > 1 else ""
    if t.significant:
        return (
            f"Inside each sequence{windows}, {_shape_words(t)}. Shuffling the positions destroys this: "
            f"dependence over lags 1–{t.lags} is {t.statistic:.3f} against {null_mean:.3f} for "
            f"{t.n_permutations} random orders (p {_p(t.p_value)}). The data behaves like a real series."
        )
    return (
        f"Inside each sequence, nearby positions are no more alike than in a random order (dependence over lags "
        f"1–{t.lags} {t.statistic:.3f} against {null_mean:.3f}, p {_p(t.p_value)}): the order carries no local "
        "structure a convolution could use."
    )


def _across_reason(t: OrderTest) -> str | None:
    if t.inconclusive or t.statistic is None:
        return None
    null_mean = sum(t.null) / len(t.null)
    if t.significant and t.decays:
        return (
            f"Across samples, neighbouring positions are also correlated (mean |correlation| {t.statistic:.2f} "
            f"against {null_mean:.2f}, p {_p(t.p_value)}): the patterns sit at similar positions in every sample."
        )
    if t.significant:
        return (
            f"Across samples, neighbouring positions correlate (mean |correlation| {t.statistic:.2f} against "
            f"{null_mean:.2f}, p {_p(t.p_value)}), but the correlation does not fall off with distance."
        )
    return (
        f"Across samples, neighbouring positions are no more correlated than random pairs ({t.statistic:.2f} "
        f"against {null_mean:.2f}, p {_p(t.p_value)}), so the patterns are not aligned from sample to sample."
    )


def _model_reason(m: ModelOrderTest) -> str | None:
    if m.skipped:
        return None
    if m.inconclusive:
        return f"The model-based order test is inconclusive: {m.inconclusive}."
    orig = sum(m.original) / len(m.original)
    ref = sum(m.reference) / len(m.reference)
    perm = sum(sum(p) / len(p) for p in m.permuted) / len(m.permuted)
    folds, perms = len(m.original), len(m.permuted[0])
    return (
        f"An order-aware probe ({m.probe}) scored {orig:.3f} {m.metric} against {ref:.3f} for an order-invariant "
        f"{m.reference_name.split(' (')[0]} (paired p {_p(m.advantage_p)}), and {perm:.3f} once the positions were "
        f"shuffled ({perms} random orders; shuffling costs it {m.gain:+.3f}, p {_p(m.p_value)}; {folds} "
        "cross-validation folds)."
    )


def _conv_hints(d: Descriptive, t: AutocorrelationTest) -> dict[str, Any]:
    reach = t.reach if t.reach and t.shape in ("smooth", "periodic") else 7
    largest = max(3, min(d.min_length, 2 * reach + 1, 25))
    kernels = [k for k in (3, 5, 7, 9, 11, 15, 19, 25) if k <= largest] or [1]
    span = max(reach, t.period or 0)
    hints: dict[str, Any] = {
        "kernel_size": kernels,
        "receptive_field": int(min(d.max_length, 4 * span + 1)),
        "dilation_growth": [1, 2] if span > 16 else [1],
        "pooling": ["avgmax", "max"] if d.variable_length else ["avg", "max", "avgmax"],
    }
    if d.task == "per_step":
        hints["head"] = "per_step: 'same' padding and a 1×1 classifier at every position, no pooling"
    return hints


def _decide(series: bool, across: OrderTest, model: ModelOrderTest, table: bool) -> tuple[str, str, str | None]:
    """Family, confidence label and the sentence that explains the weighing."""
    model_ran = bool(model.original) and not model.inconclusive
    if not model_ran:
        if series:
            return (
                "conv1d",
                "medium",
                "The data behaves like a series, and no model-based evidence contradicts it: conv1d.",
            )
        return "mlp", ("medium" if table else "low"), None
    if series and model.beats_reference:
        if model.significant:
            return (
                "conv1d",
                "high",
                (
                    "A real series, an order-aware model that beats order-invariant ones, and an edge that shuffling "
                    "takes away: all three pieces of evidence point to conv1d."
                ),
            )
        return (
            "conv1d",
            "medium",
            (
                "A real series on which the order-aware model beats order-invariant ones; its edge survives "
                "shuffling in part (it also comes from non-linear features that a Conv1d with global pooling "
                "learns too): conv1d, medium confidence."
            ),
        )
    if series and (model.advantage or 0.0) > 0:
        return (
            "conv1d",
            "low",
            (
                "A real series, and the order-aware model is ahead of order-invariant ones "
                f"({model.advantage:+.3f}), but not significantly on this little data: conv1d, with low "
                "confidence; let the study settle it."
            ),
        )
    if series:
        return (
            "mlp",
            "low",
            (
                "The data behaves like a series, yet a linear model on the raw values does at least as well as the "
                "order-aware model: a Linear/MLP model is enough here; low confidence, the study will tell."
            ),
        )
    if across.significant and across.decays and model.beats_reference and model.significant:
        return (
            "conv1d",
            "medium",
            (
                "No dependence inside the sequences, but patterns aligned across samples that an order-aware model "
                "exploits and loses when the positions are shuffled: conv1d."
            ),
        )
    if model.beats_reference:
        return (
            "mlp",
            "medium",
            (
                "The order-aware model beats the linear reference, but it does as well on shuffled orders and the "
                "sequences have no local structure: its edge comes from non-linear features, which an MLP learns too."
            ),
        )
    return "mlp", "high", "Order-invariant models do at least as well: a Linear/MLP model over all features fits."


def _windows_advice(d: Descriptive, samples: SampleOrderCheck) -> str:
    """The exact call that turns the rows into windows, sized from the measured dependence."""
    if d.declared_order != "unknown" or samples.window is None:
        return "Reshape the rows into sequences (windows of consecutive rows) or split by time."
    size = samples.window
    step = max(1, size // 4)
    # A profile is stored and read anywhere (a notebook, the command line, the report): every form.
    return (
        f"The dependence fades after about {samples.dependence_length} rows: cut the rows into windows of {size} "
        f"(they then become samples, and splits hold out later time): "
        f"workbench.windows(X, y, size={size}, step={step}, layout='LC') with X the (rows, features) table and y "
        f"its label per row, or from_frame(df, target=..., {options(window=size, step=step, where='python')}), "
        f"or on the command line {options(window=size, step=step, where='cli')}."
    )


def recommend(
    d: Descriptive,
    order: OrderTest,
    model: ModelOrderTest,
    samples: SampleOrderCheck,
    autocorrelation: AutocorrelationTest | None = None,
) -> Recommendation:
    """Weigh the evidence; each branch says in words why it chose what it chose.

    ``autocorrelation`` (within sequences) is the main model-free evidence; profiles stored before
    it existed are judged on the across-sample ``order`` test alone.
    """
    reasons: list[str] = []
    caveats: list[str] = []
    table = d.declared_order == "unknown"
    if table:
        reasons.append("The data was loaded as a table (layout 'NF'): the order of its features is not known.")
    if autocorrelation is not None:
        reasons.append(_autocorrelation_reason(autocorrelation))
        series = autocorrelation.significant
        inconclusive = autocorrelation.inconclusive
    else:
        series = order.significant and bool(order.decays)
        inconclusive = order.inconclusive
    across = _across_reason(order)
    if across:
        reasons.append(across)
    model_reason = _model_reason(model)
    if model_reason:
        reasons.append(model_reason)
    if model.skipped:
        caveats.append(f"The model-based order test was skipped: {model.skipped}.")
    model_ran = bool(model.original) and not model.inconclusive

    if inconclusive and not model_ran:
        family = "mlp" if table else "conv1d"
        label = "low"
        reasons.append(f"Without conclusive tests, the declared layout decides: {family}.")
    else:
        family, label, why = _decide(series, order, model, table)
        if why:
            reasons.append(why)

    if family == "mlp" and series and model_ran and d.median_length < SHORT_SEQUENCES and not table:
        caveats.append(
            f"The sequences are short (median {d.median_length} steps): a linear model reads every value at its "
            "position at once and is a strong reference here, while the probe's pooled kernel features only count "
            "how often a pattern occurs. A trained Conv1d can still edge past a linear model on such data "
            "(published on short multichannel speech, JapaneseVowels: FCN 99.3% against MLP 97.6%), so the margin "
            "between the families is small either way: the study's comparison decides."
        )
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
        label = "medium" if label == "high" else label
    if inconclusive:
        caveats.append(f"Order test: {inconclusive}.")

    warnings: list[str] = []
    if samples.dependent and samples.statistic is not None:
        null_mean = sum(samples.null) / len(samples.null)
        warnings.append(
            f"Consecutive rows depend on each other (rows {samples.lag} apart correlate at {samples.statistic:.2f} on "
            f"average, against {null_mean:.2f} when shuffled, p {_p(samples.p_value)}): they look like time steps of "
            "one process, not independent "
            "samples. A random train/test split would put neighbours on both sides and leak. "
            + _windows_advice(d, samples)
        )
    if d.duplicates:
        warnings.append(
            f"{d.duplicates} sample(s) are exact duplicates of another; they can sit on both sides of a split."
        )
    if d.constant_positions:
        warnings.append(f"{d.constant_positions} position(s) are constant across all samples and carry no information.")

    hints: dict[str, Any] = {}
    if family in ("conv1d", "hybrid"):
        hints = _conv_hints(d, autocorrelation or AutocorrelationTest())
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
