"""How fast do studies run, and what do pruning and a second worker buy?

On GunPoint (conv1d and mlp families, equal trial budgets), measures

  * trials per minute;
  * the share of wall time spent outside training (storage, sampler, set-up): target ≤ 5%;
  * compute saved by median pruning at equal final quality (epochs trained, best value, test score);
  * the speed-up of 2 worker processes over 1 on this machine.

Runs alternate between the compared settings (interleaved repeats) and report medians.

    .venv/bin/python benchmarks/study_throughput.py [--trials 12] [--repeats 2]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from optuna.trial import TrialState

from workbench.config import make_config
from workbench.models.devices import default_threads
from workbench.study import attrs, evaluate, run_study
from workbench.study.budget import trial_epochs


def run(
    tmp: Path, tag: str, *, trials: int, pruner: str, workers: int, max_epochs: int | None, validation: str
) -> dict[str, Any]:
    # Without --max-epochs: the workbench defaults (max_epochs, early-stopping patience), as users run it.
    training = {} if max_epochs is None else {"max_epochs": max_epochs, "patience": None}
    config = make_config(
        {
            "name": tag,
            "data": "GunPoint",
            "families": ["conv1d", "mlp"],
            "baselines": [],
            "budget": {"trials": trials},
            "stop_when_done": False,  # a fixed number of trials: throughput, not the stopping rule
            "trial_cost_cap": None,  # and every one of them trained
            **training,
            "runs_dir": str(tmp),
            "validation": {"strategy": validation},
            "pruner": {"name": pruner, "n_startup_trials": 3, "n_warmup_steps": 5},
            "profile_budget_s": 0,
            "evaluation": {"top_k": 1, "seeds": 3},
        }
    )
    start = time.perf_counter()
    exp = run_study(config, workers=workers, echo=lambda _: None)
    wall = time.perf_counter() - start
    trials_all = [t for f in exp.families for t in exp.study(f).get_trials()]
    train = sum(attrs.outcome(t).get("train_seconds", 0.0) for t in trials_all)
    epochs = sum(trial_epochs(t) for t in trials_all)
    best = {f: exp.study(f).best_value for f in exp.families}
    return {
        "exp": exp,
        "workers": workers,
        "wall": wall,
        "train": train,
        "epochs": epochs,
        "best": best,
        "n": sum(t.state.is_finished() for t in trials_all),
        "pruned": sum(t.state == TrialState.PRUNED for t in trials_all),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=12, help="trials per family")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--max-epochs", type=int, default=None, help="fixed epochs, no early stopping")
    parser.add_argument(
        "--validation", default="holdout", help="holdout (one fit per trial: the most overhead per epoch) or auto"
    )
    args = parser.parse_args()
    print(
        f"# study_throughput on GunPoint: conv1d + mlp, {args.trials} trials each, "
        f"{'workbench default epochs and patience' if args.max_epochs is None else f'{args.max_epochs} epochs'}, "
        f"validation {args.validation}, "
        f"{default_threads()} cores, {args.repeats} interleaved repeats"
    )
    settings = {
        "1 worker, no pruning": {"pruner": "none", "workers": 1},
        "1 worker, median pruning": {"pruner": "median", "workers": 1},
        "2 workers, no pruning": {"pruner": "none", "workers": 2},
    }
    results: dict[str, list[dict[str, Any]]] = {k: [] for k in settings}
    with tempfile.TemporaryDirectory() as tmp:
        # Untimed warm-up: imports, the dataset cache and first-call costs are paid once, outside the figures.
        run(Path(tmp), "warm-up", trials=2, max_epochs=args.max_epochs, pruner="none", workers=1, validation="holdout")
        for r in range(args.repeats):
            for i, (name, kw) in enumerate(settings.items()):
                results[name].append(
                    run(
                        Path(tmp),
                        f"r{r}s{i}",
                        trials=args.trials,
                        max_epochs=args.max_epochs,
                        validation=args.validation,
                        **kw,  # type: ignore[arg-type]
                    )
                )
        print(
            "\n| setting | trials/min | outside training | epochs trained | best val bal_acc (conv1d, mlp) | pruned |"
        )
        print("|---|---|---|---|---|---|")
        med = {}
        for name, runs in results.items():
            tpm = statistics.median(60 * x["n"] / x["wall"] for x in runs)
            # Workers train in parallel: compare the summed training time with wall time × workers.
            outside = statistics.median(1 - x["train"] / (x["wall"] * x["workers"]) for x in runs)
            epochs = statistics.median(x["epochs"] for x in runs)
            best = [statistics.median(x["best"][f] for x in runs) for f in ("conv1d", "mlp")]
            pruned = statistics.median(x["pruned"] for x in runs)
            med[name] = (tpm, epochs)
            print(
                f"| {name} | {tpm:.1f} | {outside:.1%} | {epochs:.0f} | {best[0]:.3f}, {best[1]:.3f} | {pruned:.0f} |"
            )
        # Equal final quality: the test score of each setting's best configurations, over 3 seeds.
        test = {}
        for name in ("1 worker, no pruning", "1 worker, median pruning"):
            _, verdict = evaluate(results[name][-1]["exp"], echo=lambda _: None)
            test[name] = {f.family: f.mean for f in verdict.families}
        saved = 1 - med["1 worker, median pruning"][1] / med["1 worker, no pruning"][1]
        speedup = med["2 workers, no pruning"][0] / med["1 worker, no pruning"][0]
        without, with_ = test["1 worker, no pruning"], test["1 worker, median pruning"]
        print(
            f"\npruning saved {saved:.0%} of the epochs; test bal_acc of the best configurations "
            f"(3 seeds): without pruning {without}, with pruning {with_}"
        )
        print(f"2 workers vs 1: {speedup:.2f}× the trials per minute")


if __name__ == "__main__":
    main()
