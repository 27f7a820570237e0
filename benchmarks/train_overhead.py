"""Is ``workbench.fit`` (through Lightning) as fast as a hand-written PyTorch loop?

For the same Conv1d and MLP networks on GunPoint and breast_cancer, runs

  (a) the loop a user would write: ``DataLoader(TensorDataset(...), shuffle=True)``,
      zero_grad / forward / loss / backward / clip / step, then a validation pass;
  (b) ``workbench.fit`` with the same network, data, seed, epochs and batch size;

interleaved (a, b, a, b, …) in one process, and reports the median time per
epoch (training + validation) and the ratio b/a. Target: ratio ≤ 1.0.

    .venv/bin/python benchmarks/train_overhead.py [--repeats 5] [--epochs 20]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

import workbench as wb
from workbench.models import DataSpec, build_model, split_params
from workbench.models.devices import choose_accelerator, default_threads

MODELS: dict[str, dict[str, Any]] = {
    "conv1d": {"channels": 32, "depth": 3, "kernel_size": 7, "norm": "batch"},
    "mlp": {"width": 128, "depth": 2, "norm": "none"},
}
BATCH_SIZE = 16


def datasets() -> dict[str, tuple[wb.Dataset, wb.Dataset]]:
    gunpoint_train, gunpoint_test = wb.load("GunPoint").official_split()
    cancer = wb.load("breast_cancer")
    return {"GunPoint": (gunpoint_train, gunpoint_test), "breast_cancer": cancer.split(0.25, seed=0)}


def plain_loop(train: wb.Dataset, val: wb.Dataset, family: str, epochs: int, seed: int, device: str) -> list[float]:
    """What a user writes: DataLoader, a standard loop, a validation pass per epoch."""
    torch.manual_seed(seed)
    model_params, train_params = split_params(family, MODELS[family])
    net = build_model(family, model_params, DataSpec.from_dataset(train)).to(device)
    opt = torch.optim.AdamW(net.parameters(), lr=train_params.lr, weight_decay=train_params.weight_decay)
    loader = DataLoader(TensorDataset(torch.from_numpy(train.X), torch.from_numpy(train.y)), BATCH_SIZE, shuffle=True)
    steps = epochs * len(loader)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
    val_loader = DataLoader(TensorDataset(torch.from_numpy(val.X), torch.from_numpy(val.y)), BATCH_SIZE)
    binary = train.task == "binary"
    times = []
    for _ in range(epochs):
        t0 = time.perf_counter()
        net.train()
        for xb, yb in loader:
            xb, yb = xb.to(device), yb.to(device)
            opt.zero_grad()
            out = net(xb)
            loss = (
                F.binary_cross_entropy_with_logits(out.squeeze(1), yb.float()) if binary else F.cross_entropy(out, yb)
            )
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), train_params.grad_clip)
            opt.step()
            sched.step()
        net.eval()
        correct = 0
        with torch.no_grad():
            for xb, yb in val_loader:
                out = net(xb.to(device))
                pred = (out.squeeze(1) > 0).long() if binary else out.argmax(1)
                correct += int((pred.cpu() == yb).sum())
        times.append(time.perf_counter() - t0)
    return times


def workbench_fit(train: wb.Dataset, val: wb.Dataset, family: str, epochs: int, seed: int, device: str) -> list[float]:
    params = {**MODELS[family], "batch_size": BATCH_SIZE}
    result = wb.fit(
        train, family, params, validation=val, max_epochs=epochs, patience=None, seed=seed, accelerator=device
    )
    return result.epoch_times_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    device = choose_accelerator(args.device)
    torch.set_num_threads(default_threads())
    print(
        f"# train_overhead: {platform.processor() or platform.machine()}, {default_threads()} threads, device {device}"
    )
    print(f"# torch {torch.__version__}, {args.repeats} interleaved repeats × {args.epochs} epochs, batch {BATCH_SIZE}")
    rows = []
    for name, (train, val) in datasets().items():
        for family in MODELS:
            plain: list[float] = []
            engine: list[float] = []
            workbench_fit(train, val, family, 2, 0, device)  # warm-up: imports, allocator, first-call costs
            plain_loop(train, val, family, 2, 0, device)
            for r in range(args.repeats):
                # median over the epochs of one run, then the median over runs
                plain.append(statistics.median(plain_loop(train, val, family, args.epochs, r, device)[1:]))
                engine.append(statistics.median(workbench_fit(train, val, family, args.epochs, r, device)[1:]))
            a, b = statistics.median(plain), statistics.median(engine)
            rows.append((name, family, train.n_samples, a * 1e3, b * 1e3, b / a))
    print()
    print("| dataset | model | train samples | plain loop ms/epoch (a) | workbench.fit ms/epoch (b) | ratio b/a |")
    print("|---|---|---|---|---|---|")
    for name, family, n, a, b, ratio in rows:
        print(f"| {name} | {family} | {n} | {a:.2f} | {b:.2f} | {ratio:.2f} |")
    print(f"\ngeometric mean ratio: {float(np.exp(np.mean([np.log(r[-1]) for r in rows]))):.2f}")


if __name__ == "__main__":
    main()
