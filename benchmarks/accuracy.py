"""Final test accuracy of each family after one fixed CPU budget, beside published figures.

For every built-in classification dataset (official train/test splits of UCR/UEA
datasets shipped in aeon), runs a study of the three families and the baselines
(MiniRocket among them, in the same process) with the same budget per family, then
the evaluation over seeds on the official test split, and prints per family:

- test accuracy, mean and 95% CI over the seeds;
- the first trial's validation score (the family's proven default #1) against the
  family's best validation score, as a share;
- wall time (the family's study plus its evaluation).

The published deep models (``../shared/reference/published_accuracy.csv``) trained for
thousands of GPU epochs; the budget used here is printed beside every row.

    .venv/bin/python benchmarks/accuracy.py [--trials 8] [--time-s 90] [--seeds 5] [--datasets GunPoint ...]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import pandas as pd
from optuna.trial import TrialState

from workbench.candidates import DEEP_FAMILIES
from workbench.config import make_config
from workbench.study import attrs, evaluate, run_study
from workbench.study.budget import trial_seconds

REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference" / "published_accuracy.csv"
DATASETS = (
    "GunPoint",
    "ArrowHead",
    "ItalyPowerDemand",
    "OSULeaf",
    "ACSF1",
    "BasicMotions",
    "JapaneseVowels",
    "PickupGestureWiimoteZ",
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=8, help="at most this many trials per family")
    parser.add_argument("--time-s", type=float, default=90.0, help="and at most this much trial time per family")
    parser.add_argument(
        "--max-epochs",
        type=int,
        default=None,
        help="upper bound (default: the workbench's, 60 passes lengthened to min_steps)",
    )
    parser.add_argument(
        "--stop-when-done",
        action="store_true",
        help="let the stopping rule end a family's search early (default: every trial of the budget, as in the README)",
    )
    parser.add_argument(
        "--cost-cap",
        type=float,
        default=None,
        help="trial_cost_cap: leave sampled configurations costlier than this many defaults untrained "
        "(default: none, every trial of the budget trains, as in the README)",
    )
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument(
        "--replicates",
        choices=["seeds", "folds"],
        default="seeds",
        help="evaluation.replicates: re-train the best configuration over seeds (default, as in the README's "
        "table) or, after a k-fold study, score its fold models",
    )
    parser.add_argument("--reference", default=str(REFERENCE))
    parser.add_argument("--datasets", nargs="*", default=list(DATASETS))
    parser.add_argument("--json", help="also write the rows here")
    args = parser.parse_args()
    budget = f"≤{args.trials} trials or ≤{args.time_s:g} s of trials per family, {args.seeds} seeds"
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for dataset in args.datasets:
            config = make_config(
                {
                    "name": f"acc-{dataset}",
                    "data": dataset,
                    "metric": "acc",
                    "runs_dir": tmp,
                    "budget": {"trials": args.trials, "time_s": args.time_s},
                    "stop_when_done": args.stop_when_done,
                    "trial_cost_cap": args.cost_cap,
                    "max_epochs": args.max_epochs,
                    "patience": 15,
                    "profile_budget_s": 30,
                    "validation": {"strategy": "auto", "repeats": 1},
                    "evaluation": {"top_k": 1, "seeds": args.seeds, "replicates": args.replicates},
                }
            )
            start = time.perf_counter()
            exp = run_study(config, echo=lambda _: None)
            table, verdict = evaluate(exp, echo=lambda _: None)
            total = time.perf_counter() - start
            for f in verdict.families:
                trials = exp.study(f.family).get_trials(deepcopy=False)
                complete = [t for t in trials if t.state == TrialState.COMPLETE and t.value is not None]
                best = max(t.value for t in complete)  # type: ignore[type-var]
                first = next((t for t in trials if attrs.default_number(t) == 1), None)
                first_share = (
                    None
                    if first is None or first.value is None or first.state != TrialState.COMPLETE
                    else first.value / best
                )
                seconds = sum(trial_seconds(t) for t in trials) + float(
                    table.loc[table["family"] == f.family, "seconds"].sum()
                )
                rows.append(
                    {
                        "dataset": dataset,
                        "family": f.family,
                        "deep": f.family in DEEP_FAMILIES,
                        "mean": f.mean,
                        "ci_low": f.ci_low,
                        "ci_high": f.ci_high,
                        "trials": len(complete),
                        "first_val": None if first is None else first.value,
                        "best_val": best,
                        "first_share": first_share,
                        "seconds": seconds,
                        "dataset_minutes": total / 60,
                    }
                )
            rec = exp.profile.recommendation.family if exp.profile else "?"
            print(f"{dataset} ({total / 60:.1f} min): {verdict.statement} (profile: {rec})", flush=True)
            for r in rows:
                if r["dataset"] == dataset:
                    share = "–" if r["first_share"] is None else f"{100 * r['first_share']:.0f}%"
                    print(
                        f"  {r['family']:<10} {100 * r['mean']:.1f} [{100 * r['ci_low']:.1f}, {100 * r['ci_high']:.1f}]"
                        f"  trials {r['trials']}  default #1 at {share} of best val  {r['seconds']:.0f} s",
                        flush=True,
                    )
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    print_table(pd.DataFrame(rows), pd.read_csv(args.reference), budget)


def print_table(ours: pd.DataFrame, published: pd.DataFrame, budget: str) -> None:
    """One markdown row per dataset: each family's test accuracy [CI], first-trial share, seconds,
    beside the published FCN and MLP."""

    def pub(dataset: str, method: str) -> str:
        hit = published[(published["dataset"] == dataset) & (published["method"] == method)]
        return "–" if hit.empty else f"{hit['test_accuracy_pct'].iloc[0]:.1f}"

    families = list(dict.fromkeys(ours["family"]))
    print(f"\nBudget: {budget}; test accuracy % mean [95% CI]; (default #1's share of the best validation score; s)")
    print("| dataset | " + " | ".join(families) + " | FCN (published) | MLP (published) |")
    print("|---|" + "---|" * (len(families) + 2))
    for dataset, part in ours.groupby("dataset", sort=False):
        cells = []
        for family in families:
            hit = part[part["family"] == family]
            if hit.empty:
                cells.append("–")
                continue
            r = hit.iloc[0]
            share = "" if not r["deep"] or r["first_share"] is None else f"{100 * r['first_share']:.0f}%, "
            ci = f"[{100 * r['ci_low']:.1f}, {100 * r['ci_high']:.1f}]"
            cells.append(f"{100 * r['mean']:.1f} {ci} ({share}{r['seconds']:.0f} s)")
        print(f"| {dataset} | " + " | ".join(cells) + f" | {pub(str(dataset), 'FCN')} | {pub(str(dataset), 'MLP')} |")


if __name__ == "__main__":
    main()
