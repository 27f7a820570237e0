"""Model families (plain ``nn.Module``s), the LightningModule that trains them, and the engine."""

from typing import TYPE_CHECKING

from workbench._lazy import lazy_attributes

_NAMES = {
    "export_onnx": "workbench.models.export",
    "export_torchscript": "workbench.models.export",
    "DEFAULT_METRIC": "workbench.models.metrics",
    "METRICS": "workbench.models.metrics",
    "metric_key": "workbench.models.metrics",
    "Conv1dParams": "workbench.models.params",
    "HybridParams": "workbench.models.params",
    "MLPParams": "workbench.models.params",
    "TrainParams": "workbench.models.params",
    "FAMILIES": "workbench.models.registry",
    "build_model": "workbench.models.registry",
    "get_family": "workbench.models.registry",
    "split_params": "workbench.models.registry",
    "DataSpec": "workbench.models.spec",
    "WorkbenchModule": "workbench.models.system",
    "FitResult": "workbench.models.train",
    "fit": "workbench.models.train",
    "CheckpointError": "workbench.models.trained",
    "TrainedModel": "workbench.models.trained",
    "load_model": "workbench.models.trained",
    "predict": "workbench.models.trained",
}
__getattr__ = lazy_attributes(__name__, _NAMES)
__all__ = sorted(_NAMES)

if TYPE_CHECKING:  # what type checkers and IDEs see
    from workbench.models.export import export_onnx as export_onnx, export_torchscript as export_torchscript
    from workbench.models.metrics import DEFAULT_METRIC as DEFAULT_METRIC, METRICS as METRICS, metric_key as metric_key
    from workbench.models.params import (
        Conv1dParams as Conv1dParams,
        HybridParams as HybridParams,
        MLPParams as MLPParams,
        TrainParams as TrainParams,
    )
    from workbench.models.registry import (
        FAMILIES as FAMILIES,
        build_model as build_model,
        get_family as get_family,
        split_params as split_params,
    )
    from workbench.models.spec import DataSpec as DataSpec
    from workbench.models.system import WorkbenchModule as WorkbenchModule
    from workbench.models.train import FitResult as FitResult, fit as fit
    from workbench.models.trained import (
        CheckpointError as CheckpointError,
        TrainedModel as TrainedModel,
        load_model as load_model,
        predict as predict,
    )
