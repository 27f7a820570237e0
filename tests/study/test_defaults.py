"""Proven defaults: enqueued first, named in the results, never excluded by a hint."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from optuna.trial import TrialState

import workbench as wb
from workbench.candidates import DEEP_FAMILIES
from workbench.config import ExperimentConfig
from workbench.study import attrs, evaluate, prepare, run_study, trials_frame
from workbench.study.defaults import default_configs, default_downsample, fit_to_space, required_values
from workbench.study.space import Param, load_space, narrow

SIZE = {"n_train": 50, "length": 150}


@pytest.mark.parametrize("gpu", [False, True])
@pytest.mark.parametrize("family", DEEP_FAMILIES)
def test_every_default_is_expressible_unchanged_in_the_shipped_space(family: str, gpu: bool) -> None:
    space = load_space(family)
    for config in default_configs(family, **SIZE, gpu=gpu):
        assert fit_to_space(config, space) == {k: v for k, v in config.items() if k in space}


def test_the_conv_defaults_are_the_fcn_and_a_resnet_like_variant_scaled_to_the_data() -> None:
    fcn, resnet = default_configs("conv1d", **SIZE)
    assert (fcn["kernels"], fcn["widths"], fcn["norm"], fcn["residual"]) == ("shrinking", "fcn", "batch", False)
    assert resnet["residual"] is True and resnet["widths"] == "flat"
    assert fcn["channels"] == 32 and default_configs("conv1d", n_train=5000, length=300)[0]["channels"] == 64
    linear_first = [c["depth"] for c in default_configs("mlp", **SIZE)]
    assert sorted(linear_first) == [0, 3]


def test_lite_at_its_published_settings_is_conv1ds_third_default_where_a_gpu_trains() -> None:
    lite = default_configs("conv1d", **SIZE, gpu=True)[2]
    assert (lite["arch"], lite["channels"], lite["kernel_size"], lite["dilation_growth"]) == ("lite", 32, 41, 2)
    assert lite["lr"] == 1e-3 and lite["kernels"] == "shrinking" and lite["residual"] is False
    assert len(default_configs("conv1d", **SIZE)) == 2  # on a CPU it is the sampler's to try (see defaults.py)
    # On sequences shorter than its head kernel it runs with the longest kernel the data allows.
    narrowed, _ = narrow(load_space("conv1d"), {}, min_length=12, keep=required_values("conv1d", **SIZE, gpu=True))
    assert fit_to_space(lite, narrowed)["kernel_size"] == 11


def test_a_study_on_a_gpu_machine_enqueues_lite_and_names_it_default_3(
    make_experiment: Callable[..., ExperimentConfig], monkeypatch: pytest.MonkeyPatch
) -> None:
    from workbench.models import devices

    monkeypatch.setattr(devices, "has_gpu", lambda: True)  # the defaults are chosen where the study is created
    config = make_experiment(families=["conv1d"], spaces_dir=None, **{"budget.trials": 3})
    exp = run_study(config, echo=lambda _: None, accelerator="cpu")
    trials = exp.study("conv1d").get_trials(deepcopy=False)
    assert [attrs.default_number(t) for t in trials] == [1, 2, 3]
    assert trials[2].params["arch"] == "lite" and trials[2].state == TrialState.COMPLETE
    assert trials_frame(exp)["origin"].tolist() == ["default #1", "default #2", "default #3"]


def _waves(length: int, noise: float, n: int = 40) -> wb.Dataset:
    """Slow sine waves (a leaf outline's smoothness) plus white noise of the given scale."""
    rng = np.random.default_rng(0)
    t = np.linspace(0, 1, length)
    X = np.sin(2 * np.pi * rng.uniform(1, 3, (n, 1, 1)) * t + rng.uniform(0, 6, (n, 1, 1)))
    return wb.from_array(X + noise * rng.standard_normal(X.shape), np.arange(n) % 2, layout="NCL")


def test_long_smooth_series_are_averaged_over_steps_and_rough_or_short_ones_are_not() -> None:
    assert default_downsample(_waves(300, 0.01)) == 4
    assert default_downsample(_waves(200, 0.01)) == 2  # 4 would leave 50 steps, fewer than 64
    assert default_downsample(_waves(100, 0.01)) == 1
    assert default_downsample(_waves(300, 1.0)) == 1  # step means keep about half of white noise's energy
    assert default_downsample(wb.synthetic.per_step_labels(20, 300)) == 1  # per-step labels need every step
    fcn, resnet = default_configs("conv1d", **SIZE, downsample=4)
    hybrid = default_configs("hybrid", **SIZE, downsample=4)[0]
    assert fcn["downsample"] == resnet["downsample"] == hybrid["downsample"] == 4
    assert required_values("conv1d", **SIZE, downsample=4)["downsample"] == [4]


def test_a_study_of_long_smooth_series_starts_from_downsampled_defaults(
    make_experiment: Callable[..., ExperimentConfig], tmp_path: Path
) -> None:
    waves, path = _waves(300, 0.01), tmp_path / "waves.npz"
    np.savez(path, X=waves.X, y=waves.y)
    exp = prepare(make_experiment(data=str(path), families=["conv1d"], spaces_dir=None), echo=lambda _: None)
    queued = exp.study("conv1d").get_trials(deepcopy=False, states=(TrialState.WAITING,))
    assert [t.system_attrs["fixed_params"]["downsample"] for t in queued] == [4, 4]  # the FCN and the ResNet


def test_the_data_narrows_the_factors_the_sampler_may_average_over() -> None:
    space = load_space("conv1d")
    assert space["downsample"].choices == (1, 2, 4)
    narrowed, changes = narrow(space, {}, min_length=150, max_downsample=2)
    assert narrowed["downsample"].choices == (1, 2) and any(c.startswith("downsample:") for c in changes)
    narrowed, _ = narrow(space, {}, min_length=150, max_downsample=1)
    assert narrowed["downsample"].choices == (1,)


def test_a_hint_narrows_the_space_but_keeps_the_defaults_values() -> None:
    space = {"kernel_size": Param("kernel_size", choices=(3, 5, 7, 9, 11))}
    keep = required_values("conv1d", **SIZE)
    narrowed, changes = narrow(space, {"kernel_size": [3, 5]}, min_length=150, keep=keep)
    assert narrowed["kernel_size"].choices == (3, 5, 7) and "profile hint" in changes[0]
    # The data still wins: a kernel longer than the shortest sequence cannot be kept.
    narrowed, _ = narrow(space, {"kernel_size": [3, 5]}, min_length=5, keep=keep)
    assert narrowed["kernel_size"].choices == (3, 5)
    assert fit_to_space(default_configs("conv1d", **SIZE)[0], narrowed)["kernel_size"] == 5


def test_a_users_space_gets_the_nearest_values_it_allows() -> None:
    space = {
        "channels": Param("channels", choices=(4, 8)),
        "lr": Param("lr", low=1e-4, high=1e-3, log=True),
        "norm": Param("norm", choices=("layer",)),
    }
    fitted = fit_to_space(default_configs("conv1d", **SIZE)[0], space)
    assert fitted == {"channels": 8, "lr": 1e-3, "norm": "layer"}


def test_a_study_runs_its_defaults_first_and_names_them(make_experiment: Callable[..., ExperimentConfig]) -> None:
    exp = run_study(make_experiment(families=["mlp", "conv1d"]), echo=lambda _: None)
    # This test's conv1d space has no residual/widths/kernels: its FCN and ResNet defaults are one configuration.
    for family, n_defaults in (("mlp", 2), ("conv1d", 1)):
        trials = exp.study(family).get_trials(deepcopy=False)
        assert [attrs.default_number(t) for t in trials[:n_defaults]] == list(range(1, n_defaults + 1))
        assert all(attrs.default_number(t) is None for t in trials[n_defaults:])
        assert all(t.state == TrialState.COMPLETE for t in trials[:n_defaults])
    frame = trials_frame(exp)
    assert frame.groupby("family")["origin"].apply(list).to_dict()["mlp"] == [
        "default #1",
        "default #2",
        "sampler",
        "sampler",
    ]
    # The classic MLP default, fitted to this test's small space.
    assert exp.study("mlp").trials[0].params["depth"] == 1


def test_a_budget_smaller_than_the_portfolio_runs_only_the_first_defaults(
    make_experiment: Callable[..., ExperimentConfig],
) -> None:
    exp = run_study(make_experiment(families=["conv1d"], **{"budget.trials": 1}), echo=lambda _: None)
    trials = exp.study("conv1d").get_trials(deepcopy=False)
    assert len(trials) == 1 and attrs.default_number(trials[0]) == 1 and trials[0].state == TrialState.COMPLETE
    resumed = run_study(make_experiment(families=["conv1d"], **{"budget.trials": 2}), echo=lambda _: None)
    trials = resumed.study("conv1d").get_trials(deepcopy=False)
    assert [attrs.default_number(t) for t in trials] == [1, None]  # a resume does not enqueue again


def test_a_study_can_start_from_the_sampler_alone(make_experiment: Callable[..., ExperimentConfig]) -> None:
    exp = run_study(make_experiment(families=["mlp"], start_from_defaults=False), echo=lambda _: None)
    assert all(attrs.origin(t) == "sampler" for t in exp.study("mlp").get_trials(deepcopy=False))


def test_after_a_kfold_study_the_final_models_train_on_the_whole_training_split(
    make_experiment: Callable[..., ExperimentConfig],
) -> None:
    config = make_experiment(families=["mlp"], validation={"strategy": "kfold", "folds": 3, "repeats": 1})
    exp = run_study(config, echo=lambda _: None)
    table, _ = evaluate(exp, echo=lambda _: None)
    best = exp.study("mlp").best_trial
    assert (table["val"] == best.value).all()  # the configuration's cross-validated score
    assert table["test"].notna().all()
