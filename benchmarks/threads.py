"""Torch threads under contention: how fast a training step is with 1 or 2 intra-op threads, alone
and beside CPU-bound processes, with OpenMP's default (spinning) wait policy and a passive one.

A study's worker used as many threads as cores. With any other CPU-bound process on the
machine (a second notebook, a test run, another worker), threads that spin-wait for each
other fight it for the cores. Each case runs in a fresh interpreter (OpenMP reads its
settings when torch loads): the FCN default (width 32, kernels 8/5/3; ``--width``), length 150
(``--length``), batch 16,
median milliseconds per step (forward, backward, AdamW) over the repeats, interleaved.
The burners are plain processes that multiply matrices with one thread each.

    .venv/bin/python benchmarks/threads.py [--repeats 5] [--steps 200] [--burners 0 1 2] [--length 150 --width 32]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

STEP = r"""
import json, sys, time, torch
from workbench.models.registry import build_model, split_params
from workbench.models.spec import DataSpec
torch.set_num_threads(int(sys.argv[1]))
length, width = int(sys.argv[3]), int(sys.argv[4])
torch.manual_seed(0)
spec = DataSpec(n_channels=1, length=length, min_length=length, task="binary", n_outputs=1)
params = {"channels": width, "depth": 3, "kernels": "shrinking", "widths": "fcn", "kernel_size": 8}
net = build_model("conv1d", split_params("conv1d", params)[0], spec)
opt = torch.optim.AdamW(net.parameters(), lr=1e-3)
x, y = torch.randn(16, 1, length), torch.randint(0, 2, (16,))
def step():
    opt.zero_grad(set_to_none=True)
    torch.nn.functional.binary_cross_entropy_with_logits(net(x).squeeze(1), y.float()).backward()
    opt.step()
for _ in range(30):
    step()
t = time.perf_counter()
for _ in range(int(sys.argv[2])):
    step()
print(json.dumps((time.perf_counter() - t) / int(sys.argv[2]) * 1000))
"""

BURN = "import numpy as np\na = np.random.rand(300, 300)\nwhile True:\n    a @ a"


def run_case(threads: int, passive: bool, burners: int, steps: int, length: int, width: int) -> float:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    burn = [subprocess.Popen([sys.executable, "-c", BURN], env=env) for _ in range(burners)]
    try:
        time.sleep(0.5 if burners else 0)
        case_env = {k: v for k, v in os.environ.items() if not k.startswith("OMP_")}
        if passive:
            case_env["OMP_WAIT_POLICY"] = "PASSIVE"
        out = subprocess.run(
            [sys.executable, "-c", STEP, str(threads), str(steps), str(length), str(width)],
            env=case_env,
            capture_output=True,
            text=True,
        )
        if out.returncode:
            raise RuntimeError(out.stderr)
        return float(json.loads(out.stdout))
    finally:
        for p in burn:
            p.kill()
            p.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--burners", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--length", type=int, default=150, help="sequence length (GunPoint: 150, ACSF1: 1460)")
    parser.add_argument("--width", type=int, default=32, help="the FCN's base width")
    args = parser.parse_args()
    cases = [(t, p, b) for b in args.burners for t in (1, 2) for p in (False, True)]
    times: dict[tuple[int, bool, int], list[float]] = {c: [] for c in cases}
    for _ in range(args.repeats):
        for case in cases:
            times[case].append(run_case(*case, steps=args.steps, length=args.length, width=args.width))
    base = {b: statistics.median(times[(1, False, b)]) for b in args.burners}
    print("| busy processes beside | threads | OpenMP wait policy | ms per step (median) | vs 1 thread, default |")
    print("|---|---|---|---|---|")
    for threads, passive, burners in cases:
        ms = statistics.median(times[(threads, passive, burners)])
        policy = "passive" if passive else "default (spin)"
        print(f"| {burners} | {threads} | {policy} | {ms:.1f} | {base[burners] / ms:.2f}× |")


if __name__ == "__main__":
    main()
