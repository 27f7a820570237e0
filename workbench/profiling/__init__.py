"""Profiling: does feature order matter? Recommend Linear/MLP, Conv1d or hybrid, with evidence."""

from workbench.profiling.order import ModelOrderTest, OrderTest, model_order_test, order_test
from workbench.profiling.profile import DataProfile, describe, profile
from workbench.profiling.recommend import Descriptive, Recommendation, recommend
from workbench.profiling.samples import SampleOrderCheck, sample_order_check

__all__ = [
    "DataProfile",
    "Descriptive",
    "ModelOrderTest",
    "OrderTest",
    "Recommendation",
    "SampleOrderCheck",
    "describe",
    "model_order_test",
    "order_test",
    "profile",
    "recommend",
    "sample_order_check",
]
