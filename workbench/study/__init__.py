"""Studies: search spaces, the trial objective, budgets, workers, evaluation and the verdict."""

from workbench.study.background import StudyHandle, start_study, watch
from workbench.study.evaluate import evaluate, stored_verdict
from workbench.study.experiment import Experiment, StoredExperiment, open_experiment, prepare, read_experiment
from workbench.study.launch import run_study
from workbench.study.progress import LiveProgress
from workbench.study.results import best_frame, evaluation_frame, trials_frame, write_results
from workbench.study.status import status_frame, validation_lines
from workbench.study.storage import open_storage
from workbench.study.verdict import Verdict, make_verdict
from workbench.study.worker import StudyInterrupted, run_worker

__all__ = [
    "Experiment",
    "LiveProgress",
    "StoredExperiment",
    "StudyHandle",
    "StudyInterrupted",
    "Verdict",
    "best_frame",
    "evaluate",
    "evaluation_frame",
    "make_verdict",
    "open_experiment",
    "open_storage",
    "prepare",
    "read_experiment",
    "run_study",
    "run_worker",
    "start_study",
    "status_frame",
    "stored_verdict",
    "trials_frame",
    "validation_lines",
    "watch",
    "write_results",
]
