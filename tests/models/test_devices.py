"""The thread and device policy: threads by model size and the machine's load, trials per GPU."""

from __future__ import annotations

import os

import pytest

import workbench.models.devices as devices
from workbench.models.devices import CUDA_CONTEXT_BYTES, trial_gpu_bytes, trials_per_gpu


def test_small_models_train_on_one_thread_and_large_ones_on_the_idle_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    """benchmarks/threads.py: a second thread gains 5% for the small FCN alone and costs 2.6× beside one
    busy process; a large model gains 1.75× alone and loses beside a busy process."""
    assert 0.0 <= devices.busy_cores_elsewhere() <= (os.cpu_count() or 1) + 0.5
    monkeypatch.setattr(devices, "default_threads", lambda: 2)
    monkeypatch.setattr(devices, "busy_cores_elsewhere", lambda window_s=0.05: 0.1)
    assert devices.auto_threads(16 * 150 * 32) == 1
    assert devices.auto_threads(16 * 1460 * 64) == 2
    monkeypatch.setattr(devices, "busy_cores_elsewhere", lambda window_s=0.05: 1.0)  # another process at work
    assert devices.auto_threads(16 * 1460 * 64) == 1


def test_workers_per_gpu_fill_its_memory_within_the_cores() -> None:
    """Several small trials share a GPU: as many as its free memory holds, one per core, at most 8."""
    gib = 2**30
    small = trial_gpu_bytes(1, 150)  # GunPoint: the CUDA context dominates
    assert CUDA_CONTEXT_BYTES < small < 2 * CUDA_CONTEXT_BYTES
    assert trials_per_gpu(140 * gib, small, cores=16, gpus=1) == 8  # an H200: capped at 8
    assert trials_per_gpu(140 * gib, small, cores=4, gpus=1) == 4  # each trial's process needs a core
    assert trials_per_gpu(140 * gib, small, cores=16, gpus=4) == 4
    long = trial_gpu_bytes(3, 10_000)  # long recordings: memory decides (about 12 GiB a trial)
    assert trials_per_gpu(40 * gib, long, cores=16, gpus=1) == 3
    assert trials_per_gpu(1 * gib, long, cores=16, gpus=1) == 1  # never fewer than one
