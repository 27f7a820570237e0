"""Leaderboards as styled DataFrames, for notebooks (the HTML report renders the same frames)."""

from __future__ import annotations

import pandas as pd
from pandas.io.formats.style import Styler

from workbench.study.experiment import StoredExperiment as Experiment
from workbench.study.results import trials_frame
from workbench.study.verdict import Verdict


def trials_leaderboard(exp: Experiment, top: int = 20) -> Styler:
    """The best trials of every family, best first, values shaded."""
    frame = trials_frame(exp)
    if frame.empty:
        return frame.style
    frame = frame[frame["state"] == "COMPLETE"].drop(columns=[c for c in frame.columns if c.startswith("param_")])
    frame = frame.sort_values("value", ascending=not exp.maximize).head(top).reset_index(drop=True)
    return (
        frame.style.format({"value": "{:.4f}", "seconds": "{:.1f}"})
        .background_gradient(subset=["value"], cmap="Greens" if exp.maximize else "Greens_r")
        .set_caption(f"{exp.config.name}: best trials (validation {exp.metric})")
    )


def verdict_table(verdict: Verdict) -> Styler:
    """Per family: test mean, 95% CI, the study's validation score and the gap."""
    frame = pd.DataFrame(
        [
            {
                "family": f.family,
                f"test {verdict.metric}": f.mean,
                "95% CI": f"[{f.ci_low:.3f}, {f.ci_high:.3f}]",
                "std": f.std,
                "study validation": f.study_val,
                "gap (val − test)": f.gap,
                "winner": "✓" if f.family == verdict.winner else "",
            }
            for f in verdict.families
        ]
    )
    return frame.style.format(precision=3, na_rep="").set_caption(verdict.statement)
