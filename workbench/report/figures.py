"""Plotly figures, drawn from plain records; the HTML report and notebooks share them."""

from __future__ import annotations

import textwrap

import numpy as np
import optuna
import pandas as pd
import plotly.graph_objects as go
from optuna.trial import FrozenTrial, TrialState

from workbench.models.baselines import quiet_sklearn_parallel
from workbench.models.metrics import VAL, metric_key
from workbench.profiling.data_profile import DataProfile
from workbench.study.attrs import learning_curve
from workbench.study.verdict import Verdict


def _title(text: str) -> dict[str, object]:
    """A title that fits its panel: wrapped onto lines of at most 55 characters at 14 px (the
    report's panels are at least 520 px wide; plotly clips a longer line at the edge)."""
    return {"text": "<br>".join(textwrap.wrap(text, 55)), "font": {"size": 14}}


def _message(text: str) -> go.Figure:
    """A figure that says why there is nothing to draw (an inconclusive or skipped test)."""
    fig = go.Figure()
    fig.add_annotation(text=text, showarrow=False, xref="paper", yref="paper", x=0.5, y=0.5)
    fig.update_layout(xaxis={"visible": False}, yaxis={"visible": False}, template="plotly_white", height=260)
    return fig


def order_null_figure(profile: DataProfile) -> go.Figure:
    """The within-sequence dependence against its permutation distribution (the across-sample
    one for profiles stored before the within-sequence test existed)."""
    t = profile.autocorrelation or profile.order
    within = profile.autocorrelation is not None
    if t.statistic is None:
        return _message(f"Order test inconclusive: {t.inconclusive}")
    fig = go.Figure()
    fig.add_trace(go.Histogram(x=t.null, name="random orders", marker_color="#9aa5b1", nbinsx=40))
    fig.add_vline(x=t.statistic, line_color="#d1495b", line_width=3)
    # The observed value is the point of the chart: the axis spans it and the random orders
    # alike (a vline does not widen plotly's autorange, and it is often far out in the tail).
    low, high = min(min(t.null), t.statistic), max(max(t.null), t.statistic)
    pad = 0.05 * (high - low or 1.0)
    right_end = t.statistic > (low + high) / 2
    fig.add_annotation(
        x=t.statistic,
        yref="paper",
        y=1.0,
        text=f"original order<br>p = {t.p_value:.3g}",
        showarrow=False,
        xanchor="right" if right_end else "left",
        font={"color": "#d1495b"},
    )
    fig.update_xaxes(range=[low - pad, high + pad])
    fig.update_layout(
        title=_title(
            ("Dependence inside each sequence" if within else "Neighbour dependence across samples")
            + ": original order vs random orders"
        ),
        xaxis_title="Σ squared mean autocorrelation over the first lags"
        if within
        else "mean |correlation| between neighbouring positions",
        yaxis_title="random orders",
        showlegend=False,
        template="plotly_white",
    )
    return fig


def autocorrelation_figure(profile: DataProfile) -> go.Figure:
    """Mean autocorrelation inside the sequences by lag, and the band a random order stays in."""
    t = profile.autocorrelation
    if t is None or not t.acf:
        return _message("Within-sequence test: " + (t.inconclusive or "no result" if t else "not in this profile"))
    lags = np.arange(1, len(t.acf) + 1)
    fig = go.Figure()
    fig.add_trace(go.Bar(x=lags, y=t.acf, marker_color="#3d6fb6", name="original order"))
    if t.null_band is not None:
        for level in (t.null_band, -t.null_band):
            fig.add_hline(y=level, line_dash="dash", line_color="#9aa5b1")
    if t.period:
        fig.add_vline(x=t.period, line_dash="dot", annotation_text=f"repeats at {t.period}")
    fig.update_layout(
        title=_title(f"Autocorrelation inside the sequences ({t.shape}); dashed: what a random order reaches"),
        xaxis_title="lag (positions apart)",
        yaxis_title="mean autocorrelation",
        template="plotly_white",
    )
    return fig


