"""The final evaluation: the best configurations scored over replicates on the held-out test split.

A study's best validation score is selected on that very validation split, so it
is optimistic. Here the top-k configurations of every family are re-trained with
R seeds (each seed its own validation split and initialisation), the family's
configuration is chosen by mean *validation* score, and only then are its test
scores compared: means, 95% confidence intervals, and a paired test across seeds
(``verdict.py``). After a k-fold study the replicates are, by default, the study's own
folds: the best trial's fold models (``fold_models.py``) are scored instead of re-trained,
and every family's replicate i was trained on the same fold i.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import optuna
import pandas as pd
import torch
from optuna.trial import TrialState

from workbench.candidates import CANDIDATES
from workbench.data.dataset import Dataset
from workbench.interrupt import (
    Interrupted,
    exit_at_once_from_now,
    interruptible,
    safe_point,
)
from workbench.models.baselines import fit_and_score, seed_matters
from workbench.models.devices import auto_workers
from workbench.models.metrics import TEST, VAL, metric_key
from workbench.models.train import score
from workbench.study import attrs
from workbench.study.attrs import ATTR_EVALUATION, ATTR_VERDICT
from workbench.study.costs import measured_cost
from workbench.study.events import (
    ConfigEvaluated,
    Echo,
    EvaluationStarted,
    Note,
    NothingToEvaluate,
    SeedEvaluated,
    duration_text,
    emit,
)
from workbench.study.experiment import Experiment, StoredExperiment, open_experiment
from workbench.study.fold_models import load_fold
from workbench.study.processes import WorkerPool
from workbench.study.scale import replicates as replicates_of
from workbench.study.time_limit import MIN_SEEDS, TimeLimit, evaluation_seconds
from workbench.study.training import Recipe, Run
from workbench.study.verdict import Verdict, make_verdict


def top_trials(study: optuna.Study, k: int) -> list[optuna.trial.FrozenTrial]:
    complete = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)) if t.value is not None]
    reverse = study.direction == optuna.study.StudyDirection.MAXIMIZE
    return sorted(complete, key=lambda t: t.value, reverse=reverse)[:k]  # type: ignore[arg-type, return-value]


def evaluate(
    exp: Experiment,
    *,
    top_k: int | None = None,
    seeds: int | None = None,
    replicates: Literal["folds", "seeds", "parts"] | None = None,
    workers: int | Literal["auto"] = 1,
    within_time_limit: bool = True,
    echo: Echo = print,
) -> tuple[pd.DataFrame, Verdict]:
    """Score the top configurations on the test split over replicates; return the evaluation
    table and the verdict.

    After a k-fold study with ``replicates="folds"`` (the config's ``evaluation.replicates``
    unless given), each family's best configuration is scored as the study trained it on each
    fold: the best trial's kept fold models, baselines re-fitted on the fold. Otherwise each
    seed re-trains on the training split (all of it when the study validated by folds, else all
    but a seeded holdout). The test split is one no trial has seen. With ``workers`` > 1 (or
    ``"auto"``: one per core) the runs are shared among that many processes. As the evaluation
    of a run with a time limit (stored with the experiment), the replicates are fitted to the time
    left (never fewer than 2); ``within_time_limit=False`` is an evaluation of its own, later (what
    ``workbench evaluate`` runs), with every replicate.
    """
    if replicates is not None:
        evaluation = exp.config.evaluation.model_copy(update={"replicates": replicates})
        exp = dataclasses.replace(exp, config=exp.config.model_copy(update={"evaluation": evaluation}))
    with interruptible(
        "the evaluation stopped; the stored verdict is unchanged. Run the same command again to evaluate.",
        finished="the evaluation is stored.",
    ):
        if workers == "auto":
            workers = auto_workers()
        limit = exp.time_limit() if within_time_limit else None
        return _evaluate(exp, top_k=top_k, seeds=seeds, workers=workers, limit=limit, echo=echo)


@dataclass(frozen=True)
class EvaluationRun:
    """One re-training of the final evaluation: a family's configuration with one seed."""

    family: str
    rank: int
    trial: int
    params: dict[str, Any]
    study_val: float
    seed: int  # the replicate: a seed, or the fold when ``fold`` is set, or the test part
    fold: int | None = None  # the configuration as the study's trial trained it on this fold
    part: int | None = None  # scored on this part of the test split (``parts``: large data)
    max_steps: int | None = None  # a time limit's bound on its optimiser steps (a shortened family's)


