"""The self-contained HTML report, rebuilt from the storage alone.

One file: plotly's JavaScript is embedded once, every figure is inline, tables sort
in the page without any library, so it opens offline and can be mailed around.
The page is a list of parts rendered by jinja2 templates (``templates/``) with
autoescaping: every string that came from a user or from the data (experiment
names, column names, parameters, tracebacks) is escaped unless the code marks it
as markup, which only the embedded scripts and plotly's figure divs are.

The page records its own health in ``<body data-charts data-rendered data-errors>``
once loaded: how many charts it holds, how many plotly drew, and any JavaScript
error; a browser test (and a curious user) can read that back.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jinja2
import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.offline
from markupsafe import Markup
from optuna.trial import TrialState

from workbench.errors import StudyError
from workbench.files import write_text_atomically
from workbench.report import figures
from workbench.study import attrs
from workbench.study.attrs import ATTR_FINGERPRINT, ATTR_SPLIT, ATTR_VERSIONS
from workbench.study.evaluate import stored_verdict
from workbench.study.experiment import StoredExperiment as Experiment
from workbench.study.results import evaluation_frame, trials_frame
from workbench.study.status import validation_lines

_STYLE = """
body{font-family:system-ui,sans-serif;margin:0 auto;max-width:1180px;padding:1rem 2rem;color:#1f2933}
h1{margin-bottom:.2rem}h2{border-bottom:1px solid #d9e2ec;padding-bottom:.3rem;margin-top:2.2rem}
.verdict{font-size:1.15rem;background:#f0f4f8;border-left:5px solid #2e7d32;padding:.8rem 1rem}
.warn{background:#fff4e5;border-left:5px solid #f0a202;padding:.5rem 1rem;margin:.4rem 0}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(520px,1fr));gap:1rem}
table{border-collapse:collapse;font-size:.85rem;margin:.5rem 0;width:100%}
th,td{border-bottom:1px solid #e4e7eb;padding:.25rem .5rem;text-align:left;vertical-align:top}
th{cursor:pointer;background:#f5f7fa;position:sticky;top:0}th:hover{background:#e4e7eb}
.scroll{max-height:480px;overflow:auto}code,pre{font-size:.8rem;white-space:pre-wrap}
details{margin:.4rem 0}.muted{color:#7b8794}
"""

# Sorting by a header click; status written to <body> once every chart had its chance to draw.
_SCRIPT = """
window.__reportErrors = [];
window.addEventListener('error', e => window.__reportErrors.push(String(e.message)));
function sortTable(th){
  const table = th.closest('table'), body = table.tBodies[0], i = th.cellIndex;
  const asc = th.dataset.dir !== 'asc'; th.dataset.dir = asc ? 'asc' : 'desc';
  const key = r => { const t = r.cells[i].innerText; const n = parseFloat(t); return isNaN(n) ? t : n; };
  Array.from(body.rows).sort((a, b) => { const x = key(a), y = key(b);
    return (x > y ? 1 : x < y ? -1 : 0) * (asc ? 1 : -1); }).forEach(r => body.appendChild(r));
}
window.addEventListener('load', () => {
  const charts = document.querySelectorAll('.chart');
  const drawn = Array.from(charts).filter(c => c.querySelector('.plotly .main-svg'));
  document.body.dataset.charts = charts.length;
  document.body.dataset.rendered = drawn.length;
  document.body.dataset.errors = JSON.stringify(window.__reportErrors);
  // What a reader would see as broken: a title wider than its panel (plotly clips it), and a
  // marked value (a vertical line) outside its axis, where it is not drawn.
  const clipped = [], outside = [];
  charts.forEach(c => {
    const plot = c.querySelector('.js-plotly-plot');
    if (!plot || !plot._fullLayout) return;
    const panel = plot.getBoundingClientRect(), title = plot.querySelector('.gtitle');
    if (title) { const t = title.getBoundingClientRect();
      if (t.left < panel.left - 1 || t.right > panel.right + 1) clipped.push(plot.id); }
    (plot._fullLayout.shapes || []).forEach(sh => {
      const axis = plot._fullLayout.xaxis;
      if (sh.xref === 'x' && sh.x0 === sh.x1 && axis && axis.type === 'linear' &&
          (sh.x0 < Math.min(...axis.range) || sh.x0 > Math.max(...axis.range))) outside.push(plot.id);
    });
  });
  document.body.dataset.clippedTitles = JSON.stringify(clipped);
  document.body.dataset.markersOutside = JSON.stringify(outside);
});
"""


_TEMPLATES = jinja2.Environment(
    loader=jinja2.PackageLoader("workbench.report", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=True,
)


class _Page:
    """Collects the parts of a page; figures become inline divs sharing one embedded plotly.js."""

    def __init__(self, title: str) -> None:
        self.title = title
        self.parts: list[dict[str, Any]] = []
        self.n_charts = 0

    def heading(self, text: str, level: int = 2, anchor: str | None = None) -> None:
        self.parts.append({"kind": "heading", "text": text, "level": level, "anchor": anchor})

    def text(self, text: str, cls: str | None = None) -> None:
        self.parts.append({"kind": "text", "text": text, "cls": cls})

    def bullets(self, items: list[str]) -> None:
        self.parts.append({"kind": "list", "entries": items})

    def pre(self, text: str) -> None:
        self.parts.append({"kind": "pre", "text": text})

    def details(self, summary: str, text: str) -> None:
        self.parts.append({"kind": "details", "summary": summary, "text": text})

    def image(self, src: str, alt: str, cls: str) -> None:
        self.parts.append({"kind": "image", "src": src, "alt": alt, "cls": cls})

    def figures(self, figs: list[go.Figure]) -> None:
        charts = []
        for fig in figs:
            self.n_charts += 1
            div = fig.to_html(
                full_html=False, include_plotlyjs=False, div_id=f"chart-{self.n_charts}", config={"responsive": True}
            )
            charts.append(Markup(div))  # plotly's own markup: its data is JSON inside a script
        self.parts.append({"kind": "figures", "charts": charts})

    def table(self, frame: pd.DataFrame, *, max_height: bool = True) -> None:
        rows = [[_cell(v) for v in row] for row in frame.itertuples(False)]
        self.parts.append(
            {"kind": "table", "columns": list(map(str, frame.columns)), "rows": rows, "scroll": max_height}
        )

    def render(self) -> str:
        return _TEMPLATES.get_template("page.html.j2").render(
            title=self.title,
            style=Markup(_STYLE),
            plotly_js=Markup(plotly.offline.get_plotlyjs()),
            script=Markup(_SCRIPT),
            parts=self.parts,
        )


def _cell(v: Any) -> str:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return ""
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def build_report(exp: Experiment) -> str:
    """The whole report as one HTML string."""
    meta = exp.meta().user_attrs
    name = exp.config.name
    page = _Page(f"workbench report: {name}")
    page.heading(f"Experiment {name}", 1)
    page.text(f"data {exp.config.data} · metric {exp.metric} · {meta.get(ATTR_SPLIT, '')}", "muted")

    # ---- the verdict first
    page.heading("Verdict", anchor="verdict")
    verdict = stored_verdict(exp)
    if verdict is None:
        page.text(f"Not evaluated yet: run `workbench evaluate {name}` to re-train the best configurations over seeds.")
    else:
        page.text(verdict.statement, "verdict")
        for note in verdict.notes:
            page.text(note, "warn" if note.startswith("warning") else "muted")
        if verdict.families:
            page.figures([figures.verdict_figure(verdict)])
        if verdict.effect_size is not None or verdict.p_value is not None:
            page.text(
                f"Paired comparison {verdict.best} vs {verdict.runner_up}: difference {verdict.difference:+.4f}, "
                f"effect size d_z {'n/a' if verdict.effect_size is None else f'{verdict.effect_size:.2f}'}, "
                f"p = {verdict.p_value:.3g}."
            )

    # ---- the data profile
    page.heading("Data profile", anchor="profile")
    if exp.profile is not None:
        prof = exp.profile
        d, rec = prof.descriptive, prof.recommendation
        page.text(
            f"{d.n_samples} samples · {d.n_channels} channel(s) · length {d.min_length}–{d.max_length} "
            f"(median {d.median_length}) · task {d.task} · {d.n_static} static feature(s)"
        )
        channels, positions = exp.data_names.get("channels"), exp.data_names.get("positions")
        if channels:  # stored since the read-only report; older experiments show the count above
            page.text("channels: " + ", ".join(channels))
        if positions:
            page.text("positions: " + ", ".join(positions[:40]) + (" …" if len(positions) > 40 else ""))
        if d.classes and d.class_counts:
            balance = ", ".join(f"{c}: {n}" for c, n in zip(d.classes, d.class_counts, strict=False))
            page.text(f"class balance: {balance}")
        page.text(f"Recommendation: {rec.family} ({rec.confidence_label} confidence, {rec.confidence:.2f})")
        page.bullets(list(rec.reasons))
        for w in [*rec.warnings, *rec.caveats, *d.notes]:
            page.text(w, "warn")
        page.figures(list(figures.profile_figures(prof).values()))
    else:
        page.text("No profile stored.")

    # ---- validation and families
    page.heading("Validation", anchor="validation")
    page.pre("\n".join(validation_lines(exp)))
    trials = trials_frame(exp)
    for family in exp.families:
        study = exp.study(family)
        family_trials = study.get_trials(deepcopy=False)
        page.heading(f"Family {family}", anchor=f"family-{family}")
        states = pd.Series([t.state.name for t in family_trials]).value_counts().to_dict()
        page.text("trials: " + ", ".join(f"{str(k).lower()} {v}" for k, v in states.items()))
        defaults = [t for t in family_trials if attrs.default_number(t) is not None]
        if defaults:  # how far the sampler got beyond the proven starting points
            page.text(
                "proven defaults, run first: "
                + "; ".join(
                    f"{attrs.origin(t)} (trial {t.number}) "
                    + (f"{t.value:.4f}" if t.value is not None else t.state.name.lower())
                    for t in defaults
                )
            )
        failures = [(t.number, attrs.failure(t)) for t in family_trials if t.state == TrialState.FAIL]
        pruned = [
            (t.number, attrs.outcome(t).get("pruned", "median rule")) for t in family_trials if t.state.name == "PRUNED"
        ]
        for number, reason in failures:
            page.details(f"trial {number} failed", str(reason))
        if pruned:
            reasons = pd.Series([str(r) for _, r in pruned]).value_counts()
            page.text("pruned: " + "; ".join(f"{n}× {r}" for r, n in reasons.items()))
        page.figures(
            [
                figures.history_figure(study, family),
                figures.learning_curves_figure(family_trials, family, exp.metric, exp.maximize),
                figures.importance_figure(study, family),
                figures.parallel_figure(study, family),
            ]
        )

    # ---- leaderboards
    page.heading("Leaderboard: all trials", anchor="trials")
    if not trials.empty:
        shown = trials.drop(columns=[c for c in trials.columns if c.startswith("param_")])
        page.table(shown.sort_values("value", ascending=not exp.maximize))
    page.heading("Leaderboard: final evaluation", anchor="evaluation")
    evaluation = evaluation_frame(exp)
    if evaluation.empty:
        page.text("No final evaluation stored.")
    else:
        page.table(evaluation)

    # ---- config and environment
    page.heading("Config, environment and data fingerprint", anchor="environment")
    page.text(f"data fingerprint: {meta.get(ATTR_FINGERPRINT, 'unknown')}")
    page.table(
        pd.DataFrame(sorted(meta.get(ATTR_VERSIONS, {}).items()), columns=["component", "version"]), max_height=False
    )
    page.pre(json.dumps(exp.config.model_dump(), indent=2, default=str))
    return page.render()


def write_report(exp: Experiment, path: str | Path | None = None) -> Path:
    """Write ``runs/<experiment>/report.html`` (or ``path``) and return where it went."""
    return _write_atomic(Path(path) if path is not None else exp.config.run_dir / "report.html", build_report(exp))


def _write_atomic(out: Path, text: str) -> Path:
    return write_text_atomically(out, text)  # a reader never sees half a page; a link there is replaced


def comparison_frame(experiments: list[Experiment]) -> pd.DataFrame:
    """Test score of each family (columns) on each experiment's dataset (rows), from the verdicts."""
    rows = {}
    for exp in experiments:
        verdict = stored_verdict(exp)
        if verdict is None:
            raise StudyError(f"Experiment {exp.config.name!r} has no verdict yet: run `workbench evaluate` first.")
        sign = 1.0 if verdict.maximize else -1.0  # ranks below treat higher as better
        rows[f"{exp.config.name} ({exp.config.data})"] = {f.family: sign * f.mean for f in verdict.families}
    return pd.DataFrame(rows).T


def build_comparison(experiments: list[Experiment]) -> str:
    """Families ranked across datasets; a critical-difference diagram (aeon) with enough datasets."""
    page = _Page("workbench comparison")
    page.heading(f"Comparison of {len(experiments)} experiments", 1)
    scores = comparison_frame(experiments)
    complete = scores.dropna(axis=1)  # families run on every dataset
    dropped = sorted(set(scores.columns) - set(complete.columns))
    ranks = complete.rank(axis=1, ascending=False)
    mean_ranks = ranks.mean().sort_values()
    page.text(
        "Average rank over datasets (1 = best): "
        + ", ".join(f"{family} {rank:.2f}" for family, rank in mean_ranks.items()),
        "verdict",
    )
    if dropped:
        page.text(f"Not ranked (missing on some datasets): {', '.join(dropped)}", "muted")
    page.figures([figures.ranks_figure(ranks[mean_ranks.index])])
    page.heading("Critical-difference diagram")
    if len(complete) >= CD_MIN_DATASETS and complete.shape[1] >= CD_MIN_FAMILIES:
        page.image(_critical_difference_png(complete), "critical-difference diagram", "cd")
        page.text(
            "Families joined by a bar are not significantly different (Wilcoxon signed-rank with Holm "
            "correction, α = 0.1, as in aeon).",
            "muted",
        )
    else:
        page.text(
            f"A critical-difference diagram needs at least {CD_MIN_DATASETS} datasets and {CD_MIN_FAMILIES} families "
            f"in common (a Friedman test); these experiments have {len(complete)} and {complete.shape[1]}."
        )
    page.heading("Scores")
    shown = scores.copy()
    shown.insert(0, "experiment", shown.index)
    page.table(shown)
    return page.render()


CD_MIN_DATASETS, CD_MIN_FAMILIES = 4, 3


def _critical_difference_png(scores: pd.DataFrame) -> str:
    """The diagram as a data URI (the report stays one file)."""
    import base64
    import io

    # No matplotlib.use(): that would switch the backend of the user's notebook kernel. A PNG
    # is drawn by the Agg canvas whatever the backend, and the figure is closed right after.
    import matplotlib.pyplot as plt
    from aeon.visualisation import plot_critical_difference

    fig, _ = plot_critical_difference(scores.to_numpy(dtype=float), [str(c) for c in scores.columns])
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=120, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def write_comparison(experiments: list[Experiment], path: str | Path) -> Path:
    return _write_atomic(Path(path), build_comparison(experiments))
