"""Is the profile's recommendation right? Every built-in dataset, shuffled controls and synthetic ground truth.

Truth:
- real datasets with published figures (``../shared/reference/published_accuracy.csv``): the best
  convolutional network (FCN/ResNet) minus MLP; above 3 points the answer is ``conv1d``, otherwise
  a tie (either family is right, but a high-confidence answer is wrong);
- each fixed-length ordered dataset again with its positions shuffled by one fixed permutation
  (for variable-length ones, their equal-length ``_eq`` twin): order carries nothing, so ``mlp``;
- the sklearn tables: feature order is arbitrary, so ``mlp``; ``digits`` (an 8×8 image read row by
  row) and the datasets without published figures: no truth, shown for the record;
- the synthetic generators, whose docstrings say which family should win.

The profile runs with its defaults (``budget_s=30``). Its time is compared with a lower bound of the
default study on the same data: the default trial budget (20 per deep family, 3 deep families) times
the default validation's fits per trial (k-fold on small data) times one run of the cheapest family
(``mlp``, default epochs and patience) on the first fold. conv1d and hybrid trials cost more than mlp
ones, so the true share is lower still.

    .venv/bin/python benchmarks/recommendation.py [--datasets GunPoint ArrowHead] [--no-study-time]
"""

from __future__ import annotations

import argparse
import logging
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

import workbench as wb
from workbench.config import ExperimentConfig
from workbench.data import synthetic
from workbench.data.builtins import builtin_names
from workbench.models.train import fit
from workbench.study.validation import plan_validation

REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference" / "published_accuracy.csv"
CLEAR_GAP = 3.0  # points
NO_ORDER = {"breast_cancer", "diabetes", "iris", "wine"}
SYNTHETIC: dict[str, tuple[Callable[[], wb.Dataset], str]] = {
    "synthetic: ordered_motifs": (lambda: synthetic.ordered_motifs(300, 64), "conv1d"),
    "synthetic: shuffled_motifs": (lambda: synthetic.shuffled_motifs(300, 64), "mlp"),
    "synthetic: tabular_interactions (128, 64)": (lambda: synthetic.tabular_interactions(128, 64), "mlp"),
    "synthetic: tabular_interactions": (lambda: synthetic.tabular_interactions(400, 16), "mlp"),
    "synthetic: variable_length_motifs": (lambda: synthetic.variable_length_motifs(300), "conv1d"),
    "synthetic: sequences_with_static": (lambda: synthetic.sequences_with_static(300, 64), "hybrid"),
}


def published_truth() -> dict[str, tuple[str, float]]:
    table = pd.read_csv(REFERENCE)
    truth = {}
    for name, rows in table.groupby("dataset"):
        by_method = dict(zip(rows["method"], rows["test_accuracy_pct"], strict=True))
        conv = max(by_method.get("FCN", np.nan), by_method.get("ResNet", np.nan))
        gap = conv - by_method["MLP"]
        truth[str(name)] = ("conv1d" if gap > CLEAR_GAP else "tie", float(gap))
    return truth


def shuffled(ds: wb.Dataset) -> wb.Dataset:
    return ds.permute_positions(np.random.default_rng(1234).permutation(ds.max_length))


def cases(names: list[str] | None) -> list[tuple[str, Callable[[], wb.Dataset], str, str]]:
    """(row name, loader, truth, where the truth comes from)."""
    published = published_truth()
    rows: list[tuple[str, Callable[[], wb.Dataset], str, str]] = []
    for name in builtin_names():
        if names and name not in names:
            continue
        if name in published:
            truth, gap = published[name]
            rows.append((name, lambda n=name: wb.load(n), truth, f"published conv − MLP {gap:+.1f}"))
        elif name in NO_ORDER:
            rows.append((name, lambda n=name: wb.load(n), "mlp", "a table: feature order is arbitrary"))
        else:
            rows.append((name, lambda n=name: wb.load(n), "none", "no published figure"))
        ds = wb.load(name)
        if ds.order == "ordered" and ds.max_length > 1:
            twin = name if not ds.variable_length else f"{name}_eq"
            if twin == name or (twin in builtin_names() and names and twin not in names):
                rows.append((f"{twin} shuffled", lambda n=twin: shuffled(wb.load(n)), "mlp", "positions permuted once"))
    if not names:
        rows += [(name, make, truth, "synthetic ground truth") for name, (make, truth) in SYNTHETIC.items()]
    return rows