def evaluation_runs(exp: Experiment, k: int, n_seeds: int) -> list[EvaluationRun]:
    """The runs of the evaluation. After a k-fold study a configuration's validation score is its
    cross-validated one, which already ranks the top-k: only each family's best is evaluated
    (the others could never be chosen), on its first ``n_seeds`` folds when the replicates are
    folds. After a holdout study each seed's own holdout chooses; with parts of the test split as
    replicates (large data), each family's best trial's model is scored on each part."""
    how = replicates_of(exp)
    k = 1 if exp.data.trial.plan.n_folds > 1 or how == "parts" else k
    folds = min(n_seeds, exp.data.trial.plan.n_folds) if how == "folds" else None
    runs = []
    for family in exp.families:
        for rank, trial in enumerate(top_trials(exp.study(family), k)):
            params, value = dict(trial.params), float(trial.value)  # type: ignore[arg-type]
            if how == "parts":
                runs += [EvaluationRun(family, rank, trial.number, params, value, i, 0, i) for i in range(n_seeds)]
            elif folds is not None:
                runs += [EvaluationRun(family, rank, trial.number, params, value, i, fold=i) for i in range(folds)]
            else:
                runs += [EvaluationRun(family, rank, trial.number, params, value, seed) for seed in range(n_seeds)]
    return runs


EVALUATION_SAMPLES = 20_000  # large data: the test parts hold at most this many test sequences in all


def test_parts(exp: Experiment, n: int) -> list[Dataset]:
    """The test split in ``n`` disjoint parts, seeded (at most EVALUATION_SAMPLES sequences in all):
    the same parts for every family, so that its replicate i is paired with theirs."""
    order = np.random.default_rng(exp.config.seed).permutation(exp.data.test.n_samples)[:EVALUATION_SAMPLES]
    return [exp.data.test.subset(np.sort(chunk)) for chunk in np.array_split(order, n)]


def score_on_parts(exp: Experiment, runs: list[EvaluationRun], recipe: Recipe) -> list[Run]:
    """The runs of one configuration with parts of the test split as replicates: the model its trial
    kept (re-trained as the trial trained it where none was kept; a baseline re-fitted once),
    scored on each part."""
    first, cfg = runs[0], exp.config
    parts = [test_parts(exp, len(runs))[run.part or 0] for run in runs]
    fit_part, val = exp.data.trial.fold(0)
    started = time.perf_counter()
    if CANDIDATES[first.family].deep:
        model = load_fold(cfg.run_dir, first.family, first.trial, 0)
        epochs, stop = 0, "kept from the study"
        if model is None or exp.data.test.max_length > model.spec.length:
            trained = recipe.fit(fit_part, val, None, dict(first.params), cfg.seed, max_steps=first.max_steps)
            model, epochs, stop = trained.model, trained.epochs, "re-trained as its trial was"
        assert model is not None
        metrics = [score(model, part, TEST) for part in parts]
    else:
        epochs, stop = 0, "completed"
        fitted = fit_and_score(
            first.family, first.params, recipe.baseline_part(fit_part, cfg.seed), parts, cfg.seed, recipe.threads
        )
        metrics = [{metric_key(TEST, k): v for k, v in m.items()} for m in fitted]
    seconds = (time.perf_counter() - started) / len(runs)
    return [Run(m, epochs, stop, [], seconds) for m in metrics]


