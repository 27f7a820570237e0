"""The plain PyTorch loop a user writes instead of a study: the bar a study at scale must beat.

A three-block FCN (Wang et al. 2017: 128/256/128 filters, kernels 8/5/3, batch norm, ReLU,
global average pooling), batch 128, AdamW at 1e-3, no tuning, inputs standardised per channel
on the training part, and the held-out accuracy after every epoch until the wall time is up (the
time spent scoring counts). Run on the same test split as the workbench (``Dataset.split``, seed
0), with the threads torch chooses (every core).

    .venv/bin/python benchmarks/plain_loop.py --n 20000 --seconds 600
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import numpy as np
import torch
from torch import nn


def fcn(channels: int, n_classes: int) -> nn.Module:
    def block(cin: int, cout: int, k: int) -> list[nn.Module]:
        return [nn.Conv1d(cin, cout, k, padding="same"), nn.BatchNorm1d(cout), nn.ReLU()]

    return nn.Sequential(
        *block(channels, 128, 8),
        *block(128, 256, 5),
        *block(256, 128, 3),
        nn.AdaptiveAvgPool1d(1),
        nn.Flatten(),
        nn.Linear(128, n_classes),
    )


def plain_loop(
    train_x: np.ndarray,
    train_y: np.ndarray,
    test_x: np.ndarray,
    test_y: np.ndarray,
    seconds: float,
    *,
    batch: int = 128,
    seed: int = 0,
) -> dict[str, Any]:
    """Train until ``seconds`` are up; the test accuracy after each epoch (and when it ended)."""
    torch.manual_seed(seed)
    start = time.perf_counter()
    mean = train_x.mean(axis=(0, 2), keepdims=True)
    std = train_x.std(axis=(0, 2), keepdims=True) + 1e-8
    xtr = torch.from_numpy(((train_x - mean) / std).astype(np.float32))
    xte = torch.from_numpy(((test_x - mean) / std).astype(np.float32))
    ytr, yte = torch.from_numpy(train_y.astype(np.int64)), torch.from_numpy(test_y.astype(np.int64))
    n_classes = int(max(ytr.max(), yte.max())) + 1
    net = fcn(xtr.shape[1], n_classes)
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3)
    curve = []
    epoch = 0
    while time.perf_counter() - start < seconds:
        net.train()
        order = torch.randperm(len(xtr))
        for i in range(0, len(order), batch):
            idx = order[i : i + batch]
            if len(idx) < 2:
                continue
            opt.zero_grad(set_to_none=True)
            nn.functional.cross_entropy(net(xtr[idx]), ytr[idx]).backward()
            opt.step()
            if time.perf_counter() - start > seconds:
                break
        epoch += 1
        net.eval()
        with torch.inference_mode():
            predicted = torch.cat([net(xte[i : i + 1024]).argmax(1) for i in range(0, len(xte), 1024)])
        accuracy = float((predicted == yte).float().mean())
        curve.append({"epoch": epoch, "seconds": round(time.perf_counter() - start, 1), "test_acc": accuracy})
    return {
        "epochs": epoch,
        "seconds": round(time.perf_counter() - start, 1),
        "test_acc": curve[-1]["test_acc"],
        "curve": curve,
    }


def main() -> None:
    import workbench as wb

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--length", type=int, default=256)
    parser.add_argument("--channels", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=600)
    args = parser.parse_args()
    ds = wb.synthetic.local_shapes(args.n, args.length, channels=args.channels)
    train, test = ds.split(0.25, seed=0)
    print(json.dumps(plain_loop(train.X, train.y, test.X, test.y, args.seconds)))


if __name__ == "__main__":
    main()