def dependence_by_distance_figure(profile: DataProfile) -> go.Figure:
    """Mean |correlation| across samples between positions d apart; where it meets the random-pair level."""
    t = profile.order
    if not t.by_distance:
        return _message(f"Order test inconclusive: {t.inconclusive}")
    fig = go.Figure()
    distances = np.arange(1, len(t.by_distance) + 1) * t.block
    fig.add_trace(go.Scatter(x=distances, y=t.by_distance, mode="lines+markers", name="dependence"))
    if t.null_level is not None:
        fig.add_hline(y=t.null_level, line_dash="dash", line_color="#9aa5b1", annotation_text="random pairs")
    if t.correlation_length and t.decays:
        fig.add_vline(x=t.correlation_length, line_dash="dot", annotation_text=f"reach ≈ {t.correlation_length}")
    fig.update_layout(
        title=_title("Across samples: dependence by distance along the sequence"),
        xaxis_title="distance between positions",
        yaxis_title="mean |correlation| across samples",
        template="plotly_white",
    )
    return fig


def model_order_figure(profile: DataProfile) -> go.Figure:
    """The probe's cross-validated score, fold by fold: order-invariant reference, original order,
    shuffled orders (stored Conv1d-probe profiles: original and shuffled, seed by seed)."""
    m = profile.model_order
    if not m.original or not m.permuted:
        return _message(f"Model-based order test: {m.skipped or m.inconclusive}")
    columns = (
        ["order-invariant reference", "original order", "shuffled orders"]
        if m.reference
        else [
            "original order",
            "shuffled orders",
        ]
    )
    fig = go.Figure()
    for i, original in enumerate(m.original):
        values = [*([m.reference[i]] if m.reference else []), original, float(np.mean(m.permuted[i]))]
        fig.add_trace(
            go.Scatter(
                x=columns,
                y=values,
                mode="lines+markers",
                line={"color": "#9aa5b1"},
                showlegend=False,
                hovertemplate=f"{'fold' if m.reference else 'seed'} {i}: %{{y:.3f}}",
            )
        )
    fig.update_layout(
        title=_title(
            f"{'Probe' if m.reference else 'Conv1d'} on the original vs shuffled positions "
            f"(paired by {'fold' if m.reference else 'seed'}, p = {m.p_value:.3g})"
            if m.p_value is not None
            else "Probe on the original vs shuffled positions"
        ),
        yaxis_title=f"validation {m.metric}" + (" (lower is better)" if m.metric in ("loss", "rmse", "mae") else ""),
        template="plotly_white",
    )
    return fig


def profile_figures(profile: DataProfile) -> dict[str, go.Figure]:
    return {
        "order_null": order_null_figure(profile),
        "autocorrelation": autocorrelation_figure(profile),
        "dependence_by_distance": dependence_by_distance_figure(profile),
        "model_order": model_order_figure(profile),
    }


# --------------------------------------------------------------------------- studies

_WIN, _OTHER = "#2e7d32", "#607d8b"


def verdict_figure(verdict: Verdict) -> go.Figure:
    """Test score per family: mean over seeds with its 95% confidence interval."""
    families = [f.family for f in verdict.families]
    means = [f.mean for f in verdict.families]
    fig = go.Figure(
        go.Scatter(
            x=means,
            y=families,
            mode="markers",
            marker={"size": 12, "color": [_WIN if f == verdict.winner else _OTHER for f in families]},
            error_x={
                "type": "data",
                "symmetric": False,
                "array": [f.ci_high - f.mean for f in verdict.families],
                "arrayminus": [f.mean - f.ci_low for f in verdict.families],
            },
            hovertemplate="%{y}: %{x:.4f}<extra></extra>",
            name="test mean, 95% CI",
        )
    )
    for f in verdict.families:
        if f.study_val is not None:
            fig.add_trace(
                go.Scatter(
                    x=[f.study_val],
                    y=[f.family],
                    mode="markers",
                    marker={"symbol": "x-thin", "size": 10, "line": {"width": 2, "color": "#d1495b"}},
                    name="study validation",
                    showlegend=f is verdict.families[0],
                    hovertemplate=f"{f.family} study validation: %{{x:.4f}}<extra></extra>",
                )
            )
    fig.update_layout(
        title=_title(f"Test {verdict.metric} per family (mean, 95% CI over {verdict.n_seeds} {verdict.replicates})"),
        xaxis_title=f"test {verdict.metric}" + ("" if verdict.maximize else " (lower is better)"),
        yaxis={"autorange": "reversed"},
        template="plotly_white",
        height=120 + 45 * len(families),
    )
    return fig


