"""Every walkthrough notebook runs top to bottom with ``QUICK = True`` and produces its key result.

Each notebook ends with a cell tagged ``key-results`` that prints its findings as JSON; the
tests read that back from the executed copy and check the findings themselves, not only
that the notebook ran. Notebooks execute in a temporary folder (they write ``runs/``);
notebook 5 opens the experiment that notebook 4 stored there.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import nbformat
import papermill
import pytest

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
ALL = sorted(NOTEBOOKS.glob("*.ipynb"))


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("notebooks")


def run(name: str, workdir: Path) -> dict[str, Any]:
    """Execute ``notebooks/<name>`` with QUICK set; return what its key-results cell printed."""
    out = workdir / f"executed-{name}"
    papermill.execute_notebook(
        str(NOTEBOOKS / name), str(out), parameters={"QUICK": True}, cwd=str(workdir), progress_bar=False
    )
    nb = nbformat.read(out, as_version=4)
    cell = next(c for c in nb.cells if "key-results" in c.metadata.get("tags", []))
    text = "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")
    return dict(json.loads(text))


def test_the_notebooks_are_committed_clean_with_a_quick_parameter() -> None:
    assert [p.name[:3] for p in ALL] == ["01_", "02_", "03_", "04_", "05_", "06_"]
    for path in ALL:
        nb = nbformat.read(path, as_version=4)
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert all(not c.outputs and c.execution_count is None for c in code), f"{path.name} has outputs"
        parameters = [c for c in code if "parameters" in c.metadata.get("tags", [])]
        assert len(parameters) == 1 and "QUICK = True" in parameters[0].source, path.name
        assert sum("key-results" in c.metadata.get("tags", []) for c in code) == 1, path.name


def test_conv1d_shapes(workdir: Path) -> None:
    r = run("01_conv1d_shapes.ipynb", workdir)
    assert "expected input[1, 128, 64] to have 64 channels, but got 128 channels instead" in r["pytorch_error"]
    assert "x.unsqueeze(1) → (128, 1, 64)" in r["doctor_fix"] and "x.T.unsqueeze(0) → (1, 64, 128)" in r["doctor_fix"]
    assert r["unbatched_output"] == [32, 126] and r["batched_output"] == [1, 32, 126]
    assert (r["valid_length"], r["same_length"]) == (62, 64) and r["pooled_model_output"] == [4, 3, 29]
    ok = r["ok_by_case"]
    assert not ok["(128, 64) into Conv1d(64)"] and ok["(128, 1, 64) into Conv1d(1)"] and ok["(128, 64) into Linear(64)"]
    assert not ok["(8, 128, 64) channels-last into Conv1d(64)"] and ok["(8, 64, 128) after permute"]
    assert not ok["per-step labels, pooling model"] and ok["per-step labels, 'same' + 1×1 head"]


@pytest.mark.slow
def test_linear_or_conv1d(workdir: Path) -> None:
    r = run("02_linear_or_conv1d.ipynb", workdir)
    assert r["recommendations"] == {"GunPoint": "conv1d", "breast_cancer": "mlp", "table_128x64": "mlp"}
    assert all("The profile recommended" in statement for statement in r["verdicts"].values())
    assert r["best_deep"]["GunPoint"] == "conv1d" and r["recommendation_held"]["GunPoint"] is True
    # The table was studied in memory with a test split of its own: its 32 last rows, kept apart.
    assert r["table_test_samples"] == 32 and r["table_split"].startswith("official split of the source: 128 train")


def test_variable_length(workdir: Path) -> None:
    r = run("03_variable_length.ipynb", workdir)
    assert "stack expects each tensor to be equal size" in r["stack_error"]
    assert r["padded_shape"] == [640, 12, 29] and r["length_range"] == [7, 29]
    assert r["masked_mean"] == r["true_mean"] != r["naive_mean"]
    assert r["flatten_ok"] is False and r["pooling_ok"] is True
    waste = r["padding_share"]
    assert waste["length buckets of 32"] < waste["random batches of 32"] / 3
    assert r["conv1d_test_acc"] > 0.9 and len(r["conv_predictions"]) == 3
    assert "cannot read length 44" in r["mlp_error"]


@pytest.mark.slow
def test_model_selection_study_then_results_dashboard(workdir: Path) -> None:
    study = run("04_model_selection_study.ipynb", workdir)
    assert study["families"] == ["mlp", "conv1d", "hybrid", "linear", "gbm", "minirocket"]
    assert study["validation"] == "kfold"
    assert set(study["trials_before_resume"].values()) <= {1, 2, 3}  # a family whose search is done stops
    for family, after in study["trials_after_resume"].items():
        stopped = study["stopped"][family]
        assert after == 5 or (stopped and "stopped after" in stopped), (family, after, stopped)
    before, after = study["trials_before_resume"], study["trials_after_resume"]
    assert sum(after.values()) > sum(before.values()), (before, after)  # the raised budget was spent...
    assert any(n == 5 for n in after.values()), (after, study["stopped"])  # ...in full where a search goes on
    assert study["third_run_added_nothing"] is True
    assert set(study["test_means"]) == set(study["families"]) and study["recommended"] == "conv1d"
    for low, high in study["ci"].values():
        assert 0.0 <= low <= high <= 1.0

    results = run("05_results_dashboard.ipynb", workdir)
    assert results["verdict"] == study["verdict"]  # the stored experiment of notebook 4, reopened
    assert (workdir / results["report"]).is_file() and results["report_self_contained"] is True
    assert results["report_charts"] >= 10
    assert {f"walkthrough/{f}" for f in study["families"]} <= set(results["dashboard_studies"])
    assert results["lab_dashboard_storage"].startswith("sqlite:////") and results["lab_dashboard_storage"].endswith(
        "walkthrough/study.db"
    )
    assert (workdir / results["comparison"]).is_file()
    assert set(results["mean_ranks"]) == {"mlp", "conv1d", "linear"}


@pytest.mark.slow  # 80 s: it trains models on a 292,000-step recording (make test runs it)
def test_long_recording(workdir: Path) -> None:
    r = run("06_long_recording.ipynb", workdir)
    assert r["call_in_warning"] and (r["window"], r["step"]) == (256, 64)  # sized from the measured dependence
    assert r["view"] is True and r["windows"] == (292_000 - 256) // 64 + 1
    assert r["gap"] >= r["window"]  # the test starts a window's length after the last training reading
    # The leak on real data: a shuffled split of overlapping windows overstates both models.
    assert r["nn_shuffled"] > r["nn_time_ordered"] + 0.03
    assert r["conv1d_shuffled"] > r["conv1d_time_ordered"]
    assert r["per_step_shape"] == [r["windows"], 256]
