"""Memory of windowing one long recording: ``workbench.windows`` against the stacked copy
users write by hand.

A recording of 10⁷ steps × 8 channels is windowed (64 steps, step 16: four windows
cover each step). Peak memory allocated during the call (tracemalloc, which numpy
reports its buffers to) is given as a multiple of the float32 recording's size:

- ``windows``, float32 input: a strided view, no copy of the values;
- ``windows``, float64 input: the one float32 copy;
- ``from_frame(window=)``: the one float32 copy out of the DataFrame;
- ``np.stack`` of the slices (the baseline): size/step copies of the recording;
- then the time-ordered ``split``: each part a run of windows, still a view.

Cases are interleaved over the repeats (medians reported); each allocation is freed
before the next. Time is wall time of the call.

    .venv/bin/python benchmarks/window_memory.py [--steps 10000000] [--channels 8] [--repeats 3]
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

import workbench as wb

SIZE, STEP = 64, 16


def measure(make: Callable[[], Any]) -> tuple[float, float, Any]:
    """(peak bytes allocated during ``make``, seconds, its result)."""
    gc.collect()
    tracemalloc.reset_peak()
    before = tracemalloc.get_traced_memory()[0]
    start = time.perf_counter()
    result = make()
    seconds = time.perf_counter() - start
    return tracemalloc.get_traced_memory()[1] - before, seconds, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=10_000_000)
    parser.add_argument("--channels", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    X32 = rng.standard_normal((args.steps, args.channels), dtype=np.float32)
    X64 = X32.astype(np.float64)
    y = (np.arange(args.steps) // 5000) % 4
    frame = pd.DataFrame(X32, columns=[f"s{i}" for i in range(args.channels)]).assign(label=y)
    recording = X32.nbytes
    starts = np.arange(0, args.steps - SIZE + 1, STEP)

    cases: dict[str, Callable[[], Any]] = {
        "windows, float32 input": lambda: wb.windows(X32, y, size=SIZE, step=STEP),
        "windows, float64 input": lambda: wb.windows(X64, y, size=SIZE, step=STEP),
        "from_frame(window=)": lambda: wb.from_frame(frame, target="label", window=SIZE, step=STEP),
        "baseline: np.stack of slices": lambda: np.stack([X32[s : s + SIZE].T for s in starts]),
    }
    peaks: dict[str, list[float]] = {name: [] for name in cases}
    times: dict[str, list[float]] = {name: [] for name in cases}
    tracemalloc.start()
    split_peak = 0.0
    for _ in range(args.repeats):
        for name, make in cases.items():  # interleaved: each repeat runs every case once
            peak, seconds, result = measure(make)
            peaks[name].append(peak)
            times[name].append(seconds)
            if name == "windows, float32 input":
                split_peak, _, parts = measure(lambda ds=result: ds.split(0.25))
                del parts
            del result
    tracemalloc.stop()

    print(
        f"recording: {args.steps:,} steps × {args.channels} channels, float32 {recording / 2**20:,.0f} MiB; "
        f"windows of {SIZE}, step {STEP} ({len(starts):,} windows); median of {args.repeats} repeats"
    )
    print(f"{'case':<32} {'peak MiB':>10} {'× recording':>12} {'seconds':>8}")
    for name in cases:
        peak = statistics.median(peaks[name])
        print(f"{name:<32} {peak / 2**20:>10,.0f} {peak / recording:>12.2f} {statistics.median(times[name]):>8.2f}")
    print(
        f"{'then ds.split(0.25)':<32} {split_peak / 2**20:>10,.0f} {split_peak / recording:>12.2f}"
        "   (time-ordered parts of one recording stay views; training materialises them)"
    )


if __name__ == "__main__":
    main()
