"""Studies at the size of real data (issue 36): the large-data recipe, the data kept memory-mapped
in the run folder, multi-fidelity search, a verdict from the study's own models, and a time limit
that shortens a default instead of leaving its family out. The small data of every other test
keeps its recipes; here a tiny dataset is made "large" by lowering the threshold."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import optuna
import pytest
from optuna.trial import TrialState

import workbench as wb
from workbench.config import ExperimentConfig
from workbench.data.batching import TensorBatches
from workbench.data.store import read_dataset, write_dataset
from workbench.models import run_plan
from workbench.models.run_plan import CHECKS, SEEN_SAMPLE_STEPS, VALIDATION_CAP, plan_run
from workbench.study import attrs, evaluate, run_study
from workbench.study.scale import CPU_BATCH, Scale, batch_size

Make = Callable[..., ExperimentConfig]


def quiet(_: object) -> None:
    pass


def test_a_large_run_sees_a_bounded_number_of_samples_and_is_validated_on_a_bounded_subset() -> None:
    plan = plan_run(
        n_train=11_250,
        n_val=20_000,
        batch_size=64,
        steps_per_pass=lambda b: -(-11_250 // b),
        batchnorm=True,
        max_epochs=None,
        min_steps=1000,  # applies to small data only
        patience=15,
        length=256,
    )
    epochs = SEEN_SAMPLE_STEPS // (11_250 * 256)
    assert plan.streamed and plan.max_epochs == CHECKS and plan.validation_cap == VALIDATION_CAP
    assert plan.max_steps == pytest.approx(epochs * 176, abs=CHECKS)  # 26 passes, in 20 validated stretches
    assert plan.patience == 5 and any(f"{epochs} epoch(s), as many as see" in note for note in plan.notes)
    timed = plan_run(
        n_train=11_250, n_val=100, batch_size=64, steps_per_pass=lambda b: 176, batchnorm=True,
        max_epochs=None, min_steps=0, patience=None, length=256, max_steps=500,
    )  # fmt: skip
    assert timed.max_steps == pytest.approx(500, abs=CHECKS) and any(
        "what the time limit holds" in n for n in timed.notes
    )


def test_a_streamed_epoch_continues_where_the_last_one_stopped() -> None:
    ds = wb.synthetic.ordered_motifs(12, 16)
    batches = TensorBatches(ds, 4, shuffle=True, seed=0)
    batches.steps_per_epoch = 2  # 3 batches make a pass: epochs cut passes
    xs = [batch.x for _ in range(3) for batch in batches]
    assert len(batches) == 2 and len(xs) == 6 and all(len(x) == 4 for x in xs)
    first_pass = np.concatenate([x.numpy() for x in xs[:3]])
    assert sorted(map(tuple, first_pass.reshape(12, -1).round(5).tolist())) == sorted(
        map(tuple, ds.X.reshape(12, -1).round(5).tolist())
    )  # every sample once in each pass, however the epochs cut it


def test_a_stored_dataset_reads_back_memory_mapped_and_whole(tmp_path: Path) -> None:
    ds = wb.from_array(
        np.random.default_rng(0).normal(size=(20, 2, 8)),
        np.arange(20) % 2,
        layout="NCL",
        groups=np.array([f"subject-{i % 4}" for i in range(20)], dtype=object),
        is_test=np.arange(20) >= 15,
        channel_names=["a", "b"],
    )
    back = read_dataset(write_dataset(ds, tmp_path / "data"))
    assert isinstance(back.X, np.memmap) and not back.X.flags.writeable
    np.testing.assert_array_equal(back.X, ds.X)
    np.testing.assert_array_equal(back.y, ds.y)
    assert back.groups is not None and ds.groups is not None and list(back.groups) == list(ds.groups)
    assert back.is_test is not None and back.is_test.sum() == 5 and back.channel_names == ("a", "b")
    assert (back.task, back.classes, back.fingerprint()) == (ds.task, ds.classes, ds.fingerprint())
    assert not list(tmp_path.glob(".*partial*"))


def test_the_recipe_follows_the_size_and_the_device() -> None:
    small, large = Scale(1_125, 256, gpu=False), Scale(11_250, 256, gpu=False)
    assert not small.large and small.batch_size is None and small.lr_factor == 1.0 and small.notes() == []
    assert large.large and large.batch_size == CPU_BATCH and large.lr_factor == 2.0
    assert any("batch 64 on a CPU" in line for line in large.notes())
    assert Scale(1_125, 10_000, gpu=False).large  # few but long sequences: the work decides
    assert batch_size(11_250, gpu=True) == 128 and batch_size(20_000, gpu=True) == 256
    assert batch_size(150_000, gpu=True) == 512
    assert batch_size(5_000, gpu=True) == 128


@pytest.fixture
def large(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every dataset of 100 sample-steps or more counts as large data."""
    monkeypatch.setattr(run_plan, "LARGE_SAMPLE_STEPS", 100)


