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

__version__ = "0.1.0"

__all__ = [
    "IGNORE_INDEX",
    "LAYOUTS",
    "ConfigError",
    "DataError",
    "Dataset",
    "LayoutError",
    "LengthBucketSampler",
    "ShapeError",
    "ShapeReport",
    "StudyError",
    "TensorBatches",
    "WorkbenchError",
    "__version__",
    "check_input",
    "explain_shape",
    "from_array",
    "from_frame",
    "list_datasets",
    "load",
    "read_file",
    "synthetic",
]
