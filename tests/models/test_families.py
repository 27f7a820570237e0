"""Each family builds from plain values, trains on each task, and masks exactly."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import workbench as wb
from workbench.errors import ConfigError
from workbench.models import DataSpec, build_model, split_params

FAMILIES = ["mlp", "conv1d", "hybrid"]
SMALL = {
    "mlp": {"width": 16, "depth": 1},
    "conv1d": {"channels": 8, "depth": 2, "kernel_size": 3},
    "hybrid": {"channels": 8, "depth": 2, "kernel_size": 3, "branch_width": 8, "head_width": 8},
}


@pytest.mark.parametrize("family", FAMILIES)
def test_every_family_trains_on_every_task(family: str, task_dataset: wb.Dataset) -> None:
    result = wb.fit(task_dataset, family, {**SMALL[family], "batch_size": 16}, max_epochs=2, patience=None)
    assert result.epochs_run == 2 and result.stop_reason == "completed"
    metric = "rmse" if task_dataset.task == "regression" else "bal_acc"
    assert np.isfinite(result.metrics[f"val_{metric}"])
    assert len(result.history) == 2 and "train_loss" in result.history[0]
    assert result.model is not None
    out = result.model.logits(torch.from_numpy(task_dataset.X[:3]))
    expected_k = task_dataset.n_classes if task_dataset.task in ("multiclass", "per_step") else 1
    assert out.shape[:2] == (3, expected_k)
    if task_dataset.task == "per_step":
        assert out.shape[2] == task_dataset.max_length  # the length is kept for per-step labels


def test_mlp_with_depth_zero_is_a_single_linear_layer() -> None:
    spec = DataSpec(n_channels=1, length=64, min_length=64, task="binary", n_outputs=1, ordered=False)
    net = build_model("mlp", split_params("mlp", {"depth": 0})[0], spec)
    linears = [m for m in net.modules() if isinstance(m, torch.nn.Linear)]
    assert len(linears) == 1 and linears[0].in_features == 64


def test_conv1d_learns_order_that_an_mlp_cannot_use_as_well() -> None:
    ds = wb.synthetic.ordered_motifs(300, 64, seed=0)
    conv = wb.fit(ds, "conv1d", {"lr": 3e-3}, max_epochs=15, patience=None, seed=0)
    assert conv.metrics["val_bal_acc"] > 0.75


@pytest.mark.parametrize("family", ["conv1d", "hybrid"])
def test_padded_batches_predict_exactly_what_unpadded_sequences_do(family: str) -> None:
    ds = wb.synthetic.variable_length_motifs(40, min_length=16, max_length=60, seed=3)
    result = wb.fit(ds, family, SMALL[family], max_epochs=1, patience=None)
    assert result.model is not None
    net = result.model.net.eval()
    with torch.no_grad():
        batched = net(torch.from_numpy(ds.X), torch.from_numpy(ds.lengths))
        one_by_one = torch.cat(
            [net(torch.from_numpy(ds.X[i : i + 1, :, : ds.lengths[i]])) for i in range(ds.n_samples)]
        )
    torch.testing.assert_close(batched, one_by_one, rtol=1e-5, atol=1e-5)


def test_an_mlp_on_variable_lengths_reads_test_sequences_longer_than_any_in_training() -> None:
    ds = wb.synthetic.variable_length_motifs(60, min_length=16, max_length=40, seed=1)
    order = np.argsort(ds.lengths)
    train, test = ds.subset(order[:45]), ds.subset(order[45:])  # the longest sequences are all in test
    assert test.max_length > train.max_length
    result = wb.fit(train, "mlp", SMALL["mlp"], test=test, max_epochs=1)
    assert np.isfinite(result.metrics["test_bal_acc"])


def test_hybrid_uses_static_features_when_the_data_has_them() -> None:
    ds = wb.synthetic.sequences_with_static(64)
    result = wb.fit(ds, "hybrid", SMALL["hybrid"], max_epochs=1)
    assert result.model is not None and result.model.spec.n_static == 4
    with pytest.raises(ValueError, match="static"):
        result.model.net(torch.from_numpy(ds.X[:2]))


def test_same_seed_same_metrics_on_cpu() -> None:
    ds = wb.synthetic.ordered_motifs(80, 32)
    a = wb.fit(ds, "conv1d", SMALL["conv1d"], max_epochs=3, seed=7, patience=None)
    b = wb.fit(ds, "conv1d", SMALL["conv1d"], max_epochs=3, seed=7, patience=None)
    c = wb.fit(ds, "conv1d", SMALL["conv1d"], max_epochs=3, seed=8, patience=None)
    assert a.metrics == b.metrics
    assert a.history == b.history
    assert a.metrics != c.metrics


def test_divergence_stops_the_run_and_says_so() -> None:
    base = wb.synthetic.ordered_motifs(64, 32)
    exploding = wb.from_array(base.X, base.X.std(axis=(1, 2)) * 1e3, layout="NCL")
    params = {"lr": 10.0, "optimizer": "sgd", "grad_clip": 0, "batch_size": 8}
    result = wb.fit(exploding, "mlp", params, max_epochs=5)
    assert result.stop_reason == "diverged"
    assert result.epochs_run < 5


def test_early_stopping_is_reported() -> None:
    ds = wb.synthetic.shuffled_motifs(240, 32)  # nothing for a tiny conv to find: validation stalls
    result = wb.fit(ds, "conv1d", {**SMALL["conv1d"], "lr": 1e-5}, max_epochs=40, patience=2)
    assert result.stop_reason == "early_stopped" and result.epochs_run < 40


def test_patience_spans_enough_steps_when_the_validation_set_can_judge() -> None:
    ds = wb.synthetic.shuffled_motifs(240, 32)  # 60 validation samples, 180 fit samples in batches of 64
    result = wb.fit(ds, "conv1d", {**SMALL["conv1d"], "batch_size": 64}, max_epochs=80, patience=10)
    assert any("patience raised from 10 to" in note for note in result.notes)


def test_small_validation_sets_train_the_whole_schedule_and_keep_the_last_epoch() -> None:
    """GunPoint's 13-sample holdout cannot pick an epoch: the lowest validation loss of ArrowHead's
    9-sample holdout chose weights scoring 0.52 test accuracy where the last epoch scored 0.77."""
    train, test = wb.load("GunPoint").official_split()
    fit_part, val = train.split(0.25, seed=1001)
    params = {"channels": 16, "depth": 3, "kernel_size": 7, "kernels": "shrinking", "widths": "fcn", "lr": 3e-3}
    result = wb.fit(fit_part, "conv1d", params, validation=val, test=test, max_epochs=None, patience=2, min_steps=1000)
    assert any("last epoch kept" in note for note in result.notes)
    assert any("100 epochs of 5 pass(es)" in note for note in result.notes)  # 37 samples at 32: 2 steps a pass
    assert result.stop_reason == "completed" and result.best_epoch == result.epochs_run - 1 == 99
    assert result.metrics["test_bal_acc"] > 0.75  # chance is 0.5; 0.83 measured


def test_without_a_validation_set_the_run_trains_on_everything_and_reports_test_metrics() -> None:
    train, test = wb.load("GunPoint").official_split()
    result = wb.fit(train, "mlp", {"depth": 0}, validation=None, test=test, max_epochs=5)
    assert result.epochs_run == 5 and not result.history
    assert set(result.metrics) >= {"test_bal_acc", "test_loss"} and not any(
        k.startswith("val_") for k in result.metrics
    )


def test_an_epoch_of_tiny_data_is_several_passes() -> None:
    ds = wb.synthetic.ordered_motifs(40, 32)  # 30 fit samples: 2 steps per pass at batch 16
    result = wb.fit(ds, "mlp", {"batch_size": 16}, max_epochs=None, patience=None, min_steps=400)
    assert any("40 epochs of 5 pass(es)" in note for note in result.notes) and result.epochs_run == 40
    plain = wb.fit(ds, "mlp", {"batch_size": 16}, max_epochs=2, patience=None)  # what was asked: 2 passes
    assert not any("passes" in note for note in plain.notes) and plain.epochs_run == 2


def test_max_epochs_is_an_upper_bound_that_min_steps_never_exceeds() -> None:
    """Before: --max-epochs 2 ran 456 epochs, because min_steps lengthened the runs."""
    ds = wb.synthetic.ordered_motifs(40, 32)
    result = wb.fit(ds, "mlp", {"batch_size": 16}, max_epochs=2, patience=None, min_steps=1000)
    assert result.epochs_run == 2
    assert any("max_epochs 2 bounds this run to 4 optimiser steps, fewer than min_steps" in n for n in result.notes)


def test_the_run_plan_says_what_it_changed_and_why() -> None:
    from workbench.models.run_plan import DEFAULT_EPOCHS, plan_run

    def plan(**changes: object) -> object:
        settings = {
            "n_train": 40, "n_val": 10, "batch_size": 16, "steps_per_pass": lambda b: -(-40 // b), "batchnorm": True,
            "max_epochs": None, "min_steps": 1000, "patience": 15,
        }  # fmt: skip
        return plan_run(**{**settings, **changes})  # type: ignore[arg-type]

    lengthened = plan()
    assert (lengthened.passes, lengthened.steps_per_epoch, lengthened.max_epochs) == (4, 12, 84)
    assert lengthened.keep_last and lengthened.patience is None  # 10 validation samples cannot pick an epoch
    bounded = plan(max_epochs=5)
    assert (bounded.passes, bounded.max_epochs, bounded.max_steps) == (1, 5, 15)
    assert any("bounds this run to 15 optimiser steps" in note for note in bounded.notes)
    short = plan(min_steps=100)  # 60 passes are 180 steps: nothing to lengthen
    assert (short.passes, short.max_epochs, short.notes[1:]) == (1, DEFAULT_EPOCHS, ())
    large = plan(n_train=4000, n_val=1000, steps_per_pass=lambda b: 250)
    assert (large.max_epochs, large.passes, large.patience, large.notes) == (DEFAULT_EPOCHS, 1, 15, ())
    one = plan(batch_size=1, n_train=2, steps_per_pass=lambda b: 1, min_steps=0)
    assert one.batch_size == 2 and "BatchNorm needs at least two samples" in one.notes[0]
    patient = plan(n_val=100, max_epochs=100, min_steps=0)
    assert patient.patience == 50 and "patience raised from 15 to 50" in patient.notes[-1]  # 3 steps an epoch


def test_official_split_gives_test_metrics_and_stays_out_of_training() -> None:
    ds = wb.load("UnitTest")
    result = wb.fit(ds, "mlp", SMALL["mlp"], max_epochs=1)
    assert "test_bal_acc" in result.metrics
    assert result.model is not None and result.model.spec.length == 24


def test_batch_of_one_with_batchnorm_trains() -> None:
    ds = wb.synthetic.tabular_interactions(33, 8)  # 24 fit samples after the split; batch 23 leaves one
    result = wb.fit(ds, "mlp", {"norm": "batch", "batch_size": 23}, max_epochs=2, patience=None)
    assert result.stop_reason == "completed"
    explicit = wb.fit(ds, "mlp", {"norm": "batch", "batch_size": 1}, max_epochs=1, patience=None)
    assert explicit.stop_reason == "completed"


@pytest.mark.parametrize(
    ("family", "params", "message"),
    [
        ("conv1d", {"kernel_size": 40}, r"kernel_size=40 is longer than the shortest sequence \(32 steps\)"),
        ("mlp", {"width": 0}, r"'width' parameter must be a number ≥ 1, but got 0"),
        ("mlp", {"activation": "relu6"}, r"'activation' parameter must be one of \{'relu', 'gelu'.*Got 'relu6'"),
        ("conv1d", {"pooling": "flatten"}, r"'pooling' parameter must be one of \{'avg', 'max', 'avgmax'\}"),
        ("mlp", {"kernel_size": 3}, r"Unknown parameter\(s\) \['kernel_size'\] for family 'mlp'. Valid"),
        ("lstm", {}, r"Unknown family 'lstm'. Valid families: 'mlp', 'conv1d', 'hybrid'"),
    ],
)
def test_bad_parameters_name_the_valid_values(family: str, params: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        wb.fit(wb.synthetic.ordered_motifs(20, 32), family, params, max_epochs=1)


def test_unknown_metric_is_an_error_at_start() -> None:
    with pytest.raises(ConfigError, match="Unknown metric 'auc'.*bal_acc"):
        wb.fit(wb.synthetic.ordered_motifs(20, 32), "mlp", metric="auc", max_epochs=1)
