"""Inputs that once exhausted memory, hung, or slipped through: each now ends in one clear error.
Every test here failed on the code before its fix (issue 23)."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from workbench import DataError, load, make_config
from workbench.config import config_from_yaml
from workbench.errors import ConfigError


def test_a_repeated_label_column_is_refused_not_read_as_a_feature(tmp_path: Path) -> None:
    """Before: pandas renamed the second 'y' to 'y.1' and the workbench trained on it."""
    path = tmp_path / "dup.csv"
    path.write_text("a,y,b,y\n" + "".join(f"{i},{i % 2},{2 * i},{i % 3}\n" for i in range(20)))
    with pytest.raises(DataError, match=r"more than one column named 'y' \(columns 2 and 4"):
        load(path, target="y")
    frame = pd.DataFrame([[1, 0, 2, 1]] * 20, columns=["a", "y", "b", "y"])
    with pytest.raises(DataError, match="The DataFrame has more than one column named 'y'"):
        load(frame, target="y")


def test_a_parquet_file_with_repeated_columns_is_refused_by_name(tmp_path: Path) -> None:
    """Before: a pyarrow schema dump and "Is the file complete?"."""
    path = tmp_path / "dup.parquet"
    columns = [pa.array(range(20)), pa.array([i % 2 for i in range(20)]), pa.array(range(20))]
    pq.write_table(pa.table(columns, names=["a", "y", "a"]), path)
    with pytest.raises(DataError, match=r"dup.parquet has more than one column named 'a' \(columns 1 and 3") as info:
        load(path, target="y")
    assert "schema" not in str(info.value).lower()


def _alias_bomb(levels: int = 9, under: str | None = None) -> str:
    lines = ["m0: &m0 [a, b, c, d, e, f, g, h, i]"]
    lines += [f"m{k}: &m{k} [{', '.join([f'*m{k - 1}'] * 9)}]" for k in range(1, levels + 1)]
    body = "\n".join(lines) + "\n"
    if under is not None:
        body += f"{under}: *m{levels}\n"
    return "name: x\ndata: GunPoint\n" + body


@pytest.mark.timeout(120)  # a hang guard: before, building the message hung
@pytest.mark.parametrize("under", [None, "families"])
def test_a_yaml_alias_bomb_is_refused_before_it_is_expanded(under: str | None) -> None:
    """Before: a MemoryError after 36 s, or a hang while the error message was built."""
    with pytest.raises(ConfigError, match=r"line 4: YAML aliases \(\*m0\) are not allowed") as info:
        config_from_yaml(_alias_bomb(under=under), "bomb.yaml")
    assert len(str(info.value)) < 300


def test_config_errors_stay_short_whatever_the_input() -> None:
    huge = ["x" * 1000] * 10_000
    with pytest.raises(ConfigError) as info:
        make_config({"name": "x", "data": "GunPoint", "families": huge, "baselines": {"a": huge}})
    assert len(str(info.value)) < 2000


@pytest.mark.parametrize("seed", [-1, 2**32, 10**30])
def test_a_seed_out_of_range_is_a_config_error(seed: int) -> None:
    """Before: scikit-learn's InvalidParameterError traceback when the split was drawn."""
    with pytest.raises(ConfigError, match=r"seed: Input should be (greater|less) than or equal to"):
        make_config({"name": "x", "data": "GunPoint", "seed": seed})
    assert make_config({"name": "x", "data": "GunPoint", "seed": 2**32 - 1}).seed == 2**32 - 1


