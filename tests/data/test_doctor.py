"""The shape doctor answers the questions people ask about Conv1d shapes."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from workbench import ShapeError, check_input, explain_shape


def conv_classifier(channels: int = 1, n_classes: int = 2) -> nn.Module:
    return nn.Sequential(
        nn.Conv1d(channels, 8, 3, padding="same"),
        nn.BatchNorm1d(8),
        nn.ReLU(),
        nn.AdaptiveAvgPool1d(1),
        nn.Flatten(),
        nn.Linear(8, n_classes),
    )


def test_channels_last_input_gets_the_permute_fix() -> None:
    report = explain_shape(nn.Conv1d(64, 32, 3), (1, 128, 64))
    assert not report.ok
    problem = report.problems[0]
    assert "channels-last" in problem and "x.permute(0, 2, 1)" in problem and "layout='NLC'" in problem
    assert "(1, 64, 128)" in problem


def test_a_table_fed_as_unbatched_input_is_explained_as_samples_by_features() -> None:
    report = explain_shape(nn.Conv1d(64, 32, 3), (128, 64))
    problem = report.problems[0]
    assert "ONE unbatched sample with 128 channels" in problem
    assert "128 samples × 64 features" in problem and "nn.Linear(64" in problem
    assert "x.unsqueeze(1)" in problem


def test_unbatched_input_that_runs_warns_that_the_kernel_may_slide_over_samples() -> None:
    report = explain_shape(nn.Conv1d(64, 32, 3), (64, 128))
    assert report.ok and report.output_shape == (32, 126)
    assert any("mixes neighbouring samples" in w and "x.unsqueeze(0)" in w for w in report.warnings)


def test_batch_of_one_with_batchnorm_in_training_mode() -> None:
    model = nn.Sequential(nn.Linear(10, 4), nn.BatchNorm1d(4))
    report = explain_shape(model, (1, 10))
    assert "batch of one" in report.problems[0] and "model.eval()" in report.problems[0]
    model.eval()
    assert explain_shape(model, (1, 10)).ok  # eval mode uses running statistics


def test_the_doctor_does_not_touch_the_users_batchnorm_statistics() -> None:
    model = conv_classifier()
    before = model[1].running_mean.clone()
    explain_shape(model, torch.randn(8, 1, 50) + 5)
    assert torch.equal(model[1].running_mean, before)


def test_per_step_labels_with_a_shrinking_kernel() -> None:
    model = nn.Sequential(nn.Conv1d(1, 8, 3), nn.ReLU(), nn.Conv1d(8, 2, 1))
    report = explain_shape(model, (4, 1, 64), y=torch.zeros(4, 64))
    problem = report.problems[0]
    assert "outputs length 62" in problem and "L-2" in problem and "padding='same'" in problem
    same = nn.Sequential(nn.Conv1d(1, 8, 3, padding="same"), nn.ReLU(), nn.Conv1d(8, 2, 1))
    assert explain_shape(same, (4, 1, 64), y=torch.zeros(4, 64)).ok


def test_per_step_labels_with_a_pooling_model() -> None:
    report = explain_shape(conv_classifier(), (4, 1, 64), y=torch.zeros(4, 64))
    assert "one vector per sample" in report.problems[0] and "kernel_size=1" in report.problems[0]


def test_flatten_after_convolution_breaks_variable_length_input() -> None:
    model = nn.Sequential(nn.Conv1d(1, 8, 3, padding="same"), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 50, 2))
    assert explain_shape(model, (4, 1, 50)).ok
    report = explain_shape(model, (4, 1, 50), variable_length=True)
    assert "tied to one length" in report.problems[0] and "global pooling" in report.problems[0]
    assert explain_shape(conv_classifier(), (4, 1, 50), variable_length=True).ok


def test_linear_directly_after_convolution_warns_it_acts_on_positions() -> None:
    model = nn.Sequential(nn.Conv1d(1, 8, 3, padding="same"), nn.Linear(50, 2))
    report = explain_shape(model, (4, 1, 50))
    assert any("acts on its last axis only" in w for w in report.warnings)


def test_linear_after_convolution_without_flatten_suggests_pooling() -> None:
    model = nn.Sequential(nn.Conv1d(1, 8, 3, padding="same"), nn.Linear(8, 2))
    report = explain_shape(model, (4, 1, 50))
    assert "global pooling" in report.problems[0]


def test_kernel_longer_than_the_sequence() -> None:
    report = explain_shape(nn.Conv1d(1, 4, kernel_size=9), (2, 1, 5))
    assert "spans 9 positions" in report.problems[0] and "only 5 long" in report.problems[0]


def test_pooling_longer_than_what_is_left() -> None:
    model = nn.Sequential(nn.Conv1d(1, 4, 3), nn.MaxPool1d(4), nn.MaxPool1d(4))
    report = explain_shape(model, (2, 1, 12))
    assert "MaxPool1d" in report.problems[0] and "earlier layers shortened it" in report.problems[0]


def test_unknown_layers_are_reported_with_their_own_error() -> None:
    model = nn.Sequential(nn.Conv1d(1, 4, 3), nn.LSTM(5, 4))
    report = explain_shape(model, (2, 1, 12))
    assert not report.ok and "LSTM" in report.problems[0] and "(2, 4, 10)" in report.problems[0]


def test_layers_that_return_tuples_are_traced() -> None:
    report = explain_shape(nn.Sequential(nn.Conv1d(1, 4, 3), nn.LSTM(10, 4)), (2, 1, 12))
    assert report.ok and report.steps[-1].output_shape == (2, 4, 4)


def test_report_reads_as_a_table() -> None:
    text = str(explain_shape(conv_classifier(), (4, 1, 50)))
    assert "Conv1d(1→8, kernel=3, padding='same')" in text and "(4, 1, 50) → (4, 8, 50)" in text
    assert "global pooling" in text and text.endswith("ok: every layer accepts this input.")


def test_check_input_raises_a_workbench_error() -> None:
    with pytest.raises(ShapeError, match="channels-last"):
        check_input(nn.Conv1d(3, 8, 3), torch.zeros(2, 100, 3))
