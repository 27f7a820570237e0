"""The live view of a study for notebooks: pass it as ``echo`` to ``run_study``, ``evaluate``,
``watch`` or a handle's ``watch()``.

It reads the study's typed events (``events.py``), never its printed lines. In Jupyter it
shows one progress bar per family (trials against the budget, with the best score, pruned
and failed counts and the time left beside it) and a small chart of each family's best
score after each trial, updated in place; outside IPython it prints each event's line, as
the CLI does.
"""

from __future__ import annotations

import math
from typing import Any

from workbench.study.events import (
    EvaluationStarted,
    Event,
    FamilyEvent,
    FamilyStopped,
    Note,
    SeedEvaluated,
    TrialFinished,
)


class LiveProgress:
    """``echo`` for ``run_study(config, echo=LiveProgress())``: one bar and one chart line per family.

    Events that belong to no family (profiling, notes) are kept above the bars in the order
    they came. ``text()`` is the same state as lines: the notes, then each family's latest.
    """

    def __init__(self, *, chart: bool = True) -> None:
        self.notes: list[str] = []
        self.latest: dict[str, FamilyEvent] = {}  # family → its latest event, in first-seen order
        self.standing: dict[str, TrialFinished] = {}  # family → its latest trial standing
        self.done: set[str] = set()
        self.evaluated: tuple[int, int] | None = None  # (runs done, runs) of the final evaluation
        self.chart = chart
        self._ipython = _in_ipython()
        self._view: _NotebookView | None = None

    def on_event(self, event: Event) -> None:
        if isinstance(event, SeedEvaluated):
            self.evaluated = (event.done, event.total)
            if not self._ipython:
                return  # no line of its own on a terminal
        elif isinstance(event, EvaluationStarted):
            self.evaluated = (0, event.runs)  # in a notebook, the evaluation's bar says it
        elif isinstance(event, FamilyEvent):
            self.latest[event.family] = event
            if isinstance(event, TrialFinished):
                self.standing[event.family] = event
                if event.budget is not None and event.done >= event.budget:
                    self.done.add(event.family)
            if isinstance(event, FamilyStopped):
                self.done.add(event.family)
        else:
            self.notes.append(event.text())
        if not self._ipython:
            print(event.text(), flush=True)
            return
        if self._view is None:
            self._view = _NotebookView(chart=self.chart)
        self._view.show(self, event)

    def __call__(self, line: str) -> None:
        """A plain line from anything that does not emit events: kept as a note."""
        self.on_event(Note(line))

    def text(self) -> str:
        evaluation = [] if self.evaluated is None else [self.evaluation_text()]
        return "\n".join([*self.notes, *(e.text() for e in self.latest.values()), *evaluation])

    def evaluation_text(self) -> str:
        assert self.evaluated is not None
        return f"evaluation: {self.evaluated[0]}/{self.evaluated[1]} runs on the test split"


class _NotebookView:
    """The widgets: ipywidgets progress bars when installed (the notebooks extra), otherwise
    the text, updated in place; and a plotly chart, re-drawn in its own display slot."""

    def __init__(self, *, chart: bool) -> None:
        from IPython.display import display

        self.bars: dict[str, Any] = {}
        self.chart_handle: Any = None
        self.with_chart = chart
        try:
            import ipywidgets as widgets
        except ImportError:
            self.widgets = None
            self.text_handle = display(_pretty(""), display_id=True)
            return
        self.widgets = widgets
        self.header = widgets.HTML()
        self.rows = widgets.VBox()
        self.chart = widgets.Output()  # redrawn whole: a plotly output updated in place is not re-rendered
        self.box = widgets.VBox([self.header, self.rows, self.chart])
        self.box.add_class("workbench-live-study")
        display(self.box)

    def show(self, progress: LiveProgress, event: Event) -> None:
        if self.widgets is None:
            self.text_handle.update(_pretty(progress.text()))
        else:
            self._update_widgets(progress)
        if self.with_chart and isinstance(event, TrialFinished):  # the chart changes only with a trial
            self._update_chart(progress)

    def _update_widgets(self, progress: LiveProgress) -> None:
        import html

        widgets = self.widgets
        assert widgets is not None
        self.header.value = "<br>".join(html.escape(n) for n in progress.notes[-6:])
        for family, event in progress.latest.items():
            if family not in self.bars:
                bar = widgets.FloatProgress(min=0.0, max=1.0, description=family)
                label = widgets.HTML()
                row = widgets.HBox([bar, label])
                row.add_class("workbench-family")
                self.bars[family] = (bar, label)
                self.rows.children = (*self.rows.children, row)
            bar, label = self.bars[family]
            standing = progress.standing.get(family)
            if standing is not None:
                bar.value = 1.0 if family in progress.done else min(1.0, standing.used)
            bar.bar_style = "success" if family in progress.done else ""
            label.value = html.escape(_label(event, standing, stopped=family in progress.done))
        if progress.evaluated is not None:  # the evaluation's own bar: runs on the test split
            if "evaluation" not in self.bars:
                bar = widgets.FloatProgress(min=0.0, max=1.0, description="evaluation")
                label = widgets.HTML()
                row = widgets.HBox([bar, label])
                row.add_class("workbench-evaluation")
                self.bars["evaluation"] = (bar, label)
                self.rows.children = (*self.rows.children, row)
            bar, label = self.bars["evaluation"]
            done, total = progress.evaluated
            bar.value = done / max(1, total)
            bar.bar_style = "success" if done >= total else "info"
            label.value = html.escape(progress.evaluation_text())

    def _update_chart(self, progress: LiveProgress) -> None:
        import plotly.graph_objects as go
        from IPython.display import display

        fig = go.Figure()
        longest = 1
        for family, standing in progress.standing.items():
            history = list(standing.best_history)
            longest = max(longest, len(history))
            fig.add_trace(go.Scatter(x=list(range(1, len(history) + 1)), y=history, mode="lines+markers", name=family))
        metric = next(iter(progress.standing.values())).metric
        fig.update_layout(
            title={"text": f"best val_{metric} after each trial", "font": {"size": 13}},
            xaxis_title="trials finished",
            # Whole trials only: an axis of 1 to 2 trials read "1 1 1 2 2 2" with plotly's own ticks.
            xaxis={"tickmode": "linear", "tick0": 1, "dtick": max(1, math.ceil(longest / 10)), "tickformat": "d"},
            height=260,
            width=560,
            margin={"l": 50, "r": 10, "t": 40, "b": 40},
            template="plotly_white",
        )
        if self.widgets is not None:
            with self.chart:
                self.chart.clear_output(wait=True)
                display(fig)
            return
        # The mime bundle itself: a figure's own display hook ignores display ids, so each
        # update would add a chart below the last instead of replacing it.
        bundle = {"application/vnd.plotly.v1+json": fig.to_plotly_json(), "text/plain": fig.layout.title.text}
        if self.chart_handle is None:
            self.chart_handle = display(bundle, raw=True, display_id=True)
        else:
            self.chart_handle.update(bundle, raw=True)


def _label(event: FamilyEvent, standing: TrialFinished | None, *, stopped: bool = False) -> str:
    """The words beside a family's bar: its standing, then anything newer it said."""
    if standing is None:
        return event.detail()
    text = standing.describe(stopped=stopped)
    return text if event is standing else f"{text} · {event.detail()}"


def _pretty(text: str) -> Any:
    from IPython.display import Pretty

    return Pretty(text)


def _in_ipython() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    return get_ipython() is not None