def run_evaluation(exp: Experiment, run: EvaluationRun, recipe: Recipe | None = None) -> Run:
    """Train one evaluation run (or score the fold model its trial kept) on the test split."""
    cfg = exp.config
    recipe = recipe or Recipe(run.family, cfg, exp.metric, large=exp.data.trial.large)
    max_steps = run.max_steps
    if run.part is not None:
        return score_on_parts(exp, [run], recipe)[0]
    if run.fold is not None:
        fit_part, val = exp.data.trial.fold(run.fold)
        kept = load_fold(cfg.run_dir, run.family, run.trial, run.fold)
        if kept is not None and exp.data.test.max_length <= kept.spec.length:
            started = time.perf_counter()
            metrics = {**score(kept, val, VAL), **score(kept, exp.data.test, TEST)}
            return Run(metrics, 0, "kept from the study", [], time.perf_counter() - started)
        # as the trial trained it
        return recipe.fit(fit_part, val, exp.data.test, dict(run.params), cfg.seed, max_steps=max_steps)
    if exp.data.trial.plan.n_folds > 1:  # small data: the whole training split, for the whole schedule
        return recipe.fit(exp.data.train, None, exp.data.test, dict(run.params), run.seed, max_steps=max_steps)
    train, holdout = exp.data.train.split(cfg.validation.fraction, seed=cfg.seed + 1000 + run.seed)
    return recipe.fit(train, holdout, exp.data.test, dict(run.params), run.seed, max_steps=max_steps)


def evaluation_jobs(runs: list[EvaluationRun], same: dict[int, int]) -> list[list[int]]:
    """The evaluation's work in jobs of run indices, each done in one go by one process: a
    configuration's parts of the test split together (its model fitted or loaded once), every
    other run alone (those that repeat another's fit, ``same``, left out)."""
    jobs: dict[Any, list[int]] = {}
    for i, run in enumerate(runs):
        if i not in same:
            jobs.setdefault((run.family, run.rank) if run.part is not None else i, []).append(i)
    return list(jobs.values())


def run_job(exp: Experiment, runs: list[EvaluationRun], recipe: Recipe) -> list[Run]:
    """The results of one job (:func:`evaluation_jobs`)."""
    if runs[0].part is not None:
        return score_on_parts(exp, runs, recipe)
    return [run_evaluation(exp, run, recipe) for run in runs]


def same_fits(exp: Experiment, runs: list[EvaluationRun]) -> dict[int, int]:
    """Runs whose fit would repeat another's exactly (a baseline that ignores its seed, after a
    k-fold study where every seed trains on the same data): run index → the index of the run
    whose result it takes."""
    if exp.data.trial.plan.n_folds == 1:  # each seed draws its own holdout
        return {}
    n_train = exp.data.train.n_samples
    first: dict[tuple[str, int], int] = {}
    same = {}
    for i, run in enumerate(runs):
        if run.fold is not None or CANDIDATES[run.family].deep or seed_matters(run.family, n_train):
            continue
        key = (run.family, run.rank)
        if key in first:
            same[i] = first[key]
        else:
            first[key] = i
    return same


def _fitted_seeds(exp: Experiment, n_seeds: int, workers: int, limit: TimeLimit | None, echo: Echo) -> int:
    """Seeds that fit the time left of the experiment's run, from the families' measured trial costs."""
    if limit is None:
        return n_seeds
    measured = {family: measured_cost(exp.study(family).get_trials(deepcopy=False)) for family in exp.families}
    costs = {family: cost for family, cost in measured.items() if cost is not None}
    per_seed = evaluation_seconds(exp, costs, 1, workers)
    left = limit.left()
    fitted = max(MIN_SEEDS, min(n_seeds, int(left / per_seed))) if per_seed > 0 else n_seeds
    if fitted < n_seeds:
        emit(
            echo,
            Note(
                f"time limit: {fitted} seeds per configuration fit the {duration_text(max(0.0, left))} left, "
                f"not {n_seeds}"
            ),
        )
    return fitted


