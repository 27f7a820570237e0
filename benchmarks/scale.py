"""Studies at the size of real data, beside the plain loop a user would write instead.

Cases (``workbench.synthetic.local_shapes``: 4 classes told apart by a local shape at a random
position in AR(1) noise, of varying width, amplitude and channel): 2,000, 20,000 and 200,000
sequences of 3 × 256, and 2,000 of 1 × 10,000 (long sequences). Per case, each in a fresh
process, run alone:

- ``profile``: ``workbench profile`` (its wall time);
- ``defaults``: one proven default per deep family and a baseline fit each, as a study's trial
  trains it (the large-data recipe where it applies): time, optimiser steps, test accuracy;
- ``study``: ``workbench study data.npz --layout NCL [--time T]`` as a user types it: wall time,
  the families that trained, the verdict, the best deep family's test accuracy (balanced
  accuracy, which equals accuracy on these balanced classes), and the peak memory summed over
  every process of the study (proportional set sizes, /proc/<pid>/smaps_rollup, sampled every
  0.5 s: pages a memory-mapped file shares count once);
- ``plain``: ``plain_loop.py`` (a three-block FCN, batch 128, AdamW 1e-3, every core) given the
  same wall time as the study, on the same test split: its held-out accuracy when the time is up.

    .venv/bin/python benchmarks/scale.py --cases 20k --limits 10m [--plain] [--defaults] [--json out.json]
    .venv/bin/python benchmarks/scale.py --cases 20k --limits none      # the default study, no flags

Run it alone on the machine: every figure is a wall time on its cores.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

CASES = {
    "2k": (2_000, 3, 256),
    "20k": (20_000, 3, 256),
    "200k": (200_000, 3, 256),
    "long": (2_000, 1, 10_000),
}
HERE = Path(__file__).resolve().parent


def make_data(case: str, folder: Path) -> Path:
    """The case's data as a user would have it: an .npz of X (N, C, L) and y."""
    import workbench as wb

    n, channels, length = CASES[case]
    path = folder / f"shapes-{case}.npz"
    if not path.exists():
        ds = wb.synthetic.local_shapes(n, length, channels=channels, seed=0)
        np.savez(path, X=ds.X, y=ds.y)
    return path


class PeakMemory:
    """The peak of the summed proportional set sizes of a process and all its descendants."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak, self.stop = pid, 0, threading.Event()
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()

    def _sample(self) -> None:
        import psutil

        while not self.stop.is_set():
            try:
                root = psutil.Process(self.pid)
                procs = [root, *root.children(recursive=True)]
            except psutil.Error:
                break
            total = 0
            for p in procs:
                with contextlib.suppress(OSError, ValueError):
                    total += _pss(p.pid)
            self.peak = max(self.peak, total)
            self.stop.wait(0.5)

    def result(self) -> float:
        self.stop.set()
        self.thread.join(timeout=5)
        return round(self.peak / 2**30, 2)


def _pss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1]) * 1024
    return 0


def run_profile(data: Path) -> dict[str, Any]:
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "workbench.cli", "profile", str(data), "--layout", "NCL"],
        capture_output=True,
        text=True,
        check=False,
    )
    recommended = next((line for line in done.stdout.splitlines() if "recommend" in line.lower()), "")
    return {"seconds": round(time.perf_counter() - start, 1), "recommendation": recommended.strip()[:160]}


DEFAULTS_SCRIPT = r"""
import json, sys, time
from workbench.config import make_config
from workbench.study import prepare
from workbench.study.costs import reference_config
from workbench.study.training import Recipe
config = make_config({"name": "defaults", "data": sys.argv[1], "layout": "NCL", "runs_dir": sys.argv[2],
                      "profile_budget_s": 0})
exp = prepare(config, echo=lambda _: None)
fit_part, val = exp.data.trial.fold(0)
rows = {}
for family in exp.families:
    params = reference_config(exp.data, family) or {}
    recipe = Recipe(family, config, exp.metric, large=exp.data.trial.large)
    start = time.perf_counter()
    run = recipe.fit(fit_part, val, exp.data.test, params, 0)
    rows[family] = {"seconds": round(time.perf_counter() - start, 1), "epochs": run.epochs,
                    "test_bal_acc": round(run.metrics.get("test_bal_acc", float("nan")), 4),
                    "notes": list(run.notes)}
