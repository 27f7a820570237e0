"""Where training runs and on how many threads: the accelerator, intra-op threads, evaluation
batch sizes, worker processes per machine and trials per GPU. One policy, shared by a training
run (``train.py``), the cost measurement (``study/costs.py``), trials and the worker launch."""

from __future__ import annotations

import os
import time
from typing import Any

import torch

from workbench.errors import ConfigError
from workbench.models.spec import DataSpec


def default_threads() -> int:
    """The cores this process may use (cgroup/affinity aware)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


# Intra-op threads under contention (benchmarks/threads.py, 2 cores): for a small model (the FCN
# at width 32, length 150, batch 16) a second thread gains 5% alone, and beside one busy process
# makes a step 2.6× slower (spinning threads fight it for the cores). A large one (width 64,
# length 1460) gains 1.75× alone and loses 1.6× beside a busy process. So small models train on
# one thread; large ones on the cores that the rest of the machine leaves idle.
SMALL_MODEL_ACTIVATIONS = 2**20  # batch × length × width of one layer's output, below which one thread is best


def auto_threads(activations: int) -> int:
    """Threads for a run whose layers output ``activations`` values per batch (see above)."""
    cores = default_threads()
    if cores == 1 or activations < SMALL_MODEL_ACTIVATIONS:
        return 1
    return max(1, min(cores, round(cores - busy_cores_elsewhere())))


def busy_cores_elsewhere(window_s: float = 0.05) -> float:
    """Cores that other processes keep busy, from /proc/stat over a short window during which
    this process sleeps; 0 where it cannot be read (not Linux)."""

    def busy_and_total() -> tuple[int, int]:
        with open("/proc/stat") as stat:
            values = [int(v) for v in stat.readline().split()[1:]]
        idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
        return sum(values) - idle, sum(values)

    try:
        busy0, total0 = busy_and_total()
        time.sleep(window_s)
        busy1, total1 = busy_and_total()
    except (OSError, ValueError, IndexError):
        return 0.0
    if total1 == total0:
        return 0.0
    return (busy1 - busy0) / (total1 - total0) * (os.cpu_count() or 1)


def choose_accelerator(accelerator: str = "auto") -> str:
    if accelerator not in ("auto", "cpu", "cuda", "gpu"):
        raise ConfigError(f"accelerator must be 'auto', 'cpu' or 'cuda', but got {accelerator!r}.")
    if accelerator == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return "cuda" if accelerator in ("cuda", "gpu") else "cpu"


# CPU convolutions slow down sharply once one batch's hidden activations (batch × length ×
# width float32 values) outgrow the core's L2 cache: on GunPoint 38 samples per batch took
# 6.1 ms, 50 took 10.2 ms. 2**17 values (512 KB) keeps evaluation batches below that cliff.
CPU_EVAL_ACTIVATIONS = 2**17


def eval_batch_size(model_params: Any, spec: DataSpec, n: int, device: str) -> int:
    """Batch size for validation/test passes: cache-sized on CPU, large on GPU."""
    width = getattr(model_params, "channels", None)
    if device != "cpu" or width is None:
        return max(1, min(n, 4096))
    return max(16, min(n, CPU_EVAL_ACTIVATIONS // (spec.length * width)))


def worker_threads(workers: int) -> int:
    """Each worker's threads: the cores divided among the workers."""
    return max(1, default_threads() // workers)


def auto_workers() -> int:
    """Workers for a study on this machine: one per GPU (``run_study`` multiplies them by
    :func:`trials_per_gpu`), else one per core with one thread each (at most 8): a second
    intra-op thread speeds a small model up by 5% and slows it 2.6× beside any other busy
    process (``benchmarks/threads.py``), while a second worker process doubles the trials per
    minute."""
    if gpu_count():
        return 1
    return max(1, min(8, default_threads()))


CUDA_CONTEXT_BYTES = 600 * 2**20  # what one process's CUDA context, cuDNN and allocator cache hold
MAX_TRIALS_PER_GPU = 8


def trial_gpu_bytes(channels: int, length: int, *, width: int = 128, depth: int = 12, batch: int = 64) -> int:
    """A generous bound on one trial's GPU memory: its CUDA context plus the activations of the
    largest model of the shipped spaces (width × length per layer and sample, kept for the
    backward pass, with their gradients and bf16/fp32 copies: ×4 bytes ×3)."""
    activations = batch * max(width, channels) * length * depth * 4 * 3
    return CUDA_CONTEXT_BYTES + activations


def trials_per_gpu(free_bytes: int, trial_bytes: int, cores: int, gpus: int) -> int:
    """Concurrent trials per GPU: as many as its free memory holds, at most one per CPU core
    (each trial's process drives its GPU from Python and loads its batches), at most 8.
    One small 1D model at batch 16 leaves a GPU mostly idle; several processes fill it."""
    by_memory = free_bytes // max(trial_bytes, 1)
    by_cores = cores // max(gpus, 1)
    return int(max(1, min(MAX_TRIALS_PER_GPU, by_memory, by_cores)))


def auto_trials_per_gpu(channels: int, length: int, gpus: int) -> int:
    """:func:`trials_per_gpu` for data of this shape on this machine's GPUs."""
    free = min(torch.cuda.mem_get_info(i)[0] for i in range(gpus))
    return trials_per_gpu(free, trial_gpu_bytes(channels, length), os.cpu_count() or 1, gpus)


def has_gpu() -> bool:
    return torch.cuda.is_available()


def gpu_count() -> int:
    return torch.cuda.device_count() if torch.cuda.is_available() else 0
