"""Model families (plain ``nn.Module``s), the LightningModule that trains them, and the engine."""

from workbench.models.export import export_onnx, export_torchscript
from workbench.models.metrics import DEFAULT_METRIC, METRICS, metric_key
from workbench.models.params import Conv1dParams, HybridParams, MLPParams, TrainParams
from workbench.models.registry import FAMILIES, build_model, get_family, split_params
from workbench.models.spec import DataSpec
from workbench.models.system import WorkbenchModule
from workbench.models.train import FitResult, fit
from workbench.models.trained import CheckpointError, TrainedModel, load_model, predict

__all__ = [
    "DEFAULT_METRIC",
    "FAMILIES",
    "METRICS",
    "CheckpointError",
    "Conv1dParams",
    "DataSpec",
    "FitResult",
    "HybridParams",
    "MLPParams",
    "TrainParams",
    "TrainedModel",
    "WorkbenchModule",
    "build_model",
    "export_onnx",
    "export_torchscript",
    "fit",
    "get_family",
    "load_model",
    "metric_key",
    "predict",
    "split_params",
]
