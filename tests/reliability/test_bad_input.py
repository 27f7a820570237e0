"""Each bad input raises a WorkbenchError naming what is wrong and the fix."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from workbench import DataError, LayoutError, WorkbenchError, from_array, from_frame, load, read_file


def x3(n: int = 6, c: int = 1, length: int = 10) -> np.ndarray:
    return np.random.default_rng(0).normal(size=(n, c, length))


def test_nan_values_name_their_position_and_the_impute_option() -> None:
    x = x3()
    x[2, 0, 7] = np.nan
    with pytest.raises(DataError, match=r"1 NaN value.*sample 2, channel 0, position 7.*impute='ffill'"):
        from_array(x, [0, 1] * 3, layout="NCL")


def test_impute_fills_explicitly() -> None:
    x = x3()
    x[2, 0, 7] = np.nan
    x[3, 0, 0] = np.inf
    ds = from_array(x, [0, 1] * 3, layout="NCL", impute="ffill")
    assert ds.X[2, 0, 7] == np.float32(x[2, 0, 6])
    assert ds.X[3, 0, 0] == np.float32(x[3, 0, 1])  # a leading gap takes the next value
    assert "imputed" in ds.summary()
    assert from_array(x, [0, 1] * 3, layout="NCL", impute="zero").X[2, 0, 7] == 0.0


def test_trailing_nan_padding_is_recognised() -> None:
    x = x3()
    x[1, :, 6:] = np.nan
    with pytest.raises(DataError, match="pad shorter sequences.*lengths="):
        from_array(x, [0, 1] * 3, layout="NCL")


def test_wrong_rank() -> None:
    with pytest.raises(LayoutError, match=r"expects a 3-D array.*\(6, 10\)"):
        from_array(np.zeros((6, 10)), [0, 1] * 3, layout="NLC")


def test_layout_that_contradicts_the_data() -> None:
    with pytest.raises(LayoutError, match="layout='NLC'"):
        from_array(np.zeros((6, 200, 3)), [0, 1] * 3, layout="NCL")
    with pytest.raises(LayoutError, match="channel_names has 3 names but the data has 200 channels"):
        from_array(np.zeros((6, 200, 3)), [0, 1] * 3, layout="NCL", check_layout=False, channel_names=["x", "y", "z"])
    with pytest.raises(LayoutError, match="per-step labels have length 40.*swapped"):
        from_array(np.zeros((6, 40, 3)), np.tile(np.arange(40) % 2, (6, 1)), layout="NCL", check_layout=False)


def test_label_count_differs_from_samples() -> None:
    with pytest.raises(DataError, match="6 samples but 5 labels.*one label per sample"):
        from_array(x3(), [0, 1, 0, 1, 0], layout="NCL")


def test_empty_dataset() -> None:
    with pytest.raises(DataError, match="empty"):
        from_array(np.zeros((0, 1, 10)), [], layout="NCL")


def test_single_class() -> None:
    with pytest.raises(DataError, match="single class.*'a'"):
        from_array(x3(), ["a"] * 6, layout="NCL")


def test_zero_length_sequences_name_the_sample() -> None:
    with pytest.raises(DataError, match=r"zero-length sequences at sample\(s\) \[1\]"):
        from_array([np.ones(4), np.ones(0), np.ones(3)], [0, 1, 0], layout="NL")


def test_non_numeric_columns_are_named() -> None:
    df = pd.DataFrame({"height": [1.7, 1.8, 1.6], "colour": ["red", "blue", "red"], "y": [0, 1, 0]})
    with pytest.raises(DataError, match=r"\['colour'\] are not numeric.*'red'.*get_dummies"):
        from_frame(df, target="y")


def test_missing_target_column_suggests_close_names() -> None:
    df = pd.DataFrame({"height": [1.7, 1.8], "label": [0, 1]})
    with pytest.raises(DataError, match="'lable' is not in the data. Did you mean 'label'"):
        from_frame(df, target="lable")


def test_unknown_dataset_lists_close_matches() -> None:
    with pytest.raises(DataError, match="Unknown dataset 'GunPiont'.*Did you mean 'GunPoint'"):
        load("GunPiont")
    with pytest.raises(DataError, match="Did you mean.*'breast_cancer'"):
        load("breastcancer")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        read_file(tmp_path / "nope.csv", target="y")


def test_truncated_npz(tmp_path: Path) -> None:
    path = tmp_path / "d.npz"
    np.savez(path, X=np.zeros((10, 1, 50)), y=np.arange(10) % 2)
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(DataError, match="d.npz.*truncated"):
        read_file(path, layout="NCL")


def test_truncated_parquet(tmp_path: Path) -> None:
    path = tmp_path / "d.parquet"
    pd.DataFrame({"a": range(100), "y": [0, 1] * 50}).to_parquet(path)
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(DataError, match="Cannot read.*d.parquet"):
        read_file(path, target="y")


def test_unreadable_csv(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(b"\xff\xfe\x00garbage\x00\n\x00")
    with pytest.raises(DataError, match="bad.csv"):
        read_file(path, target="y")


def test_pickled_npy_is_never_loaded(tmp_path: Path) -> None:
    path = tmp_path / "objects.npy"
    np.save(path, np.array([{"evil": 1}, None], dtype=object), allow_pickle=True)
    with pytest.raises(DataError, match="never unpickles"):
        read_file(path, layout="NL", y=[0, 1])


def test_broken_ts_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.ts"
    path.write_text("@problemName x\n@classLabel true a b\n@data\n1,2,3:a\n1,2,")
    with pytest.raises(DataError, match="broken.ts"):
        read_file(path)


def test_npy_without_layout_asks_for_one(tmp_path: Path) -> None:
    np.save(tmp_path / "x.npy", np.zeros((4, 10)))
    with pytest.raises(LayoutError, match="name its layout"):
        read_file(tmp_path / "x.npy", y=[0, 1, 0, 1])


def test_every_error_is_a_workbench_error() -> None:
    assert issubclass(DataError, WorkbenchError) and issubclass(LayoutError, DataError)


# --------------------------------------------------------------------------- issue 16: each failed before its fix


def test_a_folder_is_not_reported_as_missing(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "train.csv").write_text("a,y\n1,0\n")
    with pytest.raises(DataError, match=r"is a folder, not a data file: pass one of its files, e.g. train.csv"):
        read_file(tmp_path / "data", target="y")


def test_a_semicolon_csv_is_read_with_its_delimiter(tmp_path: Path) -> None:
    """Before: "target 'y' is not in the data" (one column named 'height;weight;y')."""
    path = tmp_path / "european.csv"
    rows = "\n".join(f"{1.5 + i / 10:.1f};{60 + i};{i % 2}".replace(".", ",") for i in range(8))
    path.write_text("height;weight;y\n" + rows + "\n")
    ds = read_file(path, target="y")
    assert ds.X.shape == (8, 1, 2) and ds.X[1, 0, 0] == np.float32(1.6) and ds.n_classes == 2


def test_one_sample_is_not_called_a_single_class() -> None:
    with pytest.raises(DataError, match="has 1 sample.*layout"):
        from_array(np.zeros((1, 1, 10)), [0], layout="NCL")


def test_ffill_refuses_a_channel_or_column_with_no_value() -> None:
    """Before: impute='ffill' silently turned an all-NaN channel into zeros."""
    x = x3(c=2)
    x[:, 1, :] = np.nan
    with pytest.raises(DataError, match="channel 1 has no finite value in any sample; impute='ffill'"):
        from_array(x, [0, 1] * 3, layout="NCL", impute="ffill")
    df = pd.DataFrame({"height": [1.7, 1.8, 1.6, 1.5], "weight": [np.nan] * 4, "y": [0, 1, 0, 1]})
    with pytest.raises(DataError, match="column 'weight' has no finite value"):
        from_frame(df, target="y", impute="zero")


def test_values_beyond_float32_name_their_channel() -> None:
    x = x3(c=3)
    x[4, 2, 5] = 1e39
    with pytest.raises(DataError, match=r"channel 2 \('ch2'\)? ?holds 1e\+39 \(sample 4\).*float32.*Rescale"):
        from_array(x, [0, 1] * 3, layout="NCL", channel_names=["ch0", "ch1", "ch2"])


def test_values_around_1e30_train_instead_of_scoring_chance() -> None:
    """Before: the standardisation statistics overflowed float32 and every score was chance (0.500)."""
    import workbench as wb

    ds = wb.synthetic.ordered_motifs(120, 32, seed=0)
    scores = []
    for scale in (1.0, 1e30):
        train, test = wb.from_array(ds.X.astype(np.float64) * scale, ds.y, layout="NCL").split(0.3, seed=0)
        result = wb.fit(train, "mlp", {"width": 32, "depth": 1}, test=test, max_epochs=30, seed=0)
        scores.append(result.metrics["test_bal_acc"])
    assert scores[1] == pytest.approx(scores[0], abs=0.02) and scores[1] > 0.6, scores  # the scale is irrelevant


def test_an_npy_header_claiming_terabytes_is_refused_before_allocating(tmp_path: Path) -> None:
    path = tmp_path / "huge.npy"
    np.save(path, np.zeros((4, 10)))
    data = path.read_bytes()
    header = b"{'descr': '<f8', 'fortran_order': False, 'shape': (1000000, 1000000, 1000), }"
    magic = b"\x93NUMPY\x01\x00"
    pad = 64 - (len(magic) + 2 + len(header) + 1) % 64
    path.write_bytes(magic + (len(header) + pad + 1).to_bytes(2, "little") + header + b" " * pad + b"\n" + data[128:])
    with pytest.raises(DataError, match=r"claims an array of shape \(1000000, 1000000, 1000\).*7.45e\+06 GiB"):
        read_file(path, layout="NL", y=[0, 1, 0, 1])
    archive = tmp_path / "huge.npz"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("X.npy", path.read_bytes())
        z.writestr("y.npy", b"")
    with pytest.raises(DataError, match=r"huge.npz\['X'\]: its header claims"):
        read_file(archive, layout="NL")


# --------------------------------------------------------------------------- issue 35: each failed before its fix


def _csv(path: Path, header: str, rows: list[str]) -> Path:
    path.write_text(header + "\n" + "\n".join(rows) + "\n")
    return path


def test_labels_01_and_1_stay_two_classes(tmp_path: Path) -> None:
    """Before: pandas parsed the label column as integers and merged '01' into '1' (2 classes)."""
    rng = np.random.default_rng(0)
    rows = [f"{rng.normal():.3f},{rng.normal():.3f},{['01', '1', '2'][i % 3]}" for i in range(60)]
    ds = load(_csv(tmp_path / "labels.csv", "a,b,y", rows), target="y")
    assert ds.classes == ("01", "1", "2") and np.bincount(ds.y).tolist() == [20, 20, 20]
    plain = [f"{rng.normal():.3f},{rng.normal():.3f},{i % 3}" for i in range(60)]  # numbers stay numbers
    assert load(_csv(tmp_path / "plain.csv", "a,b,y", plain), target="y").classes == ("0", "1", "2")


def test_a_class_named_na_is_a_class_and_only_an_empty_cell_is_missing(tmp_path: Path) -> None:
    """Before: "Target column 'y' is missing at rows [0, 3, …]"."""
    rows = [f"{i * 0.1:.1f},{i % 5},{['NA', 'B', 'C'][i % 3]}" for i in range(30)]
    assert load(_csv(tmp_path / "na.csv", "a,b,y", rows), target="y").classes == ("B", "C", "NA")
    rows[4] = "0.4,4,"
    with pytest.raises(DataError, match=r"missing at rows \[4\]"):
        load(_csv(tmp_path / "gap.csv", "a,b,y", rows), target="y")


def test_a_semicolon_csv_with_point_decimals_and_text_labels_is_read(tmp_path: Path) -> None:
    """Before: re-read with decimal=',' because the label was not a number: "f0 holds '0.126' … not numeric"."""
    rows = [f"0.{100 + i};{i}.5;{['cat', 'dog'][i % 2]}" for i in range(20)]
    ds = load(_csv(tmp_path / "semi.csv", "f0;f1;y", rows), target="y")
    assert ds.X[1, 0, 0] == pytest.approx(0.101) and ds.classes == ("cat", "dog")
    european = [f"0,{100 + i};{i},5;{i % 7},25" for i in range(20)]  # decimal commas, a regression target
    eu = load(_csv(tmp_path / "eu.csv", "f0;f1;y", european), target="y")
    assert eu.task == "regression" and eu.X[1, 0, 1] == pytest.approx(1.5) and eu.y[1] == pytest.approx(1.25)


def test_float_labels_0_and_1_are_two_classes_and_the_inference_is_said() -> None:
    """Before: a regression study without a word."""
    ds = from_array(x3(20), (np.arange(20) % 2).astype(float), layout="NCL")
    assert ds.task == "binary" and "two whole numbers (0.0/1.0)" in ds.summary()
    assert "task='regression' reads them otherwise" in ds.summary()
    values = from_array(x3(20), np.linspace(0, 1, 20), layout="NCL")
    assert values.task == "regression" and "20 distinct values" in values.summary()
    assert from_array(x3(20), (np.arange(20) % 2).astype(float), layout="NCL", task="regression").task == "regression"


def test_the_task_has_a_config_key_and_a_flag(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    from workbench import make_config

    rows = [f"{i * 0.1:.1f},{(i % 2):.1f}" for i in range(20)]
    path = _csv(tmp_path / "t.csv", "a,y", rows)
    assert make_config({"name": "t", "data": str(path), "task": "regression"}).load_options()["task"] == "regression"
    info = cli("info", path, "--target", "y", "--task", "regression")
    assert info.code == 0 and "task: regression" in info.out
    inferred = cli("info", path, "--target", "y")
    assert "task: binary" in inferred.out and "--task regression reads them otherwise" in inferred.out


def test_a_constant_regression_target_is_refused() -> None:
    """Before: accepted, and the verdict said "linear wins … p = 0.003"."""
    with pytest.raises(DataError, match=r"the same label \(3\.5\) for every sample"):
        from_array(x3(10), np.full(10, 3.5), layout="NCL")


def test_many_channels_of_a_short_sequence_give_the_fix_of_the_interface_in_use(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    """Before: "pass check_layout=False" on the command line too, which has no such flag."""
    path = tmp_path / "wide.npz"
    np.savez(path, X=np.random.default_rng(0).normal(size=(40, 500, 3)), y=np.arange(40) % 2)
    with pytest.raises(LayoutError, match="pass check_layout=False"):
        load(path, layout="NCL")
    refused = cli("info", path, "--layout", "NCL")
    assert refused.code == 2 and "--no-check-layout" in refused.err and "check_layout=False" not in refused.err
    accepted = cli("info", path, "--layout", "NCL", "--no-check-layout")
    assert accepted.code == 0 and "500 channels × length 3" in accepted.out
    from workbench import make_config

    assert make_config({"name": "w", "data": str(path), "check_layout": False}).load_options()["check_layout"] is False


@pytest.mark.parametrize("value", [float("inf"), "9" * 310, ".inf"])
def test_an_infinite_time_limit_is_refused_in_one_line(value: object) -> None:
    """Before: OverflowError: cannot convert float infinity to integer, in the announcement."""
    from workbench.config import config_from_yaml
    from workbench.errors import ConfigError

    with pytest.raises(ConfigError, match="beyond any study"):
        if value == ".inf":
            config_from_yaml("name: x\ndata: GunPoint\ntime_limit: .inf\n", "x.yaml")
        else:
            from workbench import make_config

            make_config({"name": "x", "data": "GunPoint", "time_limit": value})


def test_home_and_variables_in_paths_are_expanded(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Before: folders named '~' and '$HOME' were created."""
    from workbench import make_config

    monkeypatch.setenv("HOME", str(tmp_path))
    config = make_config({"name": "x", "data": "~/d.csv", "runs_dir": "$HOME/runs", "storage": "sqlite:///~/s.db"})
    assert (config.data, config.runs_dir) == (f"{tmp_path}/d.csv", f"{tmp_path}/runs")
    assert config.storage == f"sqlite:///{tmp_path}/s.db"