def _evaluate(
    exp: Experiment,
    *,
    top_k: int | None,
    seeds: int | None,
    workers: int,
    limit: TimeLimit | None,
    echo: Echo,
) -> tuple[pd.DataFrame, Verdict]:
    cfg = exp.config
    exp.check_storage("the verdict")
    running = still_running(exp)
    if running:
        emit(echo, Note(f"warning: {running}"))
    how = replicates_of(exp)
    n_seeds = seeds or cfg.evaluation.seeds
    if how != "parts":  # scoring the study's models on parts of the test split costs no re-training
        n_seeds = _fitted_seeds(exp, n_seeds, workers, limit, echo)
    runs = evaluation_runs(exp, top_k or cfg.evaluation.top_k, n_seeds)
    if limit is not None:
        runs = [dataclasses.replace(run, max_steps=limit.steps.get(run.family)) for run in runs]
    label = {"parts": "test parts", "folds": "folds"}.get(how, "seeds")
    recipes = {family: Recipe(family, cfg, exp.metric, large=exp.data.trial.large) for family in exp.families}
    same = same_fits(exp, runs)
    jobs = evaluation_jobs(runs, same)
    if runs:
        emit(echo, EvaluationStarted(len({(run.family, run.rank) for run in runs}), len(runs), label))
    results = run_in_workers(exp, runs, jobs, workers) if workers > 1 and len(jobs) > 1 else {}
    for job in jobs:  # here: one worker, or a job whose worker process died
        if not all(i in results for i in job):
            safe_point()  # between jobs (training checks between batches)
            results.update(zip(job, run_job(exp, [runs[i] for i in job], recipes[runs[job[0]].family]), strict=True))
    test_key, val_key = metric_key(TEST, exp.metric), metric_key(VAL, exp.metric)
    whole_train = exp.data.trial.plan.n_folds > 1 or how == "parts"
    rows: list[dict[str, Any]] = []
    for family in exp.families:
        if not any(run.family == family for run in runs):
            emit(echo, NothingToEvaluate(family))
    for i, run in enumerate(runs):
        if i in same:  # the same fit as an earlier seed's: its result, at no cost
            results[i] = dataclasses.replace(results[same[i]], seconds=0.0)
        metrics = results[i].metrics
        rows.append(
            {
                "family": run.family,
                "rank": run.rank,
                "trial": run.trial,
                "seed": run.seed,
                "params": json.dumps(run.params, sort_keys=True),
                "study_val": run.study_val,
                # Trained on the whole split, or the study's own model, a configuration's validation score
                # is the study's.
                "val": run.study_val
                if whole_train and (run.fold is None or run.part is not None)
                else metrics.get(val_key, math.nan),
                "test": metrics.get(test_key, math.nan),
                "seconds": results[i].seconds,
                "epochs": results[i].epochs,
                **{k_: v for k_, v in metrics.items() if k_.startswith(f"{TEST}_")},
            }
        )
        test = float(metrics.get(test_key, math.nan))
        emit(echo, SeedEvaluated(run.family, run.seed, i + 1, len(runs), test, label))
        if i + 1 == len(runs) or (runs[i + 1].family, runs[i + 1].rank) != (run.family, run.rank):
            last = [row["test"] for row in rows if row["family"] == run.family and row["rank"] == run.rank]
            mean = float(np.mean(last))
            emit(echo, ConfigEvaluated(run.family, exp.metric, run.rank, run.trial, mean, len(last), label))
    table = pd.DataFrame(rows)
    n_classes = exp.data.dataset.n_classes
    chance = 1.0 / n_classes if exp.metric == "bal_acc" and n_classes >= 2 else None
    recommended = exp.profile.recommendation.family if exp.profile else None
    if table.empty:
        verdict = no_family_finished(exp, recommended)
    else:
        verdict = make_verdict(table, exp.metric, recommended, chance=chance, replicates=label)
    if running:
        verdict.notes.insert(0, f"warning: {running}")
    exp.check_storage("the verdict")
    meta = exp.meta()
    meta.set_user_attr(ATTR_EVALUATION, table.to_dict(orient="records"))
    meta.set_user_attr(ATTR_VERDICT, verdict.to_dict())
    exp.check_storage("the verdict")  # a file that vanished as it was written took the verdict with it
    return table, verdict


def run_in_workers(exp: Experiment, runs: list[EvaluationRun], jobs: list[list[int]], workers: int) -> dict[int, Run]:
    """The ``jobs`` (:func:`evaluation_jobs`) shared among ``workers`` processes (``processes.py``,
    one thread each), each family's seeds spread across them. Each prints a JSON line per
    finished run; a run whose process died is missing from the result, and the caller runs it
    itself. Ctrl-C is passed on to them (nothing of theirs is stored: any still running after
    30 s is killed)."""
    order = sorted(jobs, key=lambda job: (runs[job[0]].family, runs[job[0]].seed))
    pool = WorkerPool()
    for share in (order[w::workers] for w in range(workers)):
        if share:
            settings = {
                "name": exp.config.name,
                "storage": exp.config.storage_url,
                "jobs": [{str(i): dataclasses.asdict(runs[i]) for i in job} for job in share],
            }
            pool.start("workbench.study.evaluate:evaluation_worker_main", settings, output=True)
    try:
        pool.follow(lambda: None)
    except Interrupted as stop:
        pool.end(stop.signum, kill_after_s=30)
        raise
    results: dict[int, Run] = {}
    for line in pool.output():
        done = json.loads(line)
        results[int(done["run"])] = Run(done["metrics"], done["epochs"], done["stop_reason"], [], done["seconds"])
    return results


