"""Plotly figures, drawn from plain records; the HTML report and notebooks share them."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from workbench.profiling.profile import DataProfile


def _message(text: str) -> go.Figure:
    """A figure that says why there is nothing to draw (an inconclusive or skipped test)."""
    fig = go.Figure()
    fig.add_annotation(text=text, showarrow=False)
    return fig


def order_null_figure(profile: DataProfile) -> go.Figure:
    """Neighbour dependence against its permutation distribution."""
    t = profile.order
    if t.statistic is None:
        return _message(f"Order test inconclusive: {t.inconclusive}")
    fig = go.Figure()
    fig.add_trace(go.Histogram(x=t.null, name="random orders", marker_color="#9aa5b1", nbinsx=40))
    fig.add_vline(x=t.statistic, line_color="#d1495b", line_width=3)
    fig.add_annotation(
        x=t.statistic,
        yref="paper",
        y=1.0,
        text=f"original order<br>p = {t.p_value:.3g}",
        showarrow=False,
        xanchor="left",
        font={"color": "#d1495b"},
    )
    fig.update_layout(
        title="Neighbour dependence: original order vs random orders",
        xaxis_title="mean |correlation| between neighbouring positions",
        yaxis_title="random orders",
        showlegend=False,
        template="plotly_white",
    )
    return fig


def dependence_by_distance_figure(profile: DataProfile) -> go.Figure:
    """Mean |correlation| between positions d apart; where it meets the random-pair level."""
    t = profile.order
    if not t.by_distance:
        return _message(f"Order test inconclusive: {t.inconclusive}")
    fig = go.Figure()
    distances = np.arange(1, len(t.by_distance) + 1)
    fig.add_trace(go.Scatter(x=distances, y=t.by_distance, mode="lines+markers", name="dependence"))
    if t.null_level is not None:
        fig.add_hline(y=t.null_level, line_dash="dash", line_color="#9aa5b1", annotation_text="random pairs")
    if t.correlation_length and t.decays:
        fig.add_vline(x=t.correlation_length, line_dash="dot", annotation_text=f"reach ≈ {t.correlation_length}")
    fig.update_layout(
        title="Dependence by distance along the sequence",
        xaxis_title="distance between positions",
        yaxis_title="mean |correlation|",
        template="plotly_white",
    )
    return fig


def model_order_figure(profile: DataProfile) -> go.Figure:
    """A small Conv1d's validation score on the original vs shuffled orders, seed by seed."""
    m = profile.model_order
    if not m.original:
        return _message(f"Model-based order test: {m.skipped or m.inconclusive}")
    fig = go.Figure()
    seeds = list(range(len(m.original)))
    permuted = [float(np.mean(p)) for p in m.permuted]
    for s in seeds:
        fig.add_trace(
            go.Scatter(
                x=["shuffled orders", "original order"],
                y=[permuted[s], m.original[s]],
                mode="lines+markers",
                line={"color": "#9aa5b1"},
                showlegend=False,
                hovertemplate=f"seed {s}: %{{y:.3f}}",
            )
        )
    fig.update_layout(
        title=f"Conv1d on original vs shuffled positions (paired by seed, p = {m.p_value:.3g})"
        if m.p_value is not None
        else "Conv1d on original vs shuffled positions",
        yaxis_title=f"validation {m.metric}" + (" (lower is better)" if m.metric in ("loss", "rmse", "mae") else ""),
        template="plotly_white",
    )
    return fig


def profile_figures(profile: DataProfile) -> dict[str, go.Figure]:
    return {
        "order_null": order_null_figure(profile),
        "dependence_by_distance": dependence_by_distance_figure(profile),
        "model_order": model_order_figure(profile),
    }
