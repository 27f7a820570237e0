"""Does the validation strategy change what a study selects? holdout versus auto (k-fold on small data).

On GunPoint (50 training sequences) and a small synthetic set, runs the same study
twice, with ``validation.strategy: holdout`` and with ``auto``, at the same trial
budget, then the usual evaluation over seeds on the untouched test split. For each
family it prints the study's best validation score (what selection saw), the test
score of the selected configuration, and the gap between them.

    .venv/bin/python benchmarks/validation_strategy.py [--trials 20] [--seeds 3] [--max-epochs 60]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

import workbench as wb
from workbench.config import make_config
from workbench.study import evaluate, run_study


def small_synthetic(folder: Path) -> str:
    """60 sequences (45 for training) of a weak local motif: the few-dozen-samples regime."""
    ds = wb.synthetic.ordered_motifs(60, 64, amplitude=1.2, seed=7)
    path = folder / "small_motifs.npz"
    np.savez(path, X=ds.X, y=ds.y)
    return str(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--max-epochs", type=int, default=60)
    parser.add_argument("--families", nargs="*", default=["conv1d", "mlp"])
    args = parser.parse_args()
    print(
        f"# validation_strategy: {', '.join(args.families)}; {args.trials} trials each (same budget for both "
        f"strategies), ≤{args.max_epochs} epochs, final models over {args.seeds} seeds"
    )
    print("\n| dataset | strategy | family | study best val bal_acc | test bal_acc [95% CI] | gap (val − test) | min |")
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        datasets = {"GunPoint": "GunPoint", "small synthetic (45 train)": small_synthetic(Path(tmp))}
        for label, data in datasets.items():
            for strategy in ("holdout", "auto"):
                config = make_config(
                    {
                        "name": f"v-{strategy}-{len(label)}",
                        "data": data,
                        "layout": None if data == "GunPoint" else "NCL",
                        "families": args.families,
                        "baselines": [],
                        "metric": "bal_acc",
                        "runs_dir": tmp,
                        "budget": {"trials": args.trials},
                        "stop_when_done": False,  # the same trials under both strategies
                        "trial_cost_cap": None,
                        "max_epochs": args.max_epochs,
                        "profile_budget_s": 0,
                        "validation": {"strategy": strategy},
                        "evaluation": {"top_k": 1, "seeds": args.seeds},
                    }
                )
                start = time.perf_counter()
                exp = run_study(config, echo=lambda _: None)
                _, verdict = evaluate(exp, echo=lambda _: None)
                minutes = (time.perf_counter() - start) / 60
                plan = exp.data.trial.plan
                shown = strategy if strategy == plan.strategy else f"{strategy} → {plan.strategy}"
                for f in verdict.families:
                    print(
                        f"| {label} | {shown} | {f.family} | {f.study_val:.3f} | {f.mean:.3f} [{f.ci_low:.3f}, "
                        f"{f.ci_high:.3f}] | {f.gap:+.3f} | {minutes:.1f} |",
                        flush=True,
                    )
                if strategy == "auto":
                    print(f"<!-- {label}: {plan.describe()} -->", flush=True)


if __name__ == "__main__":
    main()