print(json.dumps(rows))
"""


def run_defaults(data: Path, folder: Path) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", DEFAULTS_SCRIPT, str(data), str(folder / "defaults-runs")],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        return {"failed": (done.stderr.strip().splitlines() or ["?"])[-1][:200]}
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def run_study(data: Path, limit: str, folder: Path) -> dict[str, Any]:
    name = f"{data.stem}-{limit}"
    cmd = [sys.executable, "-m", "workbench.cli", "study", str(data), "--layout", "NCL", "--name", name]
    cmd += ["--runs-dir", str(folder)] + ([] if limit == "none" else ["--time", limit])
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    memory = PeakMemory(proc.pid)
    out, err = proc.communicate()
    wall = time.perf_counter() - start
    peak = memory.result()
    if proc.returncode:
        return {"seconds": round(wall, 1), "failed": (err.strip().splitlines() or ["?"])[-1][:300]}
    return {"seconds": round(wall, 1), "peak_gib": peak, **outcome(name, folder, out)}


def outcome(name: str, folder: Path, out: str) -> dict[str, Any]:
    """What the study trained and concluded, read back from its storage."""
    from workbench.candidates import CANDIDATES
    from workbench.study import attrs
    from workbench.study.budget import trial_seconds
    from workbench.study.evaluate import stored_verdict
    from workbench.study.experiment import read_experiment

    exp = read_experiment(name, f"sqlite:///{folder / name / 'study.db'}")
    trained = {}
    for family in exp.families:
        ran = [
            t
            for t in exp.study(family).get_trials(deepcopy=False)
            if t.state.is_finished() and trial_seconds(t) > 0 and not attrs.too_costly(t)
        ]
        trained[family] = {"trials": len(ran), "seconds": round(sum(trial_seconds(t) for t in ran), 1)}
    verdict = stored_verdict(exp)
    scores = {f.family: round(f.mean, 4) for f in (verdict.families if verdict else [])}
    deep = {f: s for f, s in scores.items() if CANDIDATES[f].deep}
    best_deep = max(deep, key=deep.__getitem__) if deep else None
    announcement = next((line for line in out.splitlines() if line.startswith("time limit")), "")
    return {
        "trained": trained,
        "every_deep_family_trained": all(
            trained.get(f, {}).get("trials", 0) > 0 for f in exp.families if CANDIDATES[f].deep
        ),
        "verdict": verdict.statement if verdict else None,
        "scores": scores,
        "best_deep": best_deep,
        "best_deep_test": deep.get(best_deep) if best_deep else None,
        "announcement": announcement[:600],
    }


def run_plain(data: Path, seconds: float) -> dict[str, Any]:
    script = (
        f"import json, sys, numpy as np; sys.path.insert(0, {str(HERE)!r}); from plain_loop import plain_loop; "
        "import workbench as wb; d = np.load(sys.argv[1]); "
        "ds = wb.from_array(d['X'], d['y'], layout='NCL'); tr, te = ds.split(0.25, seed=0); "
        "print(json.dumps(plain_loop(tr.X, tr.y, te.X, te.y, float(sys.argv[2]))))"
    )
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", script, str(data), str(seconds)], stdout=subprocess.PIPE, text=True)
    memory = PeakMemory(proc.pid)
    out, _ = proc.communicate()
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    result.pop("curve", None)
    return {**result, "wall_s": round(time.perf_counter() - start, 1), "peak_gib": memory.result()}


def seconds_of(limit: str) -> float:
    from workbench.config import parse_duration

    return parse_duration(limit)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", nargs="+", default=["20k"], choices=list(CASES))
    parser.add_argument("--limits", nargs="+", default=["10m"], help="--time values, or 'none' for the default study")
    parser.add_argument("--plain", action="store_true", help="the plain loop beside each study, for its wall time")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--defaults", action="store_true")
    parser.add_argument("--folder", type=Path, default=None, help="where the data and runs go (default: a temp folder)")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    folder = args.folder or Path(tempfile.mkdtemp(prefix="scale-"))
    folder.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {}
    for case in args.cases:
        data = make_data(case, folder)
        row: dict[str, Any] = {"shape": CASES[case]}
        if args.profile:
            row["profile"] = run_profile(data)
        if args.defaults:
            row["defaults"] = run_defaults(data, folder)
        for limit in args.limits:
            study = run_study(data, limit, folder)
            row[f"study {limit}"] = study
            if args.plain:
                row[f"plain {limit}"] = run_plain(data, study["seconds"])
            print(json.dumps({case: row}, indent=1), flush=True)
        results[case] = row
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
