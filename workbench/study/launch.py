"""A study run, from the caller's side: prepare the experiment, set its time limit, start its
workers (``processes.py``), follow them from the storage and say how it ended.

``run_study`` waits for it here; ``background.start_study`` returns with the workers running.
The trials themselves run in ``worker.py``.
"""

from __future__ import annotations

import dataclasses
import datetime
import time
from dataclasses import dataclass
from typing import Any, Literal

from workbench.candidates import CANDIDATES
from workbench.config import ExperimentConfig, study_config
from workbench.errors import ConfigError
from workbench.interrupt import Interrupted
from workbench.models.devices import auto_trials_per_gpu, auto_workers, gpu_count, worker_threads
from workbench.models.run_plan import CHECKS
from workbench.study import attrs
from workbench.study.completion import check_finished
from workbench.study.costs import estimate_costs
from workbench.study.events import Echo, FamilySkipped, Note, emit
from workbench.study.experiment import Experiment, prepare
from workbench.study.follow import ProgressFollower
from workbench.study.processes import WorkerPool
from workbench.study.scale import FIRST_RUNG, replicates
from workbench.study.status import run_length_text
from workbench.study.time_limit import TimeLimit, announcement, fit_to_time, too_short_text
from workbench.study.worker import RESUME, optuna_logs_errors_only, run_worker, study_interruptible

WORKER_MAIN = "workbench.study.worker:worker_main"


def run_study(
    config: ExperimentConfig | Any,
    *,
    workers: int | Literal["auto"] = 1,
    per_gpu: int | None = None,
    accelerator: str = "auto",
    heartbeat_s: int | None = None,
    grace_s: int | None = None,
    echo: Echo = print,
    started: float | None = None,
    **config_values: Any,
) -> Experiment:
    """Prepare the experiment, then run its trials here or in ``workers`` processes
    (``"auto"``: :func:`~workbench.models.devices.auto_workers`), whose progress is followed
    here from the storage.

    With CUDA GPUs, ``per_gpu`` workers per GPU (``CUDA_VISIBLE_DEVICES``; default: from the
    device's free memory and the cores, :func:`~workbench.models.devices.trials_per_gpu`); on
    CPU, the cores are divided among the workers.
    With ``config.time_limit``, the whole experiment shares one wall-clock budget (``time_limit.py``),
    counted from ``started`` (``time.time()``; default: now; the command line's own start).

    ``config`` may be the data itself, in any form ``workbench.load`` reads (a Dataset, an
    ``(X, y)`` pair, a DataFrame, a file), with config keys as keyword arguments (``name=``,
    ``test=`` a test split of your own, ``layout=``, ``time_limit=``, …): :func:`workbench.config.study_config`.
    """
    started = started or time.time()
    config = study_config(config, **config_values)
    with study_interruptible():
        run = launch(config, workers, per_gpu, accelerator, heartbeat_s, grace_s, echo, started, in_process=True)
        if not len(run.pool):
            run_worker(run.exp, accelerator=accelerator, echo=echo)
            run.exp.check_storage("the studies' results")
            return run.exp
        codes = wait_for_workers(run, echo)
    run.exp.check_storage("the studies' results")
    check_finished(run.exp, run.limit, codes, echo)
    return run.exp


@dataclass
class Launch:
    """An experiment prepared, its time limit set and its worker processes started (none
    when it runs in the calling process)."""

    exp: Experiment
    limit: TimeLimit | None
    pool: WorkerPool


