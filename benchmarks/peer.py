"""The plain Optuna + Lightning script users write today, given a fixed wall time per dataset.

Runs ``../shared/peers/naive_study.py`` (Conv1d and MLP, one 75/25 split, TPE, median pruning)
on each dataset with an unbounded trial count under a wall-clock limit, then reads its SQLite
study: the trials it finished and the test accuracy of its best-validation trial. Pass the
workbench's wall time per dataset (``benchmarks/accuracy.py --json``) to compare at equal time.

    .venv/bin/python benchmarks/peer.py --from-json acc.json [--cap-s 300]
    .venv/bin/python benchmarks/peer.py --seconds 120 --datasets GunPoint ArrowHead
"""

from __future__ import annotations

import argparse
import contextlib
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import optuna
from optuna.trial import TrialState

PEER = Path(__file__).resolve().parents[2] / "shared" / "peers" / "naive_study.py"
EPOCHS = 50  # the script's own default


def run_peer(dataset: str, seconds: float, folder: Path) -> dict[str, object]:
    storage = f"sqlite:///{folder / dataset}.db"
    start = time.perf_counter()
    # When the wall time is up the script is killed; its finished trials are in the storage.
    failed = ""
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc = subprocess.run(
            [sys.executable, str(PEER), dataset, "100000", str(EPOCHS), storage],
            timeout=seconds,
            capture_output=True,
            text=True,
            check=False,
        )
        failed = proc.stderr.strip().splitlines()[-1] if proc.returncode and proc.stderr.strip() else ""
    wall = time.perf_counter() - start
    summaries = optuna.get_all_study_summaries(storage)
    if not summaries:  # e.g. variable-length data: the script cannot stack it into one array
        return {"dataset": dataset, "seconds": round(wall, 1), "trials": 0, "failed": failed}
    study = optuna.load_study(study_name=summaries[0].study_name, storage=storage)
    trials = study.get_trials(deepcopy=False)
    done = [t for t in trials if t.state == TrialState.COMPLETE and "test_acc" in t.user_attrs]
    best = max(done, key=lambda t: t.value or 0.0) if done else None
    return {
        "dataset": dataset,
        "seconds": round(wall, 1),
        "trials": len(done),
        "best_val": None if best is None else best.value,
        "test_acc": None if best is None else best.user_attrs["test_acc"],
        "params": None if best is None else best.params,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--from-json", help="benchmarks/accuracy.py --json output: the time per dataset")
    parser.add_argument("--seconds", type=float, default=120.0, help="without --from-json: the time per dataset")
    parser.add_argument("--cap-s", type=float, help="at most this many seconds per dataset")
    parser.add_argument("--datasets", nargs="*")
    args = parser.parse_args()
    budgets: dict[str, float] = {}
    if args.from_json:
        for row in json.loads(Path(args.from_json).read_text()):
            budgets[row["dataset"]] = 60 * row["dataset_minutes"]
    for dataset in args.datasets or []:
        budgets.setdefault(dataset, args.seconds)
    if args.datasets:
        budgets = {d: budgets[d] for d in args.datasets}
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        for dataset, seconds in budgets.items():
            limit = min(seconds, args.cap_s) if args.cap_s else seconds
            row = run_peer(dataset, limit, Path(tmp))
            print(json.dumps({**row, "given_s": round(limit, 1), "workbench_s": round(seconds, 1)}), flush=True)


if __name__ == "__main__":
    main()
