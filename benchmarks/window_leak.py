"""How much a shuffled split of overlapping windows overstates a test score.

A synthetic recording (``workbench.synthetic.recording``: three regimes switching about
every 400 steps, each shifting the channels' means by half a standard deviation under
AR(1) noise with φ = 0.97) is cut into windows of 64 steps, 8 apart. Two splits hold
out 25%: a shuffled, stratified one (what a user's ``train_test_split`` does), and the
workbench's time-ordered one (the end of the recording, after a gap of one window).

Per seed (a new recording each), two models are scored on both splits:

- 1-nearest-neighbour (``workbench.split_leak``): the pure memoriser;
- conv1d with its proven default, trained by ``workbench.fit`` (validation: 25% of the
  training part, split the same way as the test).

Reported: balanced accuracy, median over seeds, and the inflation (shuffled − time-ordered).

    .venv/bin/python benchmarks/window_leak.py [--seeds 3] [--steps 20000] [--max-epochs 30]
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics

import workbench as wb
from workbench.study.defaults import default_configs


def conv1d_scores(ds: wb.Dataset, *, max_epochs: int, seed: int) -> tuple[float, float]:
    """conv1d test balanced accuracy on the shuffled split and on the time-ordered split."""
    scores = []
    for data in (dataclasses.replace(ds, starts=None, groups=None), ds):  # shuffled, then time-ordered
        train, test = data.split(0.25, seed=seed)
        params = default_configs("conv1d", n_train=train.n_samples, length=train.max_length)[0]
        result = wb.fit(train, "conv1d", params, test=test, max_epochs=max_epochs, seed=seed, metric="bal_acc")
        scores.append(float(result.metrics["test_bal_acc"]))
    return scores[0], scores[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=20_000)
    parser.add_argument("--max-epochs", type=int, default=30)
    args = parser.parse_args()
    rows: dict[str, list[tuple[float, float]]] = {"1-NN": [], "conv1d": []}
    for seed in range(args.seeds):
        X, y = wb.synthetic.recording(args.steps, 4, seed=seed)
        ds = wb.windows(X, y, size=64, step=8)
        leak = wb.split_leak(ds, seed=seed)
        rows["1-NN"].append((leak.shuffled, leak.time_ordered))
        rows["conv1d"].append(conv1d_scores(ds, max_epochs=args.max_epochs, seed=seed))
        print(f"seed {seed}: " + ", ".join(f"{m} {v[-1][0]:.3f} / {v[-1][1]:.3f}" for m, v in rows.items()))
    print(
        f"\n{args.steps:,}-step recordings, windows of 64 (step 8), {args.seeds} seeds; test balanced accuracy, "
        "median (3 classes: chance 0.333)"
    )
    print(f"{'model':<8} {'shuffled split':>15} {'time-ordered':>13} {'inflation':>10}")
    for model, pairs in rows.items():
        shuffled = statistics.median(s for s, _ in pairs)
        ordered = statistics.median(t for _, t in pairs)
        print(f"{model:<8} {shuffled:>15.3f} {ordered:>13.3f} {shuffled - ordered:>+10.3f}")


if __name__ == "__main__":
    main()
