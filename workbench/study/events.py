"""What a running experiment reports, as typed events: the terminal lines, ``workbench
status``'s follower and the notebook's live view are all renderings of these.

Every function that reports takes ``echo``: a plain callable gets each event's one line of
text (``print`` gives the CLI's output), and an object with an ``on_event`` method (such as
``workbench.study.progress.LiveProgress``) gets the events themselves, so no display ever
parses printed text.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

Echo = Callable[[str], object]


def duration_text(seconds: float) -> str:
    """``"45 s"``, ``"2.5 min"``, ``"1.2 h"``: a duration as the progress lines say it."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


@dataclass(frozen=True)
class Event:
    """The base: anything reported; ``text`` is its line for a terminal."""

    def text(self) -> str:
        raise NotImplementedError


@dataclass(frozen=True)
class Note(Event):
    """A line that belongs to no family: what bounds the runs, workers started, a changed budget."""

    message: str

    def text(self) -> str:
        return self.message


@dataclass(frozen=True)
class ProfileStarted(Event):
    data: str
    budget_s: float

    def text(self) -> str:
        return f"profiling {self.data} (model-based order test budget {self.budget_s:.0f} s) …"


@dataclass(frozen=True)
class FamilyEvent(Event):
    family: str

    def text(self) -> str:
        return f"[{self.family:<10}] {self.detail()}"

    def detail(self) -> str:
        """What the line says after the family's tag (a live view shows it beside the family)."""
        raise NotImplementedError


@dataclass(frozen=True)
class FamilyNote(FamilyEvent):
    """Anything else said about one family (a trial taken over by another worker, ...)."""

    message: str

    def detail(self) -> str:
        return self.message


@dataclass(frozen=True)
class TrialFinished(FamilyEvent):
    """A trial of ``family`` ended (complete, pruned or failed), with the family's standing."""

    metric: str
    done: int  # trials that count against the budget
    budget: int | None  # the trial budget, if there is one
    best: float | None  # best validation score so far
    pruned: int
    failed: int
    used: float  # share of the family's budget used, 0..1
    family_left_s: float  # estimated, from the family's own trial times
    experiment_left_s: float | None = None  # with a time limit
    number: int | None = None  # the trial that just ended (None when read back after a resume)
    state: str | None = None  # COMPLETE / PRUNED / FAIL
    value: float | None = None
    best_history: tuple[float, ...] = field(default=(), compare=False)  # best after each finished trial
    running: int = 0  # trials of the family running now (not counted in ``done`` nor ``used``)

    def detail(self) -> str:
        return self.describe()

    def describe(self, *, stopped: bool = False) -> str:
        """The family's standing in words; ``stopped``: its search or its time is over (no time left
        to estimate for it)."""
        done = f"{self.done}/{self.budget} trials" if self.budget else f"{self.done} trials"
        if self.running:
            done += f" ({self.running} running)"
        if self.done == 0:
            return f"{done} · waiting for the first trial to end"
        best = "–" if self.best is None else f"{self.best:.4f}"
        line = f"{done} · best val_{self.metric} {best} · pruned {self.pruned} · failed {self.failed} · "
        line += f"budget {self.used:.0%}"
        if not stopped:
            line += f" · ~{self.family_left_s:.0f} s left for this family"
            if self.experiment_left_s is not None:
                line += f" · {duration_text(max(0.0, self.experiment_left_s))} left for the experiment"
        return line


@dataclass(frozen=True)
class TrialFailed(FamilyEvent):
    number: int
    reason: str

    def detail(self) -> str:
        return f"trial {self.number} failed: {self.reason}"


@dataclass(frozen=True)
class TrialsRequeued(FamilyEvent):
    numbers: tuple[int, ...]

    def detail(self) -> str:
        return f"re-queued trial(s) {list(self.numbers)}: their worker stopped"


@dataclass(frozen=True)
class FamilyStopped(FamilyEvent):
    """The family's search is done before its budget (``stopping.py``), or its time is up."""

    reason: str

    def detail(self) -> str:
        return self.reason


@dataclass(frozen=True)
class FamilySkipped(FamilyEvent):
    reason: str

    def detail(self) -> str:
        return f"skipped: {self.reason}"


@dataclass(frozen=True)
class FamilyWaiting(FamilyEvent):
    """The budget is taken; this worker waits for trials running elsewhere."""

    what: str

    def detail(self) -> str:
        return f"budget taken; {self.what}"


@dataclass(frozen=True)
class ConfigEvaluated(FamilyEvent):
    """One configuration re-trained over every seed on the test split."""

    metric: str
    rank: int  # 0 = the family's best
    trial: int
    mean: float
    seeds: int
    replicates: str = "seeds"  # or "folds": the study's fold models

    def detail(self) -> str:
        return (
            f"config #{self.rank + 1} (trial {self.trial}): test {self.metric} {self.mean:.4f} "
            f"over {self.seeds} {self.replicates}"
        )


@dataclass(frozen=True)
class SeedEvaluated(FamilyEvent):
    """One re-training of the evaluation done (silent on a terminal: the line per
    configuration says it; a live view counts them)."""

    seed: int
    done: int  # runs of the whole evaluation done
    total: int
    value: float
    replicates: str = "seeds"

    def text(self) -> str:
        return ""

    def detail(self) -> str:
        kind = "fold" if self.replicates == "folds" else "seed"
        return f"evaluation run {self.done}/{self.total}: {kind} {self.seed}, test {self.value:.4f}"


@dataclass(frozen=True)
class EvaluationStarted(Event):
    """The final evaluation begins: how many runs on the test split (the live view's bar at 0)."""

    configurations: int
    runs: int
    replicates: str = "seeds"

    def text(self) -> str:
        return (
            f"evaluating {self.configurations} configuration(s) on the test split: "
            f"{self.runs} run(s) over {self.replicates} …"
        )


@dataclass(frozen=True)
class NothingToEvaluate(FamilyEvent):
    def detail(self) -> str:
        return "no complete trial to evaluate"


def emit(echo: Echo, event: Event) -> None:
    """Hand ``event`` to ``echo``: the event itself to an ``on_event`` sink, else its line."""
    on_event = getattr(echo, "on_event", None)
    if on_event is not None:
        on_event(event)
    elif text := event.text():  # an event with no line (a seed's run) prints nothing
        echo(text)