def study_lower_bound_s(ds: wb.Dataset) -> float:
    """Default trials × deep families × the default validation's fits per trial × one run of the
    cheapest family (mlp) on one of its folds."""
    config = ExperimentConfig(name="bound", data="x")
    train = ds.official_split()[0] if ds.has_official_split else ds.split(config.evaluation.test_fraction)[0]
    plan = plan_validation(train, config.validation, seed=0)
    fit_idx, val_idx = plan.folds[0]
    start = time.perf_counter()
    fit(
        train.subset(fit_idx),
        "mlp",
        validation=train.subset(val_idx),
        max_epochs=config.max_epochs,
        patience=config.patience,
        seed=0,
        accelerator="cpu",
    )
    return (time.perf_counter() - start) * config.budget.trials * len(config.families) * plan.n_folds


def markdown(table: pd.DataFrame) -> str:
    def cell(v: object) -> str:
        return (
            ""
            if v is None or (isinstance(v, float) and np.isnan(v))
            else f"{v:.3g}"
            if isinstance(v, float)
            else str(v)
        )

    lines = ["| " + " | ".join(table.columns) + " |", "|" + "---|" * len(table.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in table.itertuples(index=False)]
    return "\n".join(lines)


def correct(truth: str, family: str, confidence: str) -> bool | None:
    if truth == "none":
        return None
    if truth == "tie":
        return confidence != "high"
    return family == truth


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="*", default=None, help="built-in names (default: all, plus synthetic)")
    parser.add_argument("--budget", type=float, default=30.0, help="the profile's budget_s")
    parser.add_argument("--no-study-time", action="store_true", help="skip the study lower bound (faster)")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)

    rows = []
    for name, load, truth, why in cases(args.datasets):
        ds = load()
        start = time.perf_counter()
        p = wb.profile(ds, budget_s=args.budget)
        seconds = time.perf_counter() - start
        a, m, r = p.autocorrelation, p.model_order, p.recommendation
        assert a is not None
        study = None if args.no_study_time or ds.task == "per_step" else study_lower_bound_s(ds)
        rows.append(
            {
                "dataset": name,
                "truth": truth,
                "why": why,
                "recommends": r.family,
                "confidence": r.confidence_label,
                "right": correct(truth, r.family, r.confidence_label),
                "s": round(seconds, 1),
                "≤ % of study": None if study is None else round(100 * seconds / study, 2),
                "within p": a.p_value,
                "shape": a.shape if a.significant else "-",
                "probe": None if not m.original else round(float(np.mean(m.original)), 3),
                "reference": None if not m.reference else round(float(np.mean(m.reference)), 3),
                "edge p": None if m.advantage_p is None else round(m.advantage_p, 3),
                "shuffled": None if not m.permuted else round(float(np.mean(m.permuted)), 3),
                "shuffle p": None if m.p_value is None else round(m.p_value, 3),
                "probe note": m.inconclusive or m.skipped or "",
            }
        )
        print(pd.DataFrame([rows[-1]]).to_string(index=False, header=len(rows) == 1), flush=True)

    table = pd.DataFrame(rows)
    judged = table[table["right"].notna()]
    print("\n" + markdown(table.drop(columns=["why", "probe note"])))
    print(
        f"\nagreement: {int(judged['right'].sum())}/{len(judged)} judged cases right; "
        f"clear cases {int(judged[judged['truth'] == 'conv1d']['right'].sum())}/"
        f"{int((judged['truth'] == 'conv1d').sum())}, "
        f"shuffled controls and tables {int(judged[judged['truth'] == 'mlp']['right'].sum())}/"
        f"{int((judged['truth'] == 'mlp').sum())}, "
        f"ties without high confidence {int(judged[judged['truth'] == 'tie']['right'].sum())}/"
        f"{int((judged['truth'] == 'tie').sum())}; "
        f"largest profile time {table['s'].max():.1f} s"
        + ("" if table["≤ % of study"].isna().all() else f", largest share of a study {table['≤ % of study'].max()}%")
    )


if __name__ == "__main__":
    main()
