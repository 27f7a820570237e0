"""A live progress display for notebooks: pass it as ``echo`` to ``run_study`` or ``evaluate``.

The study reports one line per finished trial, ``[family] 3/5 trials · best … · ~12 s left``.
Printed, that is a growing log; in Jupyter, :class:`LiveProgress` keeps one block with the
latest line of each family and updates it in place. Outside IPython it prints.
"""

from __future__ import annotations

from typing import Any


class LiveProgress:
    """``echo`` for ``run_study(config, echo=LiveProgress())``: one block, a line per family.

    Lines that belong to no family (profiling, notes, skipped baselines) are kept above
    the family lines in the order they came.
    """

    def __init__(self) -> None:
        self.notes: list[str] = []
        self.families: dict[str, str] = {}  # family → its latest line, in first-seen order
        self._handle: Any = None
        self._ipython = _in_ipython()

    def __call__(self, line: str) -> None:
        family = _family_of(line)
        if family is None:
            self.notes.append(line)
        else:
            self.families[family] = line
        if not self._ipython:
            print(line, flush=True)
            return
        from IPython.display import Pretty, display

        if self._handle is None:
            self._handle = display(Pretty(self.text()), display_id=True)
        else:
            self._handle.update(Pretty(self.text()))

    def text(self) -> str:
        return "\n".join([*self.notes, *self.families.values()])


def _family_of(line: str) -> str | None:
    """``"[conv1d    ] 3/5 trials …"`` → ``"conv1d"``."""
    if line.startswith("[") and "]" in line:
        return line[1 : line.index("]")].strip() or None
    return None


def _in_ipython() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    return get_ipython() is not None
