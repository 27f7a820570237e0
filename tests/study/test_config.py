"""Configs are strict: unknown keys and families are errors that list the valid ones."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.config import load_config, make_config
from workbench.errors import ConfigError
from workbench.study.space import load_space, narrow


def test_unknown_key_lists_the_valid_keys(tmp_path: Path) -> None:
    path = tmp_path / "exp.yaml"
    path.write_text("name: x\ndata: GunPoint\nbudgett: {trials: 3}\n")
    with pytest.raises(ConfigError, match=r"unknown key 'budgett'; valid keys here: name, data, .*budget"):
        load_config(path)


def test_unknown_nested_key_lists_the_keys_of_its_section() -> None:
    with pytest.raises(ConfigError, match=r"unknown key 'budget.trails'; valid keys here: trials, time_s, epochs"):
        make_config({"name": "x", "data": "GunPoint", "budget": {"trails": 3}})


def test_unknown_family_lists_the_valid_ones() -> None:
    with pytest.raises(ConfigError, match=r"unknown families \['lstm'\]; valid families: mlp, conv1d, hybrid"):
        make_config({"name": "x", "data": "GunPoint", "families": ["lstm"]})


def test_cli_overrides_win_over_the_file(tmp_path: Path) -> None:
    path = tmp_path / "exp.yaml"
    path.write_text("name: x\ndata: GunPoint\nbudget: {trials: 3}\n")
    config = load_config(path, {"budget.trials": 7, "name": None})
    assert config.budget.trials == 7 and config.name == "x"


def test_yaml_is_read_safely(tmp_path: Path) -> None:
    path = tmp_path / "exp.yaml"
    path.write_text("name: !!python/object/apply:os.system ['echo owned']\ndata: GunPoint\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(path)


def test_default_storage_is_sqlite_in_the_run_folder() -> None:
    config = make_config({"name": "exp", "data": "GunPoint", "runs_dir": "runs"})
    assert config.storage_url == "sqlite:///runs/exp/study.db"


def test_space_files_refuse_parameters_the_family_does_not_have(tmp_path: Path) -> None:
    (tmp_path / "mlp.yaml").write_text("width: {choices: [8]}\nkernel_size: {choices: [3]}\n")
    with pytest.raises(ConfigError, match=r"unknown parameter\(s\) \['kernel_size'\] for 'mlp'"):
        load_space("mlp", tmp_path)


def test_shipped_spaces_are_valid() -> None:
    for family in ("mlp", "conv1d", "hybrid", "linear", "gbm", "minirocket"):
        assert load_space(family)


def test_profile_hints_and_short_sequences_narrow_the_space() -> None:
    space = load_space("conv1d")
    narrowed, changes = narrow(space, {"kernel_size": [3, 5, 7, 9]}, min_length=6)
    assert narrowed["kernel_size"].choices == (3, 5)
    assert len(changes) == 2


def test_flat_baselines_read_variable_length_splits_of_different_widths() -> None:
    import numpy as np

    import workbench as wb
    from workbench.models.baselines import fit_baseline

    ds = wb.synthetic.variable_length_motifs(60, min_length=16, max_length=40, seed=1)
    order = np.argsort(ds.lengths)
    train, val = ds.subset(order[:45]), ds.subset(order[45:])
    assert train.max_length != val.max_length
    for name in ("linear", "gbm", "minirocket"):
        out = fit_baseline(name, {"n_kernels": 500} if name == "minirocket" else {}, train, val)
        assert np.isfinite(out["metrics"]["val_bal_acc"])


def test_experiments_stored_before_validation_strategies_resume_with_their_holdout() -> None:
    config = make_config({"name": "old", "data": "GunPoint", "validation_fraction": 0.2})
    assert config.validation.strategy == "holdout" and config.validation.fraction == 0.2


def test_baselines_silence_one_scikit_learn_warning_around_their_own_calls_only() -> None:
    """A task wrapped by scikit-learn's ``delayed`` that runs outside its ``Parallel`` warns once
    per task: dozens of lines per baseline trial buried a study's progress lines."""
    import warnings

    from sklearn.utils.parallel import delayed

    from workbench.models.baselines import quiet_sklearn_parallel

    def run_task() -> None:
        task, args, kwargs = delayed(sum)([1, 2])
        task(*args, **kwargs)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with quiet_sklearn_parallel():
            run_task()
            warnings.warn("another warning still shows", UserWarning, stacklevel=1)
        run_task()  # outside the scope: not silenced
    messages = [str(w.message) for w in caught]
    assert messages[0] == "another warning still shows"
    assert len(messages) == 2 and "sklearn.utils.parallel.delayed" in messages[1]