def evaluation_worker_main(settings: dict[str, Any]) -> None:
    """A process of :func:`run_in_workers`: open the experiment (its data checked against the
    storage), train its share of the runs, print one JSON line per run. Nothing of its own is
    stored, so a signal ends it at once wherever it is (a ``KeyboardInterrupt`` raised outside a
    training run could land in a garbage-collection callback and print a traceback there)."""
    exit_at_once_from_now()
    torch.set_num_threads(1)
    try:
        exp = open_experiment(settings["name"], settings["storage"], echo=lambda _: None)
        large = exp.data.trial.large
        recipes = {family: Recipe(family, exp.config, exp.metric, threads=1, large=large) for family in exp.families}
        for job in settings["jobs"]:
            planned = [EvaluationRun(**values) for values in job.values()]
            for key, run in zip(job, run_job(exp, planned, recipes[planned[0].family]), strict=True):
                line = {"run": key, "metrics": run.metrics, "epochs": run.epochs, "stop_reason": run.stop_reason}
                print(json.dumps({**line, "seconds": run.seconds}), flush=True)
    except KeyboardInterrupt:
        raise SystemExit(130) from None


def still_running(exp: StoredExperiment) -> str | None:
    """What of the study is still running while it is evaluated (its trials RUNNING in a worker,
    or left so by one that was killed), as a warning; None when nothing runs."""
    counts = []
    for family in exp.families:
        trials = exp.study(family).get_trials(deepcopy=False)
        running = sum(t.state == TrialState.RUNNING for t in trials)
        if running:
            ended = sum(t.state.is_finished() and not attrs.overflow(t) for t in trials)
            counts.append(f"{family} {ended} trial(s) finished, {running} running")
    if not counts:
        return None
    return (
        f"the study is still running ({'; '.join(counts)}): this verdict is of the trials finished so far. "
        f"Evaluate again when it is done (`workbench evaluate {exp.config.name}`)."
    )


def stored_verdict(exp: StoredExperiment) -> Verdict | None:
    """The verdict of the last :func:`evaluate`, read back from the storage; None before one ran."""
    stored = exp.meta().user_attrs.get(ATTR_VERDICT)
    return None if stored is None else Verdict.from_dict(stored)


def no_family_finished(exp: StoredExperiment, recommended: str | None) -> Verdict:
    """The verdict when no family completed a trial: nothing to compare, and why each failed."""
    notes = [f"warning: {family}: {failure_summary(exp.study(family))}" for family in exp.families]
    statement = (
        "No family finished a trial, so there is nothing to compare. The reasons are below; fix them "
        "(a smaller learning rate, a larger budget, clean data) and run the study again."
    )
    return Verdict(
        exp.metric, exp.maximize, [], 0, None, None, None, None, None, None, recommended, None, None, statement, notes
    )


def failure_summary(study: optuna.Study) -> str:
    """How a family's trials ended, with the most common failure reason (its last line)."""
    trials = study.get_trials(deepcopy=False)
    if not trials:
        return "no trial ran"
    reasons = Counter(
        (reason.strip().splitlines() or [""])[-1] for t in trials if (reason := attrs.failure(t)) is not None
    )
    states = Counter(t.state.name.lower() for t in trials if t.state != TrialState.COMPLETE)
    ended = ", ".join(f"{n} {state}" for state, n in states.items())
    if not reasons:
        return f"{len(trials)} trial(s): {ended}"
    reason, n = reasons.most_common(1)[0]
    return f"{len(trials)} trial(s): {ended}; most common failure ({n}×): {reason}"
