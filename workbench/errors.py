"""The workbench's exceptions.

Every error a user can cause is a :class:`WorkbenchError`; its message says what
was received, what was expected, and the exact fix.
"""

from __future__ import annotations

import reprlib
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Literal


class WorkbenchError(Exception):
    """Base class of every error the workbench raises on purpose."""


class DataError(WorkbenchError, ValueError):
    """The data itself is unusable: NaN, empty, wrong labels, unreadable file, …"""


class LayoutError(DataError):
    """The array's shape does not fit the named layout, or contradicts it."""


class ShapeError(WorkbenchError, ValueError):
    """A module cannot process an input of this shape (raised by the shape doctor)."""


class ConfigError(WorkbenchError, ValueError):
    """A configuration value is unknown or out of range."""


class StudyError(WorkbenchError, RuntimeError):
    """A study cannot start or continue."""


class DataWarning(UserWarning):
    """Something about the data a user should know, that does not stop it from loading."""


def short_repr(value: Any, limit: int = 80) -> str:
    """``repr`` cut to ``limit`` characters: an error message stays one readable line whatever the input."""
    shortener = reprlib.Repr()
    shortener.maxlevel, shortener.maxstring, shortener.maxother = 2, limit, limit
    text = shortener.repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


Interface = Literal["python", "cli", "config"]
_interface: ContextVar[Interface | None] = ContextVar("workbench_interface", default=None)
# How each loading option is written: Python keyword → (command-line flag, config key).
OPTION_NAMES = {
    "impute": ("--impute", "impute"),
    "layout": ("--layout", "layout"),
    "target": ("--target", "target"),
    "window": ("--window", "window"),
    "step": ("--step", "step"),
    "time_col": ("--time-column", "time_column"),
    "group_col": ("--group-column", "group_column"),
    "task": ("--task", "task"),
    "check_layout": ("--no-check-layout", "check_layout"),
    "time_limit": ("--time", "time_limit"),
    "test": ("--test", "test_data"),
    "split_column": ("--split-column", "split_column"),
}
# Options whose command-line form is a flag alone (its presence sets the value shown).
FLAGS = {"check_layout"}


@contextmanager
def interface(name: Interface) -> Iterator[None]:
    """Errors raised inside give their fixes in the form of ``name``: a flag on the command
    line, a key in a config file, a keyword in Python (the default). The outermost caller
    decides (the CLI, before an experiment config it reads)."""
    token = _interface.set(name) if _interface.get() is None else None
    try:
        yield
    finally:
        if token is not None:
            _interface.reset(token)


def current_interface() -> Interface:
    return _interface.get() or "python"


def option(name: str, value: Any) -> str:
    """A loading option as the user writes it where they are: ``impute='ffill'`` in Python,
    ``--impute ffill`` on the command line, ``impute: ffill`` in a config."""
    flag, key = OPTION_NAMES[name]
    where = current_interface()
    if where == "cli":
        return flag if name in FLAGS else f"{flag} {value}"
    if where == "config":
        return f"{key}: {str(value).lower() if isinstance(value, bool) else value}"
    return f"{name}={value!r}"
