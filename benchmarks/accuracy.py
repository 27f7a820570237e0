"""Final test accuracy of each family after a fixed CPU budget, beside published figures.

For every dataset in ``../shared/reference/published_accuracy.csv`` (official train/test
splits of UCR/UEA datasets shipped in aeon), runs a study of the three families and the
baselines (MiniRocket among them, in the same process) with the same trial budget, then
the evaluation over seeds, and prints our test accuracy (mean and 95% CI) next to the
literature. The published deep models trained for thousands of GPU epochs; the budget
used here is printed beside every row.

    .venv/bin/python benchmarks/accuracy.py [--trials 10] [--max-epochs 100] [--seeds 3]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import pandas as pd

from workbench.config import make_config
from workbench.study import evaluate, run_study

REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference" / "published_accuracy.csv"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--max-epochs", type=int, default=100)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--reference", default=str(REFERENCE))
    parser.add_argument("--datasets", nargs="*", help="a subset of the reference's datasets")
    args = parser.parse_args()
    published = pd.read_csv(args.reference)
    if args.datasets:
        published = published[published["dataset"].isin(args.datasets)]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for dataset in published["dataset"].unique():
            config = make_config(
                {
                    "name": f"acc-{dataset}",
                    "data": dataset,
                    "metric": "acc",
                    "runs_dir": tmp,
                    "budget": {"trials": args.trials},
                    "max_epochs": args.max_epochs,
                    "patience": 20,
                    "profile_budget_s": 30,
                    "evaluation": {"top_k": 1, "seeds": args.seeds},
                }
            )
            start = time.perf_counter()
            exp = run_study(config, echo=lambda _: None)
            _, verdict = evaluate(exp, echo=lambda _: None)
            minutes = (time.perf_counter() - start) / 60
            for f in verdict.families:
                rows.append(
                    {
                        "dataset": dataset,
                        "method": f"workbench {f.family}",
                        "test_accuracy_pct": f"{100 * f.mean:.1f} [{100 * f.ci_low:.1f}, {100 * f.ci_high:.1f}]",
                        "budget": f"{args.trials} trials × ≤{args.max_epochs} epochs, {args.seeds} seeds, "
                        f"{minutes:.0f} min total on CPU",
                    }
                )
            rec = exp.profile.recommendation.family if exp.profile else "?"
            print(f"{dataset}: {verdict.statement} (profile: {rec})", flush=True)
            for f in verdict.families:
                print(f"  {f.family}: {100 * f.mean:.1f} [{100 * f.ci_low:.1f}, {100 * f.ci_high:.1f}]", flush=True)
    ours = pd.DataFrame(rows)
    ref = published.assign(
        test_accuracy_pct=published["test_accuracy_pct"].map(lambda v: f"{v:.1f}"), budget=published["notes"].fillna("")
    )[["dataset", "method", "test_accuracy_pct", "budget"]]
    table = pd.concat([ours, ref.assign(method=ref["method"] + " (published)")]).sort_values(["dataset", "method"])
    print()
    print("| " + " | ".join(table.columns) + " |")
    print("|" + "---|" * len(table.columns))
    for row in table.itertuples(index=False):
        print("| " + " | ".join(str(v) for v in row) + " |")


if __name__ == "__main__":
    main()