@pytest.mark.parametrize(
    ("params", "said"),
    [({"depth": 2.5}, "'depth' parameter must be a whole number, but got 2.5"), ([1, 2], "params must map")],
)
def test_fit_refuses_parameters_of_the_wrong_type(params: object, said: str) -> None:
    """Before: TypeError from inside the model's construction."""
    from workbench import ConfigError, fit, synthetic

    with pytest.raises(ConfigError, match=said):
        fit(synthetic.ordered_motifs(24, 16), "conv1d", params=params, max_epochs=1)  # type: ignore[arg-type]


def test_predict_refuses_no_samples_and_text() -> None:
    """Before: `torch.cat(): expected a non-empty list` and a ValueError from NumPy."""
    from workbench import fit, predict, synthetic

    ds = synthetic.ordered_motifs(24, 16)
    model = fit(ds, "mlp", max_epochs=1).model
    assert model is not None
    with pytest.raises(DataError, match="predict got 0 samples"):
        predict(model, ds.X[:0])
    with pytest.raises(DataError, match="convert it to a float array"):
        predict(model, np.full((2, 1, 16), "a"))


def test_explain_shape_checks_its_module_and_shape_and_never_allocates_a_shape() -> None:
    """Before: a RuntimeError for (2, -3, 10), 120 GB allocated for (100000, 3, 100000), and an
    AttributeError for a function."""
    from torch import nn

    from workbench import ConfigError, ShapeError, explain_shape

    model = nn.Sequential(nn.Conv1d(3, 8, 5, padding="same"), nn.ReLU(), nn.AdaptiveAvgPool1d(1), nn.Flatten())
    with pytest.raises(ShapeError, match=r"The shape \(2, -3, 10\) has an axis below 1"):
        explain_shape(model, (2, -3, 10))
    report = explain_shape(model, (100_000, 3, 100_000))  # traced on the meta device: no memory
    assert report.ok and report.output_shape == (100_000, 8)
    with pytest.raises(ConfigError, match="explain_shape reads a torch.nn.Module"):
        explain_shape(lambda x: x, (2, 3, 10))  # type: ignore[arg-type]