def launch(
    config: ExperimentConfig,
    workers: int | Literal["auto"],
    per_gpu: int | None,
    accelerator: str,
    heartbeat_s: int | None,
    grace_s: int | None,
    echo: Echo,
    started: float,
    *,
    in_process: bool,
) -> Launch:
    """Prepare the experiment and start its workers: one process per worker, or none for a
    single worker that ``in_process`` allows to run in the caller."""
    n_workers = auto_workers() if workers == "auto" else workers
    exp = prepare(config, heartbeat_s=heartbeat_s, grace_s=grace_s, echo=echo)
    emit(echo, Note(run_length_text(config, large=exp.data.trial.large)))
    for family, reason in exp.skipped.items():
        emit(echo, FamilySkipped(family, reason))
    gpus = gpu_count() if accelerator in ("auto", "cuda", "gpu") else 0
    if gpus:
        x = exp.data.trial.train.X
        per_gpu = per_gpu or auto_trials_per_gpu(int(x.shape[1]), int(x.shape[-1]), gpus)
        n_workers = max(n_workers, gpus * per_gpu)
    n_workers = max(1, n_workers)
    limit = _time_limit(exp, started, n_workers, echo)
    # Stored once, before any worker starts: every process of this run (and a `workbench worker` that
    # joins it from anywhere) reads it from here; a run without a limit clears the last run's.
    exp.meta().set_user_attr(attrs.ATTR_TIME_LIMIT, dataclasses.asdict(limit) if limit is not None else None)
    pool = WorkerPool()
    if n_workers == 1 and in_process:
        return Launch(exp, limit, pool)
    threads = worker_threads(n_workers)
    for i in range(n_workers):
        settings = {"name": config.name, "storage": config.storage_url, "worker_id": i, "threads": threads}
        settings |= {"accelerator": accelerator, "quiet": True}  # heartbeats and time limit: as stored
        pool.start(WORKER_MAIN, settings, env={"CUDA_VISIBLE_DEVICES": str(i % gpus)} if gpus else None)
    per = f", {per_gpu} per GPU" if gpus else ""
    emit(echo, Note(f"started {n_workers} worker{'s' if n_workers > 1 else ''} ({threads} thread(s) each{per})"))
    return Launch(exp, limit, pool)


def wait_for_workers(run: Launch, echo: Echo) -> list[int]:
    """Wait for the worker processes, following their progress from the storage. Ctrl-C or
    SIGTERM is passed on to them: each re-queues its trial and exits, and one line, read from
    the storage, says which trials were re-queued."""
    follow = ProgressFollower(run.exp, run.limit, echo)
    try:
        with optuna_logs_errors_only():
            codes = run.pool.follow(follow.poll)
            follow.poll(force=True)
    except Interrupted as stop:
        since = datetime.datetime.now()
        run.pool.end(stop.signum)
        requeued = _requeued_since(run.exp, since)
        stop.what = (f"{' and '.join(requeued)} re-queued with the same parameters; " if requeued else "") + RESUME
        raise
    return codes


def _requeued_since(exp: Experiment, since: datetime.datetime) -> list[str]:
    """The trials that workers re-queued (their copies queued) after ``since``."""
    return [
        f"trial {t.number} of {family}"
        for family in exp.families
        for trials in [exp.study(family).get_trials(deepcopy=False)]
        for t in trials
        if t.number in attrs.replaced(trials) and t.datetime_complete is not None and t.datetime_complete >= since
    ]


def _time_limit(exp: Experiment, started: float, workers: int, echo: Echo) -> TimeLimit | None:
    """The experiment's wall-clock budget, spread from measured costs (``time_limit.py``) and announced."""
    if exp.config.time_limit is None:
        return None
    costs = estimate_costs(exp, exp.families, threads=worker_threads(workers))
    # A baseline's trial is not estimated: baselines run first, and what the evaluation's fit of one
    # costs is set aside as its trials measure it (``TimeLimit.refit``).
    baselines = {family: 0.0 for family in exp.families if not CANDIDATES[family].deep}
    left = started + exp.config.time_limit - time.time()
    plan = fit_to_time(exp, costs, left, workers, exp.config.evaluation.seeds, baselines)
    if left <= 0 or all(family in plan.left_out for family in exp.families):
        raise ConfigError(too_short_text(exp, costs, time.time() - started, workers))
    limit = TimeLimit(
        deadline=started + exp.config.time_limit,
        workers=workers,
        evaluation_s=plan.evaluation_s,
        estimates={family: cost.seconds for family, cost in plan.costs.items()},
        families=[family for family in exp.families if family not in plan.left_out],
        left_out=plan.left_out,
        refits=plan.refits,
        first_rung={family: FIRST_RUNG / CHECKS for family in plan.costs} if exp.data.trial.large else {},
        steps={family: cost.steps for family, cost in plan.costs.items() if cost.steps < costs[family].steps},
        step_s={family: cost.step_s for family, cost in plan.costs.items()},
    )
    emit(echo, Note(announcement(limit, plan, costs, profile_s=time.time() - started, how=replicates(exp))))
    return limit
