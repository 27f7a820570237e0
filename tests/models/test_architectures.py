"""The FCN/ResNet shapes of the conv stack, and a hybrid that starts as its conv backbone."""

from __future__ import annotations

import pytest
import torch

import workbench as wb
from workbench.errors import ConfigError
from workbench.models import DataSpec, build_model, split_params
from workbench.models.conv1d import Conv1dNet
from workbench.models.params import Conv1dParams, HybridParams

SPEC = DataSpec(n_channels=2, length=64, min_length=64, task="multiclass", n_outputs=3)


def test_the_fcn_shape_is_kernels_7_5_3_and_widths_c_2c_c() -> None:
    p = Conv1dParams(channels=32, depth=3, kernel_size=7, kernels="shrinking", widths="fcn", residual=False)
    assert p.block_kernels() == [7, 5, 3] and p.block_widths() == [32, 64, 32]
    assert p.receptive_field() == 1 + 6 + 4 + 2
    net = build_model("conv1d", p, SPEC)
    convs = [m for m in net.modules() if isinstance(m, torch.nn.Conv1d)]
    assert [(c.in_channels, c.out_channels, c.kernel_size[0]) for c in convs] == [(2, 32, 7), (32, 64, 5), (64, 32, 3)]


def test_fixed_kernels_and_flat_widths_are_the_plain_stack() -> None:
    p = Conv1dParams(channels=16, depth=4, kernel_size=5)
    assert p.block_kernels() == [5, 5, 5, 5] and p.block_widths() == [16] * 4
    assert Conv1dParams(kernel_size=9, depth=5, kernels="shrinking").block_kernels() == [9, 7, 5, 3, 3]  # odd between


def test_a_new_hybrid_predicts_exactly_what_its_conv_backbone_does() -> None:
    """The fused head's output layer starts at zero: an uninformative branch cannot pull the
    hybrid below conv1d at the start, and training moves it only if it helps the loss."""
    torch.manual_seed(0)
    params = HybridParams(channels=8, depth=2, kernel_size=5, head_depth=1, branch_width=8, head_width=8)
    hybrid = build_model("hybrid", params, SPEC).eval()
    conv = Conv1dNet(SPEC, params.conv()).eval()
    conv.load_state_dict(
        {k: v for k, v in hybrid.state_dict().items() if k.split(".")[0] in dict(conv.named_children())}
    )
    x = torch.randn(5, 2, 64)
    torch.testing.assert_close(hybrid(x), conv(x))


def test_a_trained_hybrid_moves_its_fusion_away_from_zero() -> None:
    ds = wb.synthetic.sequences_with_static(64)
    result = wb.fit(ds, "hybrid", {"channels": 8, "depth": 2, "kernel_size": 3}, max_epochs=3, patience=None)
    assert result.model is not None
    assert result.model.net.correction.weight.abs().sum() > 0


@pytest.mark.parametrize("bad", [{"kernels": "growing"}, {"widths": "wide"}])
def test_the_shape_parameters_name_their_valid_values(bad: dict[str, str]) -> None:
    with pytest.raises(ConfigError, match="must be one of"):
        split_params("conv1d", bad)
