"""Does a GPU stay busy? Trials per minute, GPU utilisation and memory with 1, 2, 4 and 8
worker processes per GPU.

Each setting runs the same study from scratch: the conv1d family on GunPoint, a fixed number
of trials run in full (``--full-budget``, no pruning, no evaluation), so that trials per
minute compare like with like. While it runs, ``nvidia-smi`` is sampled every 0.5 s for the
device's utilisation and memory; the busy share is the mean utilisation over the study's
trial phase. The settings alternate in order over the repeats (1, 2, 4, 8, then 8, 4, 2, 1),
and the medians are reported with the ratio to one worker.

On a machine without a CUDA GPU it says so and measures nothing (exit 0): the CPU's figures
are ``study_throughput.py``'s.

    .venv/bin/python benchmarks/gpu_throughput.py [--dataset GunPoint] [--trials 16] [--repeats 1]

Run it alone on the machine.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

SETTINGS = [1, 2, 4, 8]


class GpuSampler:
    """Samples utilisation (%) and memory used (MiB) of GPU 0 through nvidia-smi."""

    def __init__(self) -> None:
        self.samples: list[tuple[float, float, float]] = []  # (time, util %, memory MiB)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            out = subprocess.run(
                ["nvidia-smi", "--query-gpu=utilization.gpu,memory.used", "--format=csv,noheader,nounits", "-i", "0"],
                capture_output=True,
                text=True,
                check=False,
            ).stdout.strip()
            if out:
                util, mem = (float(v) for v in out.split(","))
                self.samples.append((time.time(), util, mem))
            self._stop.wait(0.5)

    def __enter__(self) -> GpuSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def between(self, start: float, end: float) -> tuple[float, float]:
        """Mean utilisation and peak memory between two times."""
        inside = [(u, m) for t, u, m in self.samples if start <= t <= end] or [(0.0, 0.0)]
        return statistics.fmean(u for u, _ in inside), max(m for _, m in inside)


def run_setting(dataset: str, trials: int, per_gpu: int, folder: Path) -> dict[str, float]:
    import optuna
    from optuna.trial import TrialState

    name = f"gpu-{per_gpu}-{time.time_ns()}"
    cmd = [sys.executable, "-m", "workbench.cli", "study", dataset, "--name", name, "--runs-dir", str(folder)]
    cmd += ["--families", "conv1d", "--baselines", "", "--trials", str(trials), "--full-budget", "--no-evaluate"]
    cmd += ["--per-gpu", str(per_gpu)]
    with GpuSampler() as gpu:
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"per_gpu={per_gpu}: the study failed:\n{done.stderr[-2000:]}")
    study = optuna.load_study(study_name=f"{name}/conv1d", storage=f"sqlite:///{folder / name / 'study.db'}")
    ran = [t for t in study.get_trials(deepcopy=False) if t.state == TrialState.COMPLETE]
    start = min(t.datetime_start.timestamp() for t in ran)  # type: ignore[union-attr]
    end = max(t.datetime_complete.timestamp() for t in ran)  # type: ignore[union-attr]
    busy, memory = gpu.between(start, end)
    return {"trials_per_min": len(ran) / ((end - start) / 60), "busy": busy, "memory_mib": memory}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="GunPoint")
    parser.add_argument("--trials", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    import torch

    if not torch.cuda.is_available() or shutil.which("nvidia-smi") is None:
        print("no CUDA GPU found (or no nvidia-smi): nothing measured. The CPU figures are study_throughput.py's.")
        return
    out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, check=False).stdout.strip()
    print(f"device: {out.splitlines()[0] if out else torch.cuda.get_device_name(0)}; torch {torch.__version__}")
    folder = Path(tempfile.mkdtemp(prefix="gpu-throughput-"))
    results: dict[int, list[dict[str, float]]] = {n: [] for n in SETTINGS}
    for r in range(args.repeats):
        for per_gpu in SETTINGS if r % 2 == 0 else SETTINGS[::-1]:
            results[per_gpu].append(run_setting(args.dataset, args.trials, per_gpu, folder))
            print(f"per_gpu={per_gpu}: {results[per_gpu][-1]}", flush=True)
    base = statistics.median(x["trials_per_min"] for x in results[1])
    print(f"\n{args.dataset}, conv1d, {args.trials} trials in full, medians of {args.repeats} run(s)\n")
    print("| workers per GPU | trials/min | × one worker | GPU busy % | GPU memory MiB |")
    print("|---|---|---|---|---|")
    for n in SETTINGS:
        tpm = statistics.median(x["trials_per_min"] for x in results[n])
        busy = statistics.median(x["busy"] for x in results[n])
        mem = statistics.median(x["memory_mib"] for x in results[n])
        print(f"| {n} | {tpm:.1f} | {tpm / base:.2f}× | {busy:.0f} | {mem:.0f} |")
    print(f"\n{sys.executable} benchmarks/gpu_throughput.py --dataset {args.dataset} --trials {args.trials}")


if __name__ == "__main__":
    main()
