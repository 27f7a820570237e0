"""workbench: model selection for 1D data.

>>> import workbench
>>> ds = workbench.load("GunPoint")
>>> ds.X.shape  # (N, C, L): channels first, as nn.Conv1d expects
(200, 1, 150)
"""

from workbench.data import (
    IGNORE_INDEX,
    LAYOUTS,
    Dataset,
    LengthBucketSampler,
    ShapeReport,
    TensorBatches,
    check_input,
    explain_shape,
    from_array,
    from_frame,
    list_datasets,
    load,
    read_file,
    synthetic,
)
from workbench.errors import ConfigError, DataError, LayoutError, ShapeError, StudyError, WorkbenchError
from workbench.models import (
    FAMILIES,
    CheckpointError,
    FitResult,
    TrainedModel,
    export_onnx,
    export_torchscript,
    fit,
    load_model,
    predict,
)
from workbench.profiling import DataProfile, Recommendation, profile

__version__ = "0.1.0"

__all__ = [
    "FAMILIES",
    "IGNORE_INDEX",
    "LAYOUTS",
    "CheckpointError",
    "ConfigError",
    "DataError",
    "DataProfile",
    "Dataset",
    "FitResult",
    "LayoutError",
    "LengthBucketSampler",
    "Recommendation",
    "ShapeError",
    "ShapeReport",
    "StudyError",
    "TensorBatches",
    "TrainedModel",
    "WorkbenchError",
    "__version__",
    "check_input",
    "explain_shape",
    "export_onnx",
    "export_torchscript",
    "fit",
    "from_array",
    "from_frame",
    "list_datasets",
    "load",
    "load_model",
    "predict",
    "profile",
    "read_file",
    "synthetic",
]
