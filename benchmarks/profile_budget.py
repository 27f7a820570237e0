"""Does ``workbench.profile`` keep its budget on every shape of data?

Each shape (many samples, very long sequences, many channels, long and wide) is
profiled with each budget; the wall time of the call (shapes and budgets interleaved over the
repeats, medians) and, in a separate pass, the memory it allocated with the largest budget
(tracemalloc: numpy's buffers, which dominate) are reported with the probe's samples and
positions. The data is made before timing. Run it alone on the machine.

    .venv/bin/python benchmarks/profile_budget.py [--budgets 5 30] [--repeats 3]
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
import tracemalloc

import numpy as np

import workbench as wb

SHAPES = {  # name: (samples, channels, length)
    "many samples": (30_000, 1, 500),
    "long sequences": (20, 1, 200_000),
    "many channels": (300, 256, 128),
    "long and wide": (100, 16, 20_000),
}


def dataset(n: int, c: int, length: int) -> wb.Dataset:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, n)
    x = np.cumsum(rng.standard_normal((n, c, length), dtype=np.float32), axis=2)  # random walks: a real series
    x += y[:, None, None] * np.sin(np.linspace(0, 20, length, dtype=np.float32))
    return wb.from_array(x, y, layout="NCL")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--budgets", type=float, nargs="+", default=[5.0, 30.0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    data = {name: dataset(*shape) for name, shape in SHAPES.items()}
    results: dict[tuple[str, float], list[tuple[float, wb.DataProfile]]] = {}
    for _ in range(args.repeats):
        for name, ds in data.items():
            for budget in args.budgets:
                start = time.perf_counter()
                p = wb.profile(ds, budget_s=budget)
                results.setdefault((name, budget), []).append((time.perf_counter() - start, p))
    # Memory in a pass of its own: tracemalloc slows every allocation, which the timings must not see.
    peaks: dict[str, float] = {}
    tracemalloc.start()
    for name, ds in data.items():
        gc.collect()
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        wb.profile(ds, budget_s=max(args.budgets))
        peaks[name] = (tracemalloc.get_traced_memory()[1] - before) / 2**20
    tracemalloc.stop()
    print("| shape (N × C × L) | budget s | seconds (median) | within budget | peak MiB | probe samples × positions |")
    print("|---|---|---|---|---|---|")
    for (name, budget), runs in results.items():
        seconds = statistics.median(r[0] for r in runs)
        model = runs[-1][1].model_order
        probe = f"{model.samples_used} × {model.positions_used}" if model.samples_used else (model.inconclusive or "-")
        n, c, length = SHAPES[name]
        print(
            f"| {name} ({n:,} × {c} × {length:,}) | {budget:g} | {seconds:.1f} | {seconds <= budget} | "
            f"{peaks[name]:,.0f} | {probe[:60]} |"
        )


if __name__ == "__main__":
    main()
