"""The models a k-fold trial trained, kept for the best trial of each family.

A k-fold trial trains its configuration once per fold; the best trial's fold models are what
the final evaluation scores on the test split (``evaluation.replicates: folds``) instead of
re-training the configuration over seeds. Only the best trial's are kept: a trial that
completes better than every completed trial writes its own and removes those of the
completed trials it beat (never a running trial's). A missing model (a worker on another
machine, a storage from before, a race between two trials) only means the evaluation
re-trains that fold.

    runs/<experiment>/fold-models/<family>/trial-<number>/fold-<i>.pt
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from optuna.trial import FrozenTrial, TrialState

from workbench.models.trained import CheckpointError, TrainedModel, load_model

FOLDER = "fold-models"


def trial_folder(run_dir: Path, family: str, trial: int) -> Path:
    return run_dir / FOLDER / family / f"trial-{trial}"


def keep_if_best(
    run_dir: Path,
    family: str,
    trial: int,
    value: float,
    maximize: bool,
    models: dict[int, TrainedModel],
    trials: list[FrozenTrial],
) -> bool:
    """Write ``models`` (fold → model) of trial ``trial`` when its ``value`` beats every completed
    trial in ``trials`` (ties go to the earlier trial, as the evaluation ranks them), then remove
    the kept models of the completed trials it beat. Returns whether they were written."""
    done = [t for t in trials if t.state == TrialState.COMPLETE and t.value is not None and t.number != trial]
    beaten = [t for t in done if (value > t.value if maximize else value < t.value)]  # type: ignore[operator]
    if len(beaten) < len(done):
        return False
    folder = trial_folder(run_dir, family, trial)
    folder.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}.partial-"))  # new, never a link
    try:
        for fold, model in models.items():
            model.save(partial / f"fold-{fold}.pt")
        shutil.rmtree(folder, ignore_errors=True)  # a re-queued trial keeps its number
        partial.rename(folder)  # whole or not at all under the real name
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    for t in beaten:
        shutil.rmtree(trial_folder(run_dir, family, t.number), ignore_errors=True)
    return True


def load_fold(run_dir: Path, family: str, trial: int, fold: int) -> TrainedModel | None:
    """Trial ``trial``'s model of fold ``fold``, or None when it was not kept (or is damaged)."""
    path = trial_folder(run_dir, family, trial) / f"fold-{fold}.pt"
    try:
        return load_model(path)
    except CheckpointError:
        return None
