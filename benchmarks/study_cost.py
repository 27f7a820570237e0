"""What a default study costs, beside the plain script users write today.

For each dataset, in the same run and on the same machine: ``workbench study <dataset>`` as a
user types it (no flags: every family and baseline, the default budget, validation and
evaluation; ``--mode full`` adds ``--full-budget``, ``--mode time`` adds ``--time 5m``), and
``../shared/peers/naive_study.py <dataset> 20 100`` (20 trials × 100 epochs, one 75/25 split).
Reported per dataset: the wall times and their ratio; where the workbench's time went (profile,
each family's trials with folds, epochs and summed trial seconds, and the sampled configurations
left untrained as too costly, baselines, evaluation), read
back from the experiment's storage; and the test accuracy of the workbench's best family (mean
over the evaluation's seeds) against the script's best-validation trial. The script cannot
stack variable-length data: it fails on those datasets, and the ratio is left out.

``--compare-folds`` then evaluates the same stored study a second time by its folds
(``workbench evaluate NAME --replicates folds``: the best trial's kept fold models scored on the
test split, baselines re-fitted per fold) and prints both evaluations' test scores and wall times.

    .venv/bin/python benchmarks/study_cost.py [--datasets GunPoint ...] [--mode default|full|time]
        [--compare-folds] [--json out.json]

Run it alone on the machine.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import optuna
from accuracy import DATASETS  # the built-in classification datasets, one list for both
from optuna.trial import TrialState

PEER = Path(__file__).resolve().parents[2] / "shared" / "peers" / "naive_study.py"
MODES = {"default": [], "full": ["--full-budget"], "time": ["--time", "5m"]}


def run_script(dataset: str) -> dict[str, Any]:
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, str(PEER), dataset, "20", "100"], capture_output=True, text=True, check=False
    )
    wall = time.perf_counter() - start
    found = re.search(r"best val ([\d.]+) test ([\d.]+)", done.stdout)
    if done.returncode or not found:
        last = (done.stderr.strip().splitlines() or ["?"])[-1]
        return {"seconds": round(wall, 1), "failed": last[:100]}
    return {"seconds": round(wall, 1), "val": float(found.group(1)), "test_acc": float(found.group(2))}


def run_workbench(dataset: str, mode: str, folder: Path, compare_folds: bool = False) -> dict[str, Any]:
    name = f"cost-{mode}-{dataset}"
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "workbench.cli", "study", dataset, "--name", name, "--runs-dir", str(folder)]
        + MODES[mode],
        capture_output=True,
        text=True,
        check=False,
    )
    ended = time.time()
    wall = time.perf_counter() - start
    if done.returncode:
        return {"seconds": round(wall, 1), "failed": (done.stderr.strip().splitlines() or ["?"])[-1][:200]}
    figures = {"seconds": round(wall, 1), **breakdown(name, folder, ended)}
    if compare_folds:
        figures["by_folds"] = evaluate_by_folds(name, folder)
    return figures


def evaluate_by_folds(name: str, folder: Path) -> dict[str, Any]:
    """The stored study evaluated again by its folds (after the run)."""
    from workbench.study import evaluate
    from workbench.study.experiment import open_experiment

    exp = open_experiment(name, f"sqlite:///{folder / name / 'study.db'}", echo=lambda _: None)
    start = time.perf_counter()
    _, verdict = evaluate(exp, replicates="folds", workers="auto", echo=lambda _: None)
    return {
        "seconds": round(time.perf_counter() - start, 1),
        "best": verdict.best,
        "scores": {
            f.family: {"mean": round(f.mean, 4), "ci": [round(f.ci_low, 4), round(f.ci_high, 4)]}
            for f in verdict.families
        },
    }


def breakdown(name: str, folder: Path, ended: float) -> dict[str, Any]:
    """Where the time went, from the storage: profile, each family's trials, the evaluation."""
    from workbench.study import attrs
    from workbench.study.budget import trial_seconds
    from workbench.study.evaluate import stored_verdict
    from workbench.study.experiment import read_experiment

    exp = read_experiment(name, f"sqlite:///{folder / name / 'study.db'}")
    folds = exp.validation.get("folds", 1)
    families: dict[str, Any] = {}
    last_trial = 0.0
    for family in exp.families:
        trials = [t for t in exp.study(family).get_trials(deepcopy=False) if t.state.is_finished()]
        ran = [t for t in trials if trial_seconds(t) > 0 and not attrs.too_costly(t)]
        if ran:
            last_trial = max(last_trial, max(t.datetime_complete.timestamp() for t in ran))  # type: ignore[union-attr]
        families[family] = {
            "trials": len(ran),
            "pruned": sum(t.state == TrialState.PRUNED for t in ran),
            "too_costly": sum(attrs.too_costly(t) for t in trials),  # sampled, not trained (trial_cost_cap)
            "folds": folds,
            "epochs": sum(int((t.user_attrs.get(attrs.OUTCOME) or {}).get("epochs") or 0) for t in ran),
            "seconds": round(sum(trial_seconds(t) for t in ran), 1),
            "stopped": exp.study(family).user_attrs.get(attrs.ATTR_STOPPED),
        }
    verdict = stored_verdict(exp)
    table = exp.meta().user_attrs.get("evaluation") or []
    best = verdict.best if verdict else None
    best_acc = [row.get("test_acc", np.nan) for row in table if row["family"] == best]
    scores = {
        f.family: {"mean": round(f.mean, 4), "ci": [round(f.ci_low, 4), round(f.ci_high, 4)]}
        for f in (verdict.families if verdict else [])
    }
    return {
        "profile_s": round(exp.profile.seconds, 1) if exp.profile else None,
        "families": families,
        "evaluation_s": round(ended - last_trial, 1) if last_trial else None,  # None: no trial ran
        "best": best,
        "best_test_acc": round(float(np.mean(best_acc)), 4) if best_acc else None,
        "best_test_bal_acc": round(verdict.families[0].mean, 4) if verdict and verdict.families else None,
        "scores": scores,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="+", default=DATASETS)
    parser.add_argument("--mode", choices=list(MODES), default="default")
    parser.add_argument("--no-script", action="store_true", help="leave out the plain script (e.g. for --mode full)")
    parser.add_argument("--compare-folds", action="store_true", help="evaluate each study again by its folds")
    parser.add_argument("--json", help="also write the figures as JSON here")
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    folder = Path(tempfile.mkdtemp(prefix="study-cost-"))
    results = []
    for i, dataset in enumerate(args.datasets):
        # The two alternate which goes first, so that neither always runs on a warmer machine.
        script = None
        if not args.no_script and i % 2 == 0:
            script = run_script(dataset)
        bench = run_workbench(dataset, args.mode, folder, args.compare_folds)
        if not args.no_script and i % 2 == 1:
            script = run_script(dataset)
        results.append({"dataset": dataset, "mode": args.mode, "workbench": bench, "script": script})
        print(json.dumps(results[-1]), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    print_tables(results)
    if args.compare_folds:
        print_comparison(results)


def print_comparison(results: list[dict[str, Any]]) -> None:
    print(
        "\n| dataset | family | re-trained over seeds (the default): test bal_acc [95% CI] | by the study's folds | "
        "evaluation s (seeds / folds) |"
    )
    print("|---|---|---|---|---|")

    def cell(score: dict[str, Any] | None, best: bool) -> str:
        if score is None:
            return "–"
        mean = f"**{score['mean']:.3f}**" if best else f"{score['mean']:.3f}"
        return f"{mean} [{score['ci'][0]:.3f}, {score['ci'][1]:.3f}]"

    for r in results:
        w = r["workbench"]
        if "failed" in w or "by_folds" not in w:
            continue
        folds = w["by_folds"]
        for i, (family, seeds) in enumerate(w["scores"].items()):
            secs = f"{w['evaluation_s']:.0f} / {folds['seconds']:.0f}" if i == 0 else ""
            print(
                f"| {r['dataset'] if i == 0 else ''} | {family} | {cell(seeds, w['best'] == family)} | "
                f"{cell(folds['scores'].get(family), folds['best'] == family)} | {secs} |"
            )


def print_tables(results: list[dict[str, Any]]) -> None:
    print(
        "\n| dataset | workbench s | script s | ratio | best family: test acc | script: test acc | profile s | "
        "deep families' trials (s) | baselines s | evaluation s |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        w, s = r["workbench"], r["script"] or {}
        if "failed" in w:
            print(f"| {r['dataset']} | failed: {w['failed']} |")
            continue
        ratio = f"{w['seconds'] / s['seconds']:.1f}×" if "test_acc" in s else "–"
        script_acc = f"{s['test_acc']:.3f}" if "test_acc" in s else ("fails" if s else "–")
        fams = w["families"]
        deep = ", ".join(
            f"{f} {v['trials']}{'*' if v['stopped'] else ''}"
            + (f" +{v['too_costly']} untrained" if v.get("too_costly") else "")
            + f" ({v['seconds']:.0f})"
            for f, v in fams.items()
            if f in ("mlp", "conv1d", "hybrid")
        )
        baselines = sum(v["seconds"] for f, v in fams.items() if f not in ("mlp", "conv1d", "hybrid"))
        best = f"{w['best']} {w['best_test_acc']:.3f}" if w["best"] else "no verdict"
        print(
            f"| {r['dataset']} | {w['seconds']:.0f} | {s.get('seconds', '–')} | {ratio} | {best} "
            f"| {script_acc} | {w['profile_s']} | {deep} | {baselines:.0f} | "
            f"{'–' if w['evaluation_s'] is None else format(w['evaluation_s'], '.0f')} |"
        )


if __name__ == "__main__":
    main()
