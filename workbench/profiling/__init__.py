"""Profiling: does feature order matter? Recommend Linear/MLP, Conv1d or hybrid, with evidence."""

from workbench.profiling.leak import SplitLeak, split_leak
from workbench.profiling.order import AutocorrelationTest, OrderTest, autocorrelation_test, order_test
from workbench.profiling.probe import ModelOrderTest, model_order_test, random_kernel_features
from workbench.profiling.profile import DataProfile, describe, profile
from workbench.profiling.recommend import Descriptive, Recommendation, recommend
from workbench.profiling.samples import SampleOrderCheck, sample_order_check

__all__ = [
    "AutocorrelationTest",
    "DataProfile",
    "Descriptive",
    "ModelOrderTest",
    "OrderTest",
    "Recommendation",
    "SampleOrderCheck",
    "SplitLeak",
    "autocorrelation_test",
    "describe",
    "model_order_test",
    "order_test",
    "profile",
    "random_kernel_features",
    "recommend",
    "sample_order_check",
    "split_leak",
]
