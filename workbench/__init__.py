"""workbench: model selection for 1D data.

>>> import workbench
>>> ds = workbench.load("GunPoint")
>>> ds.X.shape  # (N, C, L): channels first, as nn.Conv1d expects
(200, 1, 150)

``import workbench`` loads only the config and the errors: every other name (and torch,
Lightning, Optuna, aeon behind it) is imported with its first use.
"""

from typing import TYPE_CHECKING

from workbench._lazy import lazy_attributes
from workbench.config import ExperimentConfig, load_config, make_config, study_config
from workbench.errors import ConfigError, DataError, LayoutError, ShapeError, StudyError, WorkbenchError

__version__ = "0.1.0"

_NAMES = {
    "from_array": "workbench.data.frames",
    "from_frame": "workbench.data.frames",
    "list_datasets": "workbench.data.builtins",
    "load": "workbench.data.sources",
    "read_file": "workbench.data.files",
    "LAYOUTS": "workbench.data.layout",
    "Dataset": "workbench.data.dataset",
    "LengthBucketSampler": "workbench.data.batching",
    "ShapeReport": "workbench.data.doctor",
    "check_input": "workbench.data.doctor",
    "explain_shape": "workbench.data.doctor",
    "windows": "workbench.data.windowing",
    "synthetic": "workbench.data.synthetic",
    "FAMILIES": "workbench.models.registry",
    "CheckpointError": "workbench.models.trained",
    "TrainedModel": "workbench.models.trained",
    "load_model": "workbench.models.trained",
    "predict": "workbench.models.trained",
    "FitResult": "workbench.models.train",
    "fit": "workbench.models.train",
    "export_onnx": "workbench.models.export",
    "export_torchscript": "workbench.models.export",
    "DataProfile": "workbench.profiling.data_profile",
    "profile": "workbench.profiling.data_profile",
    "Recommendation": "workbench.profiling.recommendation",
    "SplitLeak": "workbench.profiling.leak",
    "split_leak": "workbench.profiling.leak",
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
__getattr__ = lazy_attributes(__name__, _NAMES)

if TYPE_CHECKING:  # what type checkers and IDEs see for the lazy names
    from workbench.data import synthetic as synthetic
    from workbench.data.batching import LengthBucketSampler as LengthBucketSampler
    from workbench.data.builtins import list_datasets as list_datasets
    from workbench.data.dataset import Dataset as Dataset
    from workbench.data.doctor import (
        ShapeReport as ShapeReport,
        check_input as check_input,
        explain_shape as explain_shape,
    )
    from workbench.data.files import read_file as read_file
    from workbench.data.frames import from_array as from_array, from_frame as from_frame
    from workbench.data.layout import LAYOUTS as LAYOUTS
    from workbench.data.sources import load as load
    from workbench.data.windowing import windows as windows
    from workbench.models.export import export_onnx as export_onnx, export_torchscript as export_torchscript
    from workbench.models.registry import FAMILIES as FAMILIES
    from workbench.models.train import FitResult as FitResult, fit as fit
    from workbench.models.trained import (
        CheckpointError as CheckpointError,
        TrainedModel as TrainedModel,
        load_model as load_model,
        predict as predict,
    )
    from workbench.profiling.data_profile import DataProfile as DataProfile, profile as profile
    from workbench.profiling.leak import SplitLeak as SplitLeak, split_leak as split_leak
    from workbench.profiling.recommendation import Recommendation as Recommendation
    from workbench.report.html import write_comparison as write_comparison, write_report as write_report
    from workbench.study import (
        Experiment as Experiment,
        LiveProgress as LiveProgress,
        StoredExperiment as StoredExperiment,
        StudyHandle as StudyHandle,
        StudyInterrupted as StudyInterrupted,
        Verdict as Verdict,
        best_frame as best_frame,
        evaluate as evaluate,
        evaluation_frame as evaluation_frame,
        open_experiment as open_experiment,
        prepare as prepare,
        read_experiment as read_experiment,
        run_study as run_study,
        run_worker as run_worker,
        start_study as start_study,
        status_frame as status_frame,
        stored_verdict as stored_verdict,
        trials_frame as trials_frame,
        watch as watch,
        write_results as write_results,
    )

__all__ = [
    "ConfigError",
    "DataError",
    "ExperimentConfig",
    "LayoutError",
    "ShapeError",
    "StudyError",
    "WorkbenchError",
    "__version__",
    "load_config",
    "make_config",
    "study_config",
    *_NAMES,
]
