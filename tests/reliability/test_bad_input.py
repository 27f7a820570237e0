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
