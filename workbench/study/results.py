"""Results as DataFrames, rebuilt from the storage alone: all trials, best per family,
final evaluation; written to ``runs/<experiment>/``."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from optuna.trial import TrialState

from workbench.files import write_atomically
from workbench.study import attrs
from workbench.study.attrs import ATTR_EVALUATION
from workbench.study.budget import trial_epochs, trial_seconds
from workbench.study.experiment import StoredExperiment as Experiment


def trials_frame(exp: Experiment) -> pd.DataFrame:
    """Every trial of every family (overflow placeholders left out), parameters as columns."""
    rows = []
    for family in exp.families:
        for t in exp.study(family).get_trials(deepcopy=False):
            if attrs.overflow(t):
                continue
            failure = attrs.failure(t)
            rows.append(
                {
                    "family": family,
                    "trial": t.number,
                    "state": t.state.name,
                    "origin": attrs.origin(t),
                    "value": t.value,
                    "epochs": trial_epochs(t),
                    "seconds": trial_seconds(t),
                    "stop_reason": attrs.outcome(t).get(
                        "stop_reason", "pruned" if t.state == TrialState.PRUNED else None
                    ),
                    "failure": failure.strip().splitlines()[-1] if failure else None,  # the exception line
                    "params": json.dumps(t.params, sort_keys=True),
                    **{f"param_{k}": v for k, v in t.params.items()},
                }
            )
    return pd.DataFrame(rows)


def best_frame(exp: Experiment, trials: pd.DataFrame | None = None) -> pd.DataFrame:
    """The best complete trial of each family (``trials`` from :func:`trials_frame`, if already read)."""
    trials = trials_frame(exp) if trials is None else trials
    if trials.empty:
        return trials
    complete = trials[trials["state"] == "COMPLETE"]
    ascending = not exp.maximize
    return (
        complete.sort_values("value", ascending=ascending).groupby("family", sort=False).head(1).reset_index(drop=True)
    )


def evaluation_frame(exp: Experiment) -> pd.DataFrame:
    return pd.DataFrame(exp.meta().user_attrs.get(ATTR_EVALUATION, []))


def write_results(exp: Experiment) -> Path:
    """``results.parquet`` (the final evaluation), ``trials.parquet`` and ``best.parquet``."""
    run_dir = exp.config.run_dir
    trials = trials_frame(exp)
    best = best_frame(exp, trials)
    param_columns = [c for c in trials.columns if c.startswith("param_")]  # the JSON "params" column keeps them
    frames = {
        "trials.parquet": trials.drop(columns=param_columns),
        "best.parquet": best.drop(columns=param_columns, errors="ignore"),
        "results.parquet": evaluation_frame(exp),
    }
    for name, frame in frames.items():
        write_atomically(run_dir / name, frame.to_parquet)
    return run_dir / "results.parquet"