@pytest.mark.slow
def test_a_large_study_keeps_its_data_prunes_by_halving_and_scores_its_own_models(
    large: None, make_experiment: Make
) -> None:
    config = make_experiment(
        name="large",
        families=["mlp"],
        baselines=["linear"],
        max_epochs=None,
        patience=15,
        evaluation={"top_k": 1, "seeds": 3},
        **{"budget.trials": 4},
    )
    lines: list[str] = []
    exp = run_study(config, echo=lines.append)
    assert any(line.startswith("large data (") for line in lines)
    stored = read_dataset(config.run_dir / "data")  # in split order: each split a slice of one file
    assert isinstance(exp.data.train.X, np.memmap) and stored.n_samples == exp.data.dataset.n_samples
    np.testing.assert_array_equal(exp.data.test.X, stored.X[exp.data.train.n_samples :])
    assert exp.data.fingerprint == exp.meta().user_attrs["data_fingerprint"]

    from workbench.study.worker import _pruner

    study = exp.study("mlp")
    assert isinstance(_pruner(exp), optuna.pruners.SuccessiveHalvingPruner)  # each worker's pruner
    trials = study.get_trials()
    defaults = [t for t in trials if attrs.default_number(t) is not None]
    assert defaults and all(t.state == TrialState.COMPLETE for t in defaults)  # run to the end, never pruned
    assert all(len(t.intermediate_values) > 1 for t in defaults)  # their checks set the rungs
    assert any("validated every" in note for t in defaults for note in attrs.outcome(t).get("notes", []))

    table, verdict = evaluate(exp, echo=quiet)
    assert verdict.replicates == "test parts" and "over 3 test parts" in verdict.statement
    mlp = table[table["family"] == "mlp"]
    assert len(mlp) == 3 and (mlp["epochs"] == 0).all()  # the study's model, scored: nothing re-trained
    assert len(table[table["family"] == "linear"]) == 3


def test_a_late_run_takes_no_more_steps_than_the_time_left_holds() -> None:
    from workbench.study.costs import LOOP_OVERHEAD
    from workbench.study.time_limit import TimeLimit

    limit = TimeLimit(time.time() + 100, evaluation_s=20, steps={"conv1d": 5000}, step_s={"conv1d": 0.01})
    assert limit.run_steps("conv1d") == 5000  # its shortened length: 80 s left hold more
    limit.deadline = time.time() + 30  # 10 s left for trials
    assert limit.run_steps("conv1d") == pytest.approx(10 / (0.01 * LOOP_OVERHEAD), rel=0.05)
    assert limit.run_steps("conv1d", runs_left=5) == pytest.approx(2 / (0.01 * LOOP_OVERHEAD), rel=0.05)
    assert limit.run_steps("mlp") is None  # not timed: nothing bounds it


def test_the_evaluation_sets_aside_the_refits_as_their_trials_cost() -> None:
    from workbench.study.time_limit import TimeLimit

    limit = TimeLimit(time.time() + 600, workers=2, evaluation_s=20, refits={"gbm": 30.0, "minirocket": 26.0})
    assert limit.reserve() == pytest.approx(20 + 30)  # side by side on two workers: the longer
    limit.refit({"minirocket": 209.0, "linear": 1.0})  # as measured; linear is not refitted
    assert limit.reserve() == pytest.approx(20 + 209) and "linear" not in limit.refits
