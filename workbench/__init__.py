"""workbench: model selection for 1D data.

>>> import workbench
>>> ds = workbench.load("GunPoint")
>>> ds.X.shape  # (N, C, L): channels first, as nn.Conv1d expects
(200, 1, 150)
"""

from typing import TYPE_CHECKING

from workbench.config import ExperimentConfig, load_config, make_config
from workbench.data import (
    LAYOUTS,
    Dataset,
    LengthBucketSampler,
    ShapeReport,
    check_input,
    explain_shape,
    from_array,
    from_frame,
    list_datasets,
    load,
    read_file,
    synthetic,
    windows,
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
from workbench.profiling import DataProfile, Recommendation, SplitLeak, profile, split_leak

__version__ = "0.1.0"

# Studies and reports import Optuna, Lightning's pruning callback and plotly: loaded on first use,
# so `import workbench` stays quick for data work.
_LAZY = {
    "Experiment": "workbench.study",
    "StoredExperiment": "workbench.study",
    "read_experiment": "workbench.study",
    "StudyInterrupted": "workbench.study",
    "Verdict": "workbench.study",
    "LiveProgress": "workbench.study",
    "prepare": "workbench.study",
    "run_study": "workbench.study",
    "start_study": "workbench.study",
    "StudyHandle": "workbench.study",
    "watch": "workbench.study",
    "run_worker": "workbench.study",
    "open_experiment": "workbench.study",
    "evaluate": "workbench.study",
    "stored_verdict": "workbench.study",
    "status_frame": "workbench.study",
    "trials_frame": "workbench.study",
    "best_frame": "workbench.study",
    "evaluation_frame": "workbench.study",
    "write_results": "workbench.study",
    "write_report": "workbench.report.html",
    "write_comparison": "workbench.report.html",
}


if TYPE_CHECKING:  # what type checkers and IDEs see for the lazy names
    from workbench.report.html import write_comparison, write_report  # noqa: F401
    from workbench.study import (  # noqa: F401
        Experiment,
        LiveProgress,
        StoredExperiment,
        StudyHandle,
        StudyInterrupted,
        Verdict,
        best_frame,
        evaluate,
        evaluation_frame,
        open_experiment,
        prepare,
        read_experiment,
        run_study,
        run_worker,
        start_study,
        status_frame,
        stored_verdict,
        trials_frame,
        watch,
        write_results,
    )


def __getattr__(name: str) -> object:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'workbench' has no attribute {name!r}")


__all__ = [
    "FAMILIES",
    "LAYOUTS",
    "CheckpointError",
    "ConfigError",
    "DataError",
    "DataProfile",
    "Dataset",
    "ExperimentConfig",
    "FitResult",
    "LayoutError",
    "LengthBucketSampler",
    "Recommendation",
    "ShapeError",
    "ShapeReport",
    "SplitLeak",
    "StudyError",
    "TrainedModel",
    "WorkbenchError",
    "__version__",
    *_LAZY,
    "load_config",
    "make_config",
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
    "split_leak",
    "synthetic",
    "windows",
]