def _npz_bomb(path: Path, shape: tuple[int, ...]) -> None:
    """An .npz whose X claims (and, decompressed, holds) ``shape`` float64 zeros: a few MB on disk."""
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False, "shape": shape})
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("X.npy", "w", force_zip64=True) as f:
            f.write(header.getvalue())
            zeros = bytes(2**24)
            for _ in range(int(np.prod(shape)) * 8 // len(zeros)):
                f.write(zeros)
        y = io.BytesIO()
        np.save(y, np.arange(shape[0]) % 2)  # two classes: a constant target is refused
        archive.writestr("y.npy", y.getvalue())


def test_a_zip_bomb_in_an_npz_is_refused_before_it_is_decompressed(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Before: the entry's own size claim passed the check and reading ended in _ArrayMemoryError.
    Here 1 GiB of zeros (a 1 MB file) against a cap lowered to 0.5 GiB, which the message says how to raise."""
    path = tmp_path / "bomb.npz"
    _npz_bomb(path, (2**17, 1, 1024))
    assert path.stat().st_size < 5 * 2**20
    monkeypatch.setenv("WORKBENCH_MAX_ARRAY_GB", "0.5")
    with pytest.raises(DataError, match=r"holds 1 GiB, more than the 0.5 GiB .* WORKBENCH_MAX_ARRAY_GB=2"):
        load(path, layout="NCL")


def test_an_array_larger_than_the_free_memory_is_refused(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import workbench.data.files as files

    path = tmp_path / "big.npz"
    _npz_bomb(path, (2**14, 1, 1024))  # 128 MiB
    monkeypatch.setattr(files, "available_memory", lambda: 100 * 2**20)
    with pytest.raises(DataError, match=r"this machine has 0.0977 GiB free"):
        load(path, layout="NCL")
    monkeypatch.setattr(files, "available_memory", lambda: 2**34)
    assert load(path, layout="NCL").X.shape == (2**14, 1, 1024)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are a POSIX thing")
def test_a_fifo_or_a_link_loop_is_named_for_what_it_is(tmp_path: Path) -> None:
    """Before: both said "does not exist"."""
    fifo, loop, dangling = tmp_path / "pipe.csv", tmp_path / "loop.csv", tmp_path / "gone.csv"
    os.mkfifo(fifo)
    loop.symlink_to(loop)
    dangling.symlink_to(tmp_path / "nothere.csv")
    with pytest.raises(DataError, match="is a FIFO .named pipe., not a regular file"):
        load(fifo, target="y")
    with pytest.raises(DataError, match="symbolic link that leads back to itself"):
        load(loop, target="y")
    with pytest.raises(DataError, match="symbolic link to .*nothere.csv', which does not exist"):
        load(dangling, target="y")


def test_a_ts_file_without_data_says_so(tmp_path: Path) -> None:
    """Before: "Internal layout must be (N, C, L), got shape (0,)"."""
    path = tmp_path / "nodata.ts"
    path.write_text("@problemName x\n@univariate true\n@classLabel true 0 1\n1,2,3:0\n")
    with pytest.raises(DataError, match="nodata.ts has no '@data' line"):
        load(path)


def _ts_with_missing_values(path: Path) -> None:
    rows = [",".join(["?" if (i == 3 and j >= 4) else f"{(i * j) % 7 / 7:.3f}" for j in range(6)]) for i in range(30)]
    header = "@problemName q\n@univariate true\n@equalLength true\n@seriesLength 6\n@classLabel true 0 1\n@data\n"
    path.write_text(header + "".join(f"{row}:{i % 2}\n" for i, row in enumerate(rows)))


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "workbench.cli", *args], capture_output=True, text=True, check=False, cwd=cwd
    )


def test_fixes_are_given_in_the_form_of_the_interface_used(tmp_path: Path) -> None:
    """Before: the command line was told to pass impute='ffill' and "a list of arrays"."""
    _ts_with_missing_values(tmp_path / "q.ts")
    with pytest.raises(DataError, match=r"impute='ffill'.*pass a list of arrays"):
        load(tmp_path / "q.ts")
    done = _cli("info", "q.ts", cwd=tmp_path)
    assert done.returncode == 2 and "--impute ffill" in done.stderr and "impute='ffill'" not in done.stderr
    assert "@equalLength false" in done.stderr
    assert _cli("info", "q.ts", "--impute", "ffill", cwd=tmp_path).returncode == 0
    (tmp_path / "q.yaml").write_text("name: q\ndata: q.ts\nprofile_budget_s: 0\n")
    done = _cli("study", "q.yaml", "--no-evaluate", cwd=tmp_path)
    assert done.returncode == 2 and "impute: ffill" in done.stderr and "--impute" not in done.stderr, done.stderr


def test_a_data_file_name_with_spaces_gives_a_valid_experiment_name(tmp_path: Path) -> None:
    """Before: a regex error about the derived experiment name, with no hint to pass --name."""
    from workbench.cli import _experiment_config

    config = _experiment_config("my data (v2).csv", {})
    assert config.name == "my-data-v2"
    with pytest.raises(ConfigError, match=r"Experiment name 'my data' is not a plain folder name.*--name"):
        _experiment_config("x.csv", {"name": "my data"})


def test_every_problem_after_the_first_twenty_is_counted_not_listed() -> None:
    values = {"name": "x", "data": "GunPoint", **{f"key{i}": i for i in range(50)}}
    with pytest.raises(ConfigError) as info:
        make_config(values)
    assert str(info.value).count("unknown key") == 20
