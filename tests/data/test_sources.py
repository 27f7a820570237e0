"""Every source: arrays, frames (wide and long), files, built-in datasets."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from workbench import from_frame, list_datasets, load, read_file, synthetic


def test_wide_frame_is_tabular_with_feature_names() -> None:
    df = pd.DataFrame({"height": [1.7, 1.8, 1.6, 1.9], "weight": [60, 80, 55, 90], "label": ["a", "b", "a", "b"]})
    ds = from_frame(df, target="label")
    assert ds.X.shape == (4, 1, 2)
    assert ds.position_names == ("height", "weight")
    assert ds.order == "unknown"


def test_wide_frame_as_time_steps() -> None:
    df = pd.DataFrame(np.arange(12).reshape(3, 4), columns=["t0", "t1", "t2", "t3"])
    df["y"] = [0, 1, 0]
    ds = from_frame(df, target="y", layout="NL")
    assert ds.X.shape == (3, 1, 4) and ds.order == "ordered"


def test_long_frame_builds_variable_length_multichannel_sequences() -> None:
    rows = []
    for seq_id, length, label in [("a", 3, "walk"), ("b", 5, "run"), ("c", 4, "walk")]:
        for t in range(length):
            rows.append({"id": seq_id, "t": t, "acc_x": t * 1.0, "acc_y": -t * 1.0, "activity": label})
    df = pd.DataFrame(rows).sample(frac=1.0, random_state=0)  # order of rows must not matter
    ds = from_frame(df, target="activity", id_col="id", time_col="t")
    assert ds.X.shape == (3, 2, 5)
    assert ds.channel_names == ("acc_x", "acc_y")
    assert ds.lengths.tolist() == [3, 5, 4]
    assert ds.X[1, 0].tolist() == [0, 1, 2, 3, 4]
    assert [ds.classes[i] for i in ds.y] == ["walk", "run", "walk"]  # type: ignore[index]


def test_long_frame_with_groups_and_static_features() -> None:
    rows = []
    for i in range(8):
        for t in range(6):
            rows.append({"id": i, "t": t, "v": float(t + i), "subject": i // 2, "age": 30 + i, "y": i % 2})
    ds = from_frame(pd.DataFrame(rows), target="y", id_col="id", time_col="t", group_col="subject", static_cols=["age"])
    assert ds.static is not None and ds.static[:, 0].tolist() == [30 + i for i in range(8)]
    assert ds.groups is not None and ds.groups.tolist() == [0, 0, 1, 1, 2, 2, 3, 3]
    fit, val = ds.split(0.25, seed=0)
    assert fit.groups is not None and val.groups is not None
    assert not set(fit.groups) & set(val.groups)


def test_long_frame_with_changing_labels_is_per_step() -> None:
    rows = [{"id": i, "t": t, "v": float(t), "y": int(t >= 2)} for i in range(3) for t in range(4)]
    ds = from_frame(pd.DataFrame(rows), target="y", id_col="id", time_col="t")
    assert ds.task == "per_step" and ds.y.shape == (3, 4)


def test_csv_and_parquet(tmp_path: Path) -> None:
    df = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0], "b": [0.5, 0.1, 0.2, 0.3], "target": [0, 1, 0, 1]})
    df.to_csv(tmp_path / "d.csv", index=False)
    df.to_parquet(tmp_path / "d.parquet")
    a = read_file(tmp_path / "d.csv", target="target")
    b = load(str(tmp_path / "d.parquet"), target="target")
    np.testing.assert_array_equal(a.X, b.X)
    assert a.name == "d" and a.X.shape == (4, 1, 2)


def test_npz_and_npy(tmp_path: Path) -> None:
    x = np.random.default_rng(0).normal(size=(6, 30, 2))  # Keras style
    y = np.array([0, 1] * 3)
    np.savez(tmp_path / "d.npz", X=x, y=y)
    np.save(tmp_path / "x.npy", x)
    a = read_file(tmp_path / "d.npz", layout="NLC")
    b = read_file(tmp_path / "x.npy", layout="NLC", y=y)
    assert a.X.shape == b.X.shape == (6, 2, 30)
    np.testing.assert_allclose(a.X[:, 0, :], x[:, :, 0].astype(np.float32))


def test_ts_file_in_ucr_format(tmp_path: Path) -> None:
    lines = [
        "@problemName Tiny",
        "@timeStamps false",
        "@univariate true",
        "@equalLength false",
        "@classLabel true a b",
        "@data",
        "1,2,3:a",
        "1,2,3,4,5:b",
        "2,1:a",
        "5,4,3,2:b",
    ]
    path = tmp_path / "tiny.ts"
    path.write_text("\n".join(lines) + "\n")
    ds = read_file(path)
    assert ds.X.shape == (4, 1, 5)
    assert ds.lengths.tolist() == [3, 5, 2, 4]
    assert ds.classes == ("a", "b")


def test_list_datasets_covers_aeon_and_sklearn() -> None:
    table = list_datasets()
    names = set(table["name"])
    expected = {"GunPoint", "BasicMotions", "JapaneseVowels", "breast_cancer", "wine", "iris", "digits", "diabetes"}
    assert expected <= names
    assert bool(table.set_index("name").loc["JapaneseVowels", "variable_length"])
    assert table.set_index("name").loc["diabetes", "task"] == "regression"


# name: (samples, channels, max length, task, variable length)
EXPECTED_BUILTINS = {
    "ACSF1": (200, 1, 1460, "multiclass", False),
    "ArrowHead": (211, 1, 251, "multiclass", False),
    "BasicMotions": (80, 6, 100, "multiclass", False),
    "CardanoSentiment": (107, 2, 24, "regression", False),
    "Covid3Month": (201, 1, 84, "regression", False),
    "Covid3Month_disc": (201, 1, 84, "multiclass", False),
    "GunPoint": (200, 1, 150, "binary", False),
    "ItalyPowerDemand": (1096, 1, 24, "binary", False),
    "JapaneseVowels": (640, 12, 29, "multiclass", True),
    "JapaneseVowels_eq": (640, 12, 25, "multiclass", False),
    "OSULeaf": (442, 1, 427, "multiclass", False),
    "PickupGestureWiimoteZ": (100, 1, 361, "multiclass", True),
    "PickupGestureWiimoteZ_eq": (100, 1, 361, "multiclass", False),
    "UnitTest": (42, 1, 24, "binary", False),
    "breast_cancer": (569, 1, 30, "binary", False),
    "wine": (178, 1, 13, "multiclass", False),
    "iris": (150, 1, 4, "multiclass", False),
    "digits": (1797, 1, 64, "multiclass", False),
    "diabetes": (442, 1, 10, "regression", False),
}


def test_expected_builtins_are_exactly_the_listed_ones() -> None:
    assert set(list_datasets()["name"]) == set(EXPECTED_BUILTINS)


@pytest.mark.parametrize("name", sorted(EXPECTED_BUILTINS))
def test_every_builtin_dataset_loads_offline_with_its_shape(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("a built-in dataset tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    ds = load(name)
    n, c, length, task, variable = EXPECTED_BUILTINS[name]
    assert (ds.n_samples, ds.n_channels, ds.max_length, ds.task, ds.variable_length) == (n, c, length, task, variable)
    assert ds.X.dtype == np.float32
    assert np.isfinite(ds.X).all()
    if name[0].isupper():  # aeon datasets carry the archive's official split
        assert ds.has_official_split


def test_synthetic_generators_have_the_promised_structure() -> None:
    assert synthetic.sequences_with_static().n_static == 4
    assert synthetic.per_step_labels(10).y.shape == (10, 64)
    assert synthetic.variable_length_motifs(30).variable_length
    shuffled = synthetic.shuffled_motifs(50, seed=0)
    ordered = synthetic.ordered_motifs(50, seed=0)
    np.testing.assert_array_equal(np.sort(shuffled.X, axis=-1), np.sort(ordered.X, axis=-1))
    assert not np.array_equal(shuffled.X, ordered.X)
