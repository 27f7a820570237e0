"""Profiling: does feature order matter? Recommend Linear/MLP, Conv1d or hybrid, with evidence."""

from typing import TYPE_CHECKING

from workbench._lazy import lazy_attributes

_NAMES = {
    "SplitLeak": "workbench.profiling.leak",
    "split_leak": "workbench.profiling.leak",
    "AutocorrelationTest": "workbench.profiling.order",
    "OrderTest": "workbench.profiling.order",
    "autocorrelation_test": "workbench.profiling.order",
    "order_test": "workbench.profiling.order",
    "ModelOrderTest": "workbench.profiling.probe",
    "model_order_test": "workbench.profiling.probe",
    "random_kernel_features": "workbench.profiling.probe",
    "DataProfile": "workbench.profiling.data_profile",
    "describe": "workbench.profiling.data_profile",
    "profile": "workbench.profiling.data_profile",
    "Descriptive": "workbench.profiling.recommendation",
    "Recommendation": "workbench.profiling.recommendation",
    "recommend": "workbench.profiling.recommendation",
    "SampleOrderCheck": "workbench.profiling.samples",
    "sample_order_check": "workbench.profiling.samples",
}
__getattr__ = lazy_attributes(__name__, _NAMES)
__all__ = sorted(_NAMES)

if TYPE_CHECKING:  # what type checkers and IDEs see
    from workbench.profiling.data_profile import DataProfile as DataProfile, describe as describe, profile as profile
    from workbench.profiling.leak import SplitLeak as SplitLeak, split_leak as split_leak
    from workbench.profiling.order import (
        AutocorrelationTest as AutocorrelationTest,
        OrderTest as OrderTest,
        autocorrelation_test as autocorrelation_test,
        order_test as order_test,
    )
    from workbench.profiling.probe import (
        ModelOrderTest as ModelOrderTest,
        model_order_test as model_order_test,
        random_kernel_features as random_kernel_features,
    )
    from workbench.profiling.recommendation import (
        Descriptive as Descriptive,
        Recommendation as Recommendation,
        recommend as recommend,
    )
    from workbench.profiling.samples import (
        SampleOrderCheck as SampleOrderCheck,
        sample_order_check as sample_order_check,
    )
