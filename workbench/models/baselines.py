"""Non-deep baselines, run through the same study and evaluation path as the families.

``linear`` (logistic or ridge regression) and ``gbm`` (histogram gradient boosting)
see the flat ``(N, C·L)`` view; ``minirocket`` (aeon) reads the sequences. All are
scored with the same metric definitions as the deep models, so the report can say
honestly whether a deep model is worth it.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from typing import Any

import numpy as np
import torch

from workbench.data.dataset import Dataset
from workbench.models.metrics import TEST, VAL, compute_metrics, metric_key
from workbench.models.spec import DataSpec

BASELINE_PARAMS: dict[str, tuple[str, ...]] = {
    "linear": ("C",),
    "gbm": ("learning_rate", "max_depth", "max_iter", "l2_regularization"),
    "minirocket": ("n_kernels",),
}
MINIROCKET_MIN_LENGTH = 9
# HistGradientBoosting draws on its seed only for the early-stopping split it makes above this
# many training samples (``early_stopping="auto"``; subsampling for binning starts at 200 000).
GBM_RANDOM_ABOVE = 10_000


def baseline_unavailable(name: str, ds: Dataset) -> str | None:
    """Why a baseline cannot run on this data, or None."""
    if name == "minirocket":
        if ds.order == "unknown":
            return "MiniRocket convolves along the sequence; a table's features have no order"
        if ds.task == "per_step":
            return "MiniRocket predicts one label per sequence, not per step"
        if int(ds.lengths.min()) < MINIROCKET_MIN_LENGTH:
            return f"MiniRocket needs sequences of at least {MINIROCKET_MIN_LENGTH} steps"
    if name in ("linear", "gbm") and ds.task == "per_step":
        return f"{name} on the flat view predicts one label per sequence, not per step"
    return None


def make_estimator(name: str, params: dict[str, Any], task: str, seed: int, n_train: int) -> Any:
    """The scikit-learn or aeon estimator of a baseline configuration."""
    regression = task == "regression"
    if name == "linear":
        from sklearn.linear_model import LogisticRegression, Ridge
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        c = float(params.get("C", 1.0))
        model = Ridge(alpha=1.0 / c) if regression else LogisticRegression(C=c, max_iter=2000)
        return make_pipeline(StandardScaler(), model)
    if name == "gbm":
        from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

        cls = HistGradientBoostingRegressor if regression else HistGradientBoostingClassifier
        # The default of 20 samples per leaf cannot split a training set of a few dozen sequences.
        leaf = max(2, min(20, n_train // 10))
        return cls(
            random_state=seed, min_samples_leaf=leaf, **{k: params[k] for k in BASELINE_PARAMS["gbm"] if k in params}
        )
    if name == "minirocket":
        from aeon.classification.convolution_based import MiniRocketClassifier
        from aeon.regression.convolution_based import MiniRocketRegressor

        cls = MiniRocketRegressor if regression else MiniRocketClassifier
        return cls(n_kernels=int(params.get("n_kernels", 10000)), random_state=seed)
    raise ValueError(f"unknown baseline {name!r}")


def seed_matters(name: str, n_train: int) -> bool:
    """Whether a baseline's fit depends on its seed: the logistic/ridge fit never does, gradient
    boosting only on large data, MiniRocket always (its kernels' biases are drawn). The final
    evaluation fits a baseline that ignores its seed once, not once per seed."""
    if name == "linear":
        return False
    if name == "gbm":
        return n_train > GBM_RANDOM_ABOVE
    return True


def parameter_problem(name: str, params: dict[str, Any]) -> str | None:
    """scikit-learn's own check of a baseline's parameter values, as ``fit`` runs it, without
    data (a space is checked at start, not at its first trial); None when they are valid or
    the estimator checks only when fitting (aeon's)."""
    estimator = make_estimator(name, params, "classification", 0, 100)
    final = estimator.steps[-1][1] if hasattr(estimator, "steps") else estimator
    if not hasattr(final, "_parameter_constraints"):
        return None
    try:
        # The one private scikit-learn call: its public path (fit) needs data to reach the check.
        final._validate_params()
    except (ValueError, TypeError) as exc:
        return str(exc)
    return None


def _inputs(name: str, ds: Dataset, length: int) -> np.ndarray:
    # Every split is zero-padded to one common length (splits of variable-length data are each
    # trimmed to their own longest sequence): MiniRocket needs equal lengths, and the flat
    # baselines need the same number of features in every split.
    x = np.pad(ds.X, ((0, 0), (0, 0), (0, length - ds.max_length))).astype(np.float64)
    return x if name == "minirocket" else x.reshape(len(x), -1)


@contextmanager
def quiet_sklearn_parallel() -> Iterator[None]:
    """scikit-learn warns once per task when a task wrapped by its ``delayed`` runs outside its
    own ``Parallel`` (estimators built on joblib directly do): dozens of lines per baseline trial
    that bury a study's progress lines. Silenced around the call only, for that message only."""
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message=r"`sklearn\.utils\.parallel\.delayed` should be used", category=UserWarning
        )
        yield


def fit_baseline(
    name: str,
    params: dict[str, Any],
    train: Dataset,
    validation: Dataset | None,
    *,
    test: Dataset | None = None,
    seed: int = 0,
    threads: int | None = None,
) -> dict[str, Any]:
    """Fit one baseline configuration; returns metrics keyed like ``fit`` (``val_bal_acc``, …) and timing.

    ``threads`` bounds the native thread pools (OpenMP, BLAS) of the fit: gradient boosting's
    OpenMP threads spin beside another busy process (a second study worker), and on ACSF1 a fit
    took 25–28 s on both cores beside one against 10–14 s on one thread (8.5 s alone)."""
    start = time.perf_counter()
    scored = [(stage, part) for stage, part in ((VAL, validation), (TEST, test)) if part is not None]
    metrics: dict[str, float] = {}
    scores_per_part = fit_and_score(name, params, train, [p for _, p in scored], seed, threads)
    for (stage, _), scores in zip(scored, scores_per_part, strict=True):
        metrics.update({metric_key(stage, k): v for k, v in scores.items()})
    return {"metrics": metrics, "wall_time_s": time.perf_counter() - start}


def fit_and_score(
    name: str, params: dict[str, Any], train: Dataset, parts: list[Dataset], seed: int, threads: int | None
) -> list[dict[str, float]]:
    """Fit one baseline configuration on ``train`` once, and score it on each of ``parts``: its
    metrics (unprefixed: ``bal_acc``, …) per part."""
    model = make_estimator(name, params, train.task, seed, train.n_samples)
    length = max(p.max_length for p in (train, *parts))
    n_outputs = DataSpec.from_dataset(train).n_outputs
    dtype = torch.float32 if train.task == "regression" else torch.int64
    scores = []
    with _thread_limit(threads), quiet_sklearn_parallel():  # one limit (threadpoolctl scans the libraries)
        model.fit(_inputs(name, train, length), train.y)
        for part in parts:
            predicted = np.asarray(model.predict(_inputs(name, part, length)))
            scores.append(
                compute_metrics(
                    train.task, n_outputs, torch.as_tensor(predicted, dtype=dtype), torch.from_numpy(np.array(part.y))
                )
            )
    return scores


def _thread_limit(threads: int | None) -> Any:
    if threads is None:
        return nullcontext()
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=threads)
