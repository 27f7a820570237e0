"""Variable lengths: normalisation that never counts padding, resampling that never reads it,
random training batches, and every block type predicting the same however it is padded."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import workbench as wb
from workbench.data.batching import TensorBatches
from workbench.models import DataSpec, build_model, split_params
from workbench.models.blocks import MaskedBatchNorm1d, MaskedLayerNorm1d, downsample, length_mask, resample


def _padded(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    lengths = torch.tensor([9, 4, 7, 12, 5])
    x = torch.randn(5, 3, 12, generator=gen) * 2 + 1
    return x * length_mask(lengths, x), lengths  # type: ignore[operator]


def test_masked_batchnorm_without_a_mask_is_batchnorm_exactly() -> None:
    torch.manual_seed(0)
    ours, theirs = MaskedBatchNorm1d(3), nn.BatchNorm1d(3)
    theirs.load_state_dict(ours.state_dict())
    for _ in range(3):
        x = torch.randn(6, 3, 10) * 3 + 2
        torch.testing.assert_close(ours(x), theirs(x), rtol=0, atol=0)
    for name, buffer in theirs.named_buffers():
        torch.testing.assert_close(dict(ours.named_buffers())[name], buffer, rtol=0, atol=0)
    ours.eval(), theirs.eval()
    x = torch.randn(2, 3, 7)
    torch.testing.assert_close(ours(x), theirs(x), rtol=0, atol=0)


def test_masked_batchnorm_normalises_as_batchnorm_over_the_real_positions_only() -> None:
    """Its batch moments and running statistics are those of BatchNorm fed the unpadded steps."""
    x, lengths = _padded()
    mask = length_mask(lengths, x)
    ours, reference = MaskedBatchNorm1d(3), nn.BatchNorm1d(3)
    out = ours(x, mask)
    real = torch.cat([x[i, :, : lengths[i]] for i in range(5)], dim=1).T  # (real positions, C)
    expected = reference(real)
    torch.testing.assert_close(torch.cat([out[i, :, : lengths[i]] for i in range(5)], dim=1).T, expected)
    torch.testing.assert_close(ours.running_mean, reference.running_mean)
    torch.testing.assert_close(ours.running_var, reference.running_var)


def test_masked_layer_norm_without_a_mask_is_groupnorm_and_ignores_padding_with_one() -> None:
    x, lengths = _padded(1)
    ours, theirs = MaskedLayerNorm1d(3), nn.GroupNorm(1, 3)
    torch.testing.assert_close(ours(x), theirs(x), rtol=0, atol=0)
    out = ours(x, length_mask(lengths, x))
    for i in range(5):
        alone = theirs(x[i : i + 1, :, : lengths[i]])
        torch.testing.assert_close(out[i : i + 1, :, : lengths[i]], alone)


def test_resampling_interpolates_each_sequence_from_its_own_steps() -> None:
    x, lengths = _padded(2)
    out = resample(x, lengths, 20)
    for i in range(5):
        n = int(lengths[i])
        for c in range(3):
            expected = np.interp(np.linspace(0, n - 1, 20), np.arange(n), x[i, c, :n].numpy())
            np.testing.assert_allclose(out[i, c].numpy(), expected, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(resample(x[:, :, :9], None, 9), x[:, :, :9])  # full length onto itself: unchanged


def test_downsampling_averages_each_window_over_its_real_steps_only() -> None:
    x, lengths = _padded(3)
    mask = length_mask(lengths, x)
    out, out_mask = downsample(x, mask, 4)
    assert out.shape == (5, 3, 3) and out_mask is not None
    for i in range(5):
        n = int(lengths[i])
        expected = [x[i, :, s : min(s + 4, n)].mean(dim=1) for s in range(0, n, 4)]
        torch.testing.assert_close(out[i, :, : len(expected)], torch.stack(expected, dim=1))
        assert out_mask[i, 0].tolist() == [1.0] * len(expected) + [0.0] * (3 - len(expected))
        assert not out[i, :, len(expected) :].any()  # windows of padding only stay zero
    full, none = downsample(x, None, 4)
    torch.testing.assert_close(full, downsample(x, torch.ones(5, 1, 12), 4)[0])  # no mask: every step is real
    kept, kept_mask = downsample(x, mask, 1)
    assert none is None and kept is x and kept_mask is mask


@pytest.mark.parametrize("family", ["conv1d", "hybrid"])
def test_a_downsampled_model_still_labels_every_step(family: str) -> None:
    """Per-step labels: each output step takes the prediction of the window it was averaged into."""
    spec = DataSpec(n_channels=2, length=9, min_length=9, task="per_step", n_outputs=3)
    values = {"channels": 4, "depth": 2, "kernel_size": 3, "downsample": 2}
    if family == "hybrid":
        values |= {"branch_width": 4, "head_width": 4}
    net = build_model(family, split_params(family, values)[0], spec).eval()
    out = net(torch.randn(2, 2, 9))
    assert out.shape == (2, 3, 9)
    torch.testing.assert_close(out[..., 0:8:2], out[..., 1:9:2])


def test_shuffled_training_batches_are_not_sorted_by_length() -> None:
    """Where the length gives the class away, length buckets make batches of one class each."""
    ds = wb.synthetic.variable_length_motifs(96, min_length=16, max_length=80, seed=0)
    spreads = [float(b.lengths.max() - b.lengths.min()) for b in TensorBatches(ds, 16, seed=0)]  # type: ignore[union-attr]
    assert np.median(spreads) > 30  # a random sample of 16 lengths from 16..80 spans ~50 steps
    in_order = [b.lengths for b in TensorBatches(ds, 16, shuffle=False)]
    assert max(float(n.max() - n.min()) for n in in_order) < 30  # type: ignore[union-attr]  # evaluation: buckets


BLOCKS = {
    "stack-batch": {"channels": 8, "depth": 2, "kernel_size": 5, "norm": "batch"},
    "stack-layer": {"channels": 8, "depth": 2, "kernel_size": 5, "norm": "layer", "residual": False},
    "stack-dilated": {"channels": 8, "depth": 3, "kernel_size": 3, "dilation_growth": 2, "widths": "fcn"},
    "lite": {"arch": "lite", "channels": 8, "depth": 3, "kernel_size": 9, "dilation_growth": 2, "kernels": "shrinking"},
    "lite-residual": {"arch": "lite", "channels": 8, "depth": 2, "kernel_size": 7, "residual": True, "norm": "layer"},
    "stack-downsampled": {"channels": 8, "depth": 2, "kernel_size": 3, "downsample": 3},
    "lite-downsampled": {"arch": "lite", "channels": 8, "depth": 2, "kernel_size": 5, "downsample": 2},
}


@pytest.mark.parametrize("lengths", ["mask", "resample"])
@pytest.mark.parametrize("family", ["conv1d", "hybrid"])
@pytest.mark.parametrize("block", list(BLOCKS))
def test_a_sequence_predicts_the_same_padded_to_l_or_2l_in_eval_mode(block: str, family: str, lengths: str) -> None:
    spec = DataSpec(
        n_channels=2, length=30, min_length=10, task="multiclass", n_outputs=3, variable_length=True, median_length=20
    )
    values = {**BLOCKS[block], "lengths": lengths}
    if family == "hybrid":
        values |= {"branch_width": 4, "head_width": 4}
    torch.manual_seed(0)
    net = build_model(family, split_params(family, values)[0], spec)
    net.train()
    x, n = torch.randn(6, 2, 30), torch.tensor([30, 10, 17, 25, 12, 30])
    net(x * length_mask(n, x), n).sum().backward()  # one training pass moves the running statistics
    net.eval()
    with torch.no_grad():
        short = net(x * length_mask(n, x), n)
        long = net(torch.cat([x * length_mask(n, x), torch.randn(6, 2, 30) * 0], dim=2), n)
        alone = torch.cat([net(x[i : i + 1, :, : n[i]]) for i in range(6)])
    torch.testing.assert_close(short, long, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(short, alone, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("length", [9, 10, 151])
@pytest.mark.parametrize("task", ["multiclass", "per_step"])
def test_lite_keeps_odd_and_even_lengths_and_labels_every_step(length: int, task: str) -> None:
    spec = DataSpec(n_channels=3, length=length, min_length=length, task=task, n_outputs=4)
    p = split_params("conv1d", {"arch": "lite", "channels": 8, "kernel_size": 9, "dilation_growth": 2})[0]
    net = build_model("conv1d", p, spec)
    out = net(torch.randn(2, 3, length))
    assert out.shape == ((2, 4, length) if task == "per_step" else (2, 4))


def test_lite_has_the_papers_shape_and_size_and_freezes_its_custom_filters() -> None:
    """LITE at its published settings (32 filters, kernel 40/41, three layers, dilation 2 and
    4) has about 10k trained parameters (the paper: 9,814)."""
    spec = DataSpec(n_channels=1, length=150, min_length=150, task="multiclass", n_outputs=2)
    p = split_params(
        "conv1d",
        {
            "arch": "lite",
            "channels": 32,
            "kernel_size": 41,
            "depth": 3,
            "dilation_growth": 2,
            "kernels": "shrinking",
            "residual": False,
        },
    )[0]
    net = build_model("conv1d", p, spec)
    trained = sum(q.numel() for q in net.parameters() if q.requires_grad)
    assert 9_000 < trained < 11_000
    depthwise = [m for m in net.modules() if isinstance(m, nn.Conv1d) and m.groups > 1 and m.weight.requires_grad]
    assert [(m.kernel_size[0], m.dilation[0]) for m in depthwise] == [(21, 2), (11, 4)]
    fixed = net.backbone.blocks[0].fixed
    assert not fixed.weight.requires_grad and fixed.out_channels == 17  # 6 rises, 6 falls, 5 peaks
    rising = torch.arange(20.0).reshape(1, 1, 20)
    assert fixed(rising)[0, 0, 5:15].gt(0).all()  # the smallest rise detector fires on a rising signal


def test_the_shape_doctor_reads_a_lite_model() -> None:
    spec = DataSpec(n_channels=2, length=40, min_length=40, task="multiclass", n_outputs=3)
    net = build_model("conv1d", split_params("conv1d", {"arch": "lite", "channels": 8, "kernel_size": 9})[0], spec)
    report = wb.explain_shape(net, torch.randn(4, 2, 40), variable_length=True)
    assert report.ok, str(report)
    assert report.output_shape == (4, 3) and "Conv1d" in str(report)
    bad = wb.explain_shape(net, torch.randn(4, 40, 2))  # channels-last by mistake
    assert not bad.ok and "channels" in bad.problems[0]
