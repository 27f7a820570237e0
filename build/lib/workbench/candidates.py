"""Every candidate a study compares, deep families and baselines, in one registry that the
config, the search spaces, the studies, the verdict and the CLI all read. Names and kinds
only: importing it loads no torch or scikit-learn."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Candidate:
    name: str
    deep: bool  # a Lightning model trained by epochs (pruned per epoch); else a scikit-learn/aeon baseline
    order_aware: bool  # reads the sequence's order (convolutions, MiniRocket) or not (MLP, flat-view baselines)
    own_kind_baselines: tuple[str, ...] = ()  # deep only: baselines of its kind, to tell undertrained from wrong

    @property
    def kind(self) -> str:
        return "order-aware" if self.order_aware else "order-invariant"


CANDIDATES: dict[str, Candidate] = {
    c.name: c
    for c in (
        Candidate("mlp", deep=True, order_aware=False, own_kind_baselines=("linear", "gbm")),
        Candidate("conv1d", deep=True, order_aware=True, own_kind_baselines=("minirocket",)),
        Candidate("hybrid", deep=True, order_aware=True, own_kind_baselines=("minirocket",)),
        Candidate("linear", deep=False, order_aware=False),
        Candidate("gbm", deep=False, order_aware=False),
        Candidate("minirocket", deep=False, order_aware=True),
    )
}
DEEP_FAMILIES = tuple(name for name, c in CANDIDATES.items() if c.deep)
BASELINES = tuple(name for name, c in CANDIDATES.items() if not c.deep)
ORDER_AWARE = tuple(name for name, c in CANDIDATES.items() if c.order_aware)
ORDER_INVARIANT = tuple(name for name, c in CANDIDATES.items() if not c.order_aware)
