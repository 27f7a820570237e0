"""Following a study whose trials run in worker processes, from its storage alone: the progress
events of what ended since the last look, and the storage's outages said once."""

from __future__ import annotations

import time

from workbench.study import attrs
from workbench.study.budget import budget_state
from workbench.study.events import Echo, FamilyStopped, Note, emit
from workbench.study.experiment import StoredExperiment
from workbench.study.status import progress_event
from workbench.study.storage import storage_cause, storage_problem_text
from workbench.study.time_limit import TimeLimit


class ProgressFollower:
    """The progress lines of a study that runs in worker processes, read from the storage:
    one line for a family each time a trial of it ends, and its stop reason once."""

    EVERY_S = 2.0

    def __init__(self, exp: StoredExperiment, limit: TimeLimit | None, echo: Echo) -> None:
        self.exp, self.limit, self.echo = exp, limit, echo
        self.ended: dict[str, int] = {}
        self.stopped: set[str] = set()
        self.last = 0.0
        self.storage_down = False

    def poll(self, *, force: bool = False) -> None:
        """The lines for what ended since the last poll. While the storage does not answer, it
        says so once and waits with the workers, which wait for it too (``retry_storage``)."""
        if not force and time.monotonic() - self.last < self.EVERY_S:
            return
        self.last = time.monotonic()
        try:
            self._poll()
        except Exception as exc:
            if (cause := storage_cause(exc)) is None:
                raise
            if not self.storage_down:
                emit(self.echo, Note(f"the storage does not answer ({storage_problem_text(cause)}); the workers wait"))
            self.storage_down = True
            return
        if self.storage_down:
            emit(self.echo, Note("the storage answers again"))
        self.storage_down = False

    def _poll(self) -> None:
        for family in self.exp.families:
            study = self.exp.study(family)
            trials = study.get_trials(deepcopy=False)
            ended = budget_state(trials, self.exp.config.budget).trials_done
            if ended != self.ended.get(family):  # and at the first poll: every family drawn at once
                self.ended[family] = ended
                emit(self.echo, progress_event(self.exp, family, trials, study.direction, self.limit))
            reason = study.user_attrs.get(attrs.ATTR_STOPPED) or self.exp.time_stop(family, self.limit)
            if reason is not None and family not in self.stopped:
                self.stopped.add(family)
                emit(self.echo, FamilyStopped(family, str(reason)))