def history_figure(study: optuna.Study, family: str) -> go.Figure:
    """Each complete trial's value by trial number, and the best so far (Optuna's own plot)."""
    if not study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        return _message(f"{family}: no complete trial yet")
    fig = optuna.visualization.plot_optimization_history(study, target_name="validation")
    fig.update_layout(title=_title(f"{family}: optimisation history"), xaxis_title="trial", template="plotly_white")
    return fig


def importance_figure(study: optuna.Study, family: str) -> go.Figure:
    """Parameter importances over the complete trials (Optuna's own plot): fANOVA, seeded so that
    a report rebuilt from the same storage shows the same bars (Optuna 5's default is PED-ANOVA)."""
    try:
        with quiet_sklearn_parallel():  # fANOVA's random forest
            fig = optuna.visualization.plot_param_importances(
                study, evaluator=optuna.importance.FanovaImportanceEvaluator(seed=0)
            )
    except (RuntimeError, ValueError) as exc:  # too few trials, or no parameter varied
        return _message(f"{family}: importances need more complete trials ({exc})")
    if not fig.data:
        return _message(f"{family}: no parameter varied")
    fig.update_layout(title=_title(f"{family}: parameter importance (fANOVA)"), template="plotly_white")
    return fig


def parallel_figure(study: optuna.Study, family: str) -> go.Figure:
    """Parallel coordinates of the complete trials' parameters and value."""
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if len(complete) < 2:
        return _message(f"{family}: parallel coordinates need two complete trials")
    fig = optuna.visualization.plot_parallel_coordinate(study)
    fig.update_layout(title=_title(f"{family}: parameters of the complete trials"), template="plotly_white")
    return fig


def learning_curves_figure(
    trials: list[FrozenTrial], family: str, metric: str, maximize: bool, k: int = 3
) -> go.Figure:
    """Validation metric by epoch for the best ``k`` complete trials (first fold)."""
    done = [t for t in trials if t.state == TrialState.COMPLETE and t.value is not None]
    done.sort(key=lambda t: float(t.value), reverse=maximize)  # type: ignore[arg-type]
    key = metric_key(VAL, metric)
    fig = go.Figure()
    for t in done[:k]:
        curve = [e[key] for e in learning_curve(t) if key in e]
        if curve:
            fig.add_trace(go.Scatter(y=curve, mode="lines", name=f"trial {t.number}"))
    if not fig.data:
        return _message(f"{family}: no per-epoch history (baselines train in one step)")
    fig.update_layout(
        title=_title(f"{family}: learning curves of the best trials"),
        xaxis_title="epoch",
        yaxis_title=key,
        template="plotly_white",
    )
    return fig


def ranks_figure(ranks: pd.DataFrame) -> go.Figure:
    """Rank of each family (columns) on each dataset (rows); 1 is best."""
    fig = go.Figure(
        go.Heatmap(
            z=ranks.to_numpy(dtype=float),
            x=list(ranks.columns),
            y=list(ranks.index),
            colorscale="Greens_r",
            text=ranks.round(1).astype(str).to_numpy(),
            texttemplate="%{text}",
            colorbar={"title": "rank"},
        )
    )
    fig.update_layout(title=_title("Rank of each family per dataset (1 = best)"), template="plotly_white")
    return fig
