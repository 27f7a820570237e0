"""End to end: ground truth from synthetic data, the real datasets, JSON, CLI, figures."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import workbench as wb
from workbench.cli import app
from workbench.report.figures import profile_figures

FAST = {"budget_s": 60, "n_permutations": 199}


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "dataset", "family"),
    [
        ("ordered motifs", lambda: wb.synthetic.ordered_motifs(200, 64), "conv1d"),
        ("the same motifs, positions shuffled once", lambda: wb.synthetic.shuffled_motifs(200, 64), "mlp"),
        ("unordered table with interactions", lambda: wb.synthetic.tabular_interactions(300, 16), "mlp"),
        ("sequences plus static features", lambda: wb.synthetic.sequences_with_static(200, 64), "hybrid"),
    ],
)
def test_synthetic_ground_truth(name: str, dataset: object, family: str) -> None:
    p = wb.profile(dataset(), **FAST)  # type: ignore[operator]
    assert p.recommendation.family == family, p.summary()


@pytest.mark.slow
def test_rows_that_are_time_steps_are_warned_about() -> None:
    p = wb.profile(wb.synthetic.time_steps_as_rows(), model_test=False)
    assert any("look like time steps" in w for w in p.recommendation.warnings)


@pytest.mark.parametrize(
    ("name", "family"),
    [("GunPoint", "conv1d"), ("ArrowHead", "conv1d"), ("BasicMotions", "conv1d"), ("wine", "mlp")],
)
def test_real_datasets(name: str, family: str) -> None:
    p = wb.profile(wb.load(name))
    assert p.recommendation.family == family, p.summary()


def test_a_real_series_with_its_positions_shuffled_is_mlp() -> None:
    ds = wb.load("ArrowHead")
    p = wb.profile(ds.permute_positions(np.random.default_rng(1234).permutation(ds.max_length)))
    assert p.recommendation.family == "mlp", p.summary()


def test_profiles_stored_before_the_within_sequence_test_still_load() -> None:
    p = wb.profile(wb.synthetic.ordered_motifs(60, 32), n_permutations=99)
    old = p.to_dict()
    del old["autocorrelation"]
    for key in ("probe", "reference", "advantage", "advantage_p", "chance", "samples_used", "positions_used"):
        del old["model_order"][key]
    del old["order"]["block"]
    again = wb.DataProfile.from_dict(old)
    assert again.autocorrelation is None and again.model_order.original == p.model_order.original
    assert set(profile_figures(again)) and again.summary()


def test_the_128_by_64_table_is_told_to_use_a_linear_model() -> None:
    p = wb.profile(wb.synthetic.tabular_interactions(128, 64), model_test=False)
    r = p.recommendation
    assert r.family == "mlp"
    assert any("no more alike than in a random order" in reason for reason in r.reasons)


def test_profile_round_trips_through_json(tmp_path: Path) -> None:
    p = wb.profile(wb.synthetic.ordered_motifs(60, 32), model_test=False, n_permutations=199)
    path = tmp_path / "profile.json"
    p.to_json(path)
    again = wb.DataProfile.from_json(path)
    assert again == p
    assert json.loads(path.read_text())["recommendation"]["family"] == p.recommendation.family


def test_summary_is_readable() -> None:
    p = wb.profile(wb.synthetic.ordered_motifs(60, 32), model_test=False, n_permutations=199)
    text = p.summary()
    assert "Recommendation: conv1d" in text and "search hints" in text and "profiled in" in text


def test_cli_profile_prints_the_recommendation_and_writes_json(tmp_path: Path) -> None:
    out = tmp_path / "p.json"
    result = CliRunner().invoke(app, ["profile", "breast_cancer", "--skip-model-test", "--json", str(out)])
    assert result.exit_code == 0, result.output
    assert "Recommendation: mlp" in result.output
    assert json.loads(out.read_text())["descriptive"]["name"] == "breast_cancer"


def test_figures_are_built_from_the_profile() -> None:
    p = wb.profile(wb.synthetic.ordered_motifs(100, 32), n_permutations=49)
    figures = profile_figures(p)
    assert set(figures) == {"order_null", "autocorrelation", "dependence_by_distance", "model_order"}
    assert len(figures["order_null"].data[0].x) == 49
    assert len(figures["autocorrelation"].data[0].y) == 31  # every lag of a length-32 sequence
    assert len(figures["model_order"].data) == 10  # one line per fold
    assert list(figures["model_order"].data[0].x) == ["order-invariant reference", "original order", "shuffled orders"]
