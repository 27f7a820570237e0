"""Checkpoints, predict in any layout, TorchScript/ONNX export."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import pytest
import torch

import workbench as wb
from tests.models.conftest import tiny
from workbench.models import CheckpointError, load_model
from workbench.models.export import export_onnx, export_torchscript
from workbench.models.train import score

SMALL = {"channels": 8, "depth": 2, "kernel_size": 3}


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> wb.FitResult:
    run = tmp_path_factory.mktemp("run")
    return wb.fit(wb.synthetic.ordered_motifs(60, 32), "conv1d", SMALL, max_epochs=2, run_dir=run)


def test_checkpoint_round_trip_gives_identical_predictions(trained: wb.FitResult) -> None:
    assert trained.checkpoint is not None and trained.checkpoint.is_file()
    loaded = load_model(trained.checkpoint)
    x = np.random.default_rng(0).normal(size=(5, 1, 32)).astype(np.float32)
    assert trained.model is not None
    np.testing.assert_array_equal(loaded.predict(x, proba=True), trained.model.predict(x, proba=True))


def test_checkpoint_loading_refuses_a_pickled_payload(tmp_path: Path) -> None:
    class Payload:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (print, ("this would run on load",))

    path = tmp_path / "evil.pt"
    with path.open("wb") as f:
        torch.save({"format": "workbench-checkpoint-1", "x": Payload()}, f, pickle_protocol=pickle.HIGHEST_PROTOCOL)
    with pytest.raises(CheckpointError, match="never unpickles"):
        load_model(path)


def test_checkpoint_from_elsewhere_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.pt"
    torch.save({"state_dict": {}}, path)
    with pytest.raises(CheckpointError, match="not a workbench checkpoint"):
        load_model(path)


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda c: c.pop("state_dict"), "damaged workbench checkpoint.*KeyError"),
        (lambda c: c["params"].update(colour="red"), "damaged workbench checkpoint.*TypeError"),
        (lambda c: c["state_dict"].popitem(), "layers differ.*missing"),
        (lambda c: c["state_dict"].update(extra=torch.zeros(3)), "layers differ.*unexpected \\['extra'\\]"),
        (
            lambda c: c["state_dict"].update({k: torch.zeros(7, 7) for k in list(c["state_dict"])[:1]}),
            r"\(7, 7\) instead",
        ),
        (lambda c: c["params"].update(channels=100_000), "layers differ"),  # a huge model: nothing allocated
        (lambda c: c.update(y_mean="abc"), "damaged workbench checkpoint.*ValueError"),
    ],
)
def test_crafted_weights_only_checkpoints_are_named_errors(
    trained: wb.FitResult, tmp_path: Path, damage: Any, message: str
) -> None:
    """Before: KeyError / TypeError / RuntimeError tracebacks from plain-tensor payloads."""
    assert trained.checkpoint is not None
    payload = torch.load(trained.checkpoint, weights_only=True)
    damage(payload)
    path = tmp_path / "crafted.pt"
    torch.save(payload, path)
    with pytest.raises(CheckpointError, match=message):
        load_model(path)


def test_predict_accepts_every_layout(trained: wb.FitResult) -> None:
    x = np.random.default_rng(1).normal(size=(4, 1, 32)).astype(np.float32)
    reference = wb.predict(trained.model, x, layout="NCL")  # type: ignore[arg-type]
    assert set(reference) <= {"0", "1"}
    np.testing.assert_array_equal(wb.predict(trained.model, x.transpose(0, 2, 1), layout="NLC"), reference)  # type: ignore[arg-type]
    np.testing.assert_array_equal(wb.predict(trained.model, x[:, 0, :], layout="NL"), reference)  # type: ignore[arg-type]
    np.testing.assert_array_equal(wb.predict(trained.model, x[0], layout="CL"), reference[:1])  # type: ignore[arg-type]
    assert trained.checkpoint is not None
    np.testing.assert_array_equal(wb.predict(trained.checkpoint, x, layout="NCL"), reference)


def test_predict_refuses_the_wrong_channel_count(trained: wb.FitResult) -> None:
    with pytest.raises(wb.DataError, match="trained on 1 channel"):
        wb.predict(trained.model, np.zeros((2, 3, 32)), layout="NCL")  # type: ignore[arg-type]


@pytest.mark.parametrize("variable_length", [False, True])
def test_exports_match_the_module_at_other_batch_sizes_and_lengths(tmp_path: Path, variable_length: bool) -> None:
    ds = (
        wb.synthetic.variable_length_motifs(40, min_length=16, max_length=40)
        if variable_length
        else wb.synthetic.ordered_motifs(40, 32)
    )
    result = wb.fit(ds, "conv1d", SMALL, max_epochs=1)
    model = result.model
    assert model is not None
    scripted = torch.jit.load(str(export_torchscript(model, tmp_path / "m.pt", variable_length=variable_length)))
    session = ort.InferenceSession(str(export_onnx(model, tmp_path / "m.onnx", variable_length=variable_length)))
    for n, length in [(3, 32), (7, 50)]:
        x = torch.randn(n, 1, length)
        inputs = [x] + ([torch.full((n,), length - 2, dtype=torch.int64)] if variable_length else [])
        reference = model.net(x, inputs[1] if variable_length else None).detach()
        torch.testing.assert_close(scripted(*inputs), reference)
        feeds = {i.name: t.numpy() for i, t in zip(session.get_inputs(), inputs, strict=True)}
        np.testing.assert_allclose(session.run(None, feeds)[0], reference.numpy(), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(
    ("data", "family"),
    [
        (lambda: wb.synthetic.ordered_motifs(60, 32, n_classes=3), "conv1d"),
        (lambda: wb.synthetic.variable_length_motifs(60, min_length=16, max_length=40, seed=1), "conv1d"),
        (lambda: tiny("per_step"), "conv1d"),
        (lambda: wb.synthetic.sequences_with_static(60, 32), "hybrid"),
        (lambda: tiny("regression"), "mlp"),
    ],
    ids=["multiclass", "variable-length", "per-step", "static", "regression"],
)
def test_a_trained_model_scored_later_gives_the_test_metrics_of_its_run(data: Any, family: str) -> None:
    """``score`` (how the evaluation scores the fold models a study kept) is the pass ``fit``
    scores its test split with: same metrics, variable lengths, per-step labels and regression's
    units included."""
    ds = data()
    train, test = ds.split(0.3, seed=0)
    result = wb.fit(train, family, {}, validation=None, test=test, max_epochs=2)
    assert result.model is not None
    scored = score(result.model, test)
    expected = {k: v for k, v in result.metrics.items() if k.startswith("test_")}
    assert scored.keys() == expected.keys()
    for key, value in expected.items():
        assert scored[key] == pytest.approx(value, rel=1e-5, abs=1e-6), key
